// Type test of the public API (compiled by `npm run check`, never run): the names and shapes
// of ../shared/API.md as a TypeScript user sees them.
import { run, Sandbox, SandboxError, SandboxPool, type BatchResult, type CommandOutput, type HostContext, type SecurityEvent, type Usage } from 'wasm-sandbox'
import { meter, type FuelControl, type MeterResult } from 'wasm-sandbox/core'

declare const bytes: Uint8Array

async function api(): Promise<void> {
  const eight: number = await run('(module)', 'add', [5, 3], { fuel: 1e6, memory: '16MB', timeout: '1s' })
  const sb: Sandbox = await Sandbox.create(bytes, {
    policy: 'strict', fuel: 'unlimited', memory: 65536, timeout: 250, stackDepth: 100, tableElements: 10, maxReplyBytes: '4MB',
    imports: { env: { add: (a: number, b: number) => a + b, log: async (ptr: number, len: number, ctx: HostContext) => { await ctx.readString(ptr, len) } } },
    wasi: { args: ['a'], env: { K: 'v' }, stdin: 'in', preopens: { '/data': { files: { 'a.txt': 'x' }, readonly: true } }, clock: true, random: false },
    network: { allow: ['example.com:443'] }, profile: false,
  })
  await sb.call('add', 5, 3)
  await sb.call('add64', 1n, 2n, { signal: new AbortController().signal, timeout: '1s' })
  const reply: Uint8Array = await sb.callBytes('fn', bytes)
  await sb.callBytes('fn', 'a string, sent as UTF-8')
  await sb.callJson('fn', { any: 'value' })
  const batch: BatchResult[] = await sb.callBatch([{ fn: 'add', args: [1, 2] }, { fn: 'boom' }])
  for (const result of batch) if (!result.ok) { const code: string = result.error.code; void code }
  for await (const value of sb.stream('add', [[1, 2]])) void value
  const out: CommandOutput = await sb.runCommand({ args: ['x'], stdin: 'y', argv0: 'prog' })
  const exitCode: number = out.exitCode
  const exports: { name: string; kind: string; params: string[]; results: string[] }[] = sb.exports()
  const usage: Usage = sb.usage()
  const fuelUsed: bigint = usage.fuelUsed
  const fuelLimit: bigint | null = usage.fuelLimit
  const last: Usage | null = sb.lastUsage
  const audit: SecurityEvent[] = sb.audit()
  const closed: boolean = sb.isClosed
  await sb.close()
  {
    await using disposed = await Sandbox.create(bytes)
    await using pool = await SandboxPool.create(bytes, { min: 1 })
    void [disposed, pool, closed]
  }
  void [eight, reply, exitCode, exports, fuelUsed, fuelLimit, last, audit]

  try { await sb.call('x') } catch (error) {
    if (error instanceof SandboxError) {
      const code: 'INVALID_MODULE' | 'LINK_ERROR' | 'CONFIG' | 'NO_SUCH_EXPORT' | 'FUEL_EXHAUSTED' | 'TIMEOUT' | 'MEMORY_LIMIT' | 'STACK_OVERFLOW' | 'TRAP' |
        'SECURITY_VIOLATION' | 'HOST_ERROR' | 'CANCELLED' | 'OVERLOADED' | 'QUOTA_EXCEEDED' | 'CLOSED' | 'OUTPUT_LIMIT' | 'INTERNAL' = error.code
      const limit: number | bigint | undefined = error.limit
      const failedUsage: Usage | undefined = error.usage
      void [code, limit, failedUsage]
    }
  }

  const metered: MeterResult = meter(bytes, { fuel: 1000, stackDepth: 10, memory: 1_048_576, tableElements: 10 })
  const instance = await WebAssembly.instantiate(metered.bytes as Uint8Array<ArrayBuffer>, metered.imports as WebAssembly.Imports)
  const fuel: FuelControl = metered.fuel(instance.instance)
  fuel.set(10n)
  const used: bigint = fuel.used()
  const exhausted: boolean = fuel.exhausted()
  void [used, exhausted]
}
void api

// @ts-expect-error: fuel is a number, a bigint or 'unlimited'
void Sandbox.create(bytes, { fuel: 'lots' })
// @ts-expect-error: unknown preset
void Sandbox.create(bytes, { policy: 'lax' })
