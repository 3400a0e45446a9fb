// The bundled example behind `npm start`: call a module, hit a fuel limit, print usage.
import { Sandbox, SandboxError } from 'wasm-sandbox'

const wat = `(module
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
  (func (export "spin") (loop $forever (br $forever))))`

const sandbox = await Sandbox.create(wat, { fuel: 5_000_000, memory: '16MB', timeout: '2s' })
console.log('fib(20) =', await sandbox.call('fib', 20))
console.log('  fuel used:', sandbox.lastUsage.fuelUsed, 'instructions')

try {
  await sandbox.call('spin')
} catch (error) {
  if (!(error instanceof SandboxError)) throw error
  console.log(`spin() -> ${error.code}: ${error.message}`)
  console.log(`  limit ${error.limit}, used ${error.used}`)
}

console.log('fib(25) after the trap =', await sandbox.call('fib', 25), '(the sandbox keeps serving)')
console.log('cumulative usage:', sandbox.usage())
await sandbox.close()
