// A guest in a Web Worker: a call, a runaway loop stopped by fuel, and usage.
import { Sandbox, SandboxError } from 'wasm-sandbox'

const log = (line: string) => { document.getElementById('log')!.textContent += line + '\n' }

const wat = `(module
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
  (func (export "spin") (loop $forever (br $forever))))`

const sandbox = await Sandbox.create(wat, { fuel: 5_000_000, memory: '16MB', timeout: '2s' })
log(`fib(20) = ${await sandbox.call('fib', 20)} using ${sandbox.lastUsage!.fuelUsed} fuel`)
try {
  await sandbox.call('spin')
} catch (error) {
  if (!(error instanceof SandboxError)) throw error
  log(`spin() -> ${error.code} (limit ${error.limit}, used ${error.used})`)
}
log(`fib(25) = ${await sandbox.call('fib', 25)} after the trap`)
log(`cross-origin isolated: ${globalThis.crossOriginIsolated}`)
await sandbox.close()
log('done')
