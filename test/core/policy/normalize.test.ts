import { describe, expect, it } from 'vitest'
import { normalizeOptions, parseBytes, parseDuration, PRESETS, SandboxError } from 'wasm-sandbox/core'

function configError(fn: () => unknown): SandboxError {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(SandboxError)
    expect((error as SandboxError).code).toBe('CONFIG')
    return error as SandboxError
  }
  throw new Error('expected a CONFIG error')
}

describe('units', () => {
  it.each([
    ['64MB', 64 * 2 ** 20], ['512KiB', 512 * 1024], ['1GB', 2 ** 30], ['1GiB', 2 ** 30], ['100B', 100],
    ['1.5MB', 1.5 * 2 ** 20], [4096, 4096],
  ])('parses size %s', (input, bytes) => {
    expect(parseBytes(input, 'memory')).toBe(bytes)
  })

  it.each([
    ['64 mb', "use '64MB'"], ['64mb', "use '64MB'"], ['2 gib', "use '2GiB'"], ['lots', "use a size like '64MB', '512KiB' or '1GB'"],
  ])('rejects size %s with a suggestion', (input, suggestion) => {
    const error = configError(() => parseBytes(input, 'memory'))
    expect(error.field).toBe('memory')
    expect(error.suggestion).toBe(suggestion)
    expect(error.message).toContain(suggestion)
  })

  it.each([['30s', 30_000], ['250ms', 250], ['2m', 120_000], ['1h', 3_600_000], [15, 15]])('parses duration %s', (input, ms) => {
    expect(parseDuration(input, 'timeout')).toBe(ms)
  })

  it.each([['30 sec', "use '30s'"], ['10 seconds', "use '10s'"], ['5 MS', "use '5ms'"], [-1, "use e.g. 250 or '250ms'"]])('rejects duration %s', (input, suggestion) => {
    expect(configError(() => parseDuration(input, 'timeout')).suggestion).toBe(suggestion)
  })
})

describe('normalizeOptions', () => {
  it('defaults to the strict preset', () => {
    const policy = normalizeOptions()
    expect(policy.preset).toBe('strict')
    expect(policy.fuel).toBe(PRESETS.strict.fuel)
    expect(policy.memoryBytes).toBe(PRESETS.strict.memoryBytes)
    expect(policy.timeoutMs).toBe(PRESETS.strict.timeoutMs)
    expect(policy.wasi).toBeNull()
    expect(policy.networkAllow).toEqual([])
  })

  it('lets explicit fields override the preset', () => {
    const policy = normalizeOptions({ policy: 'permissive', fuel: 1e6, memory: '16MB', timeout: '1s', stackDepth: 50 })
    expect(policy).toMatchObject({ preset: 'permissive', fuel: 1_000_000n, memoryBytes: 16 * 2 ** 20, timeoutMs: 1000, stackDepth: 50 })
    expect(normalizeOptions({ policy: 'permissive' }).fuel).toBeNull()
    expect(normalizeOptions({ fuel: 'unlimited' }).fuel).toBeNull()
    expect(normalizeOptions({ fuel: 10n }).fuel).toBe(10n)
  })

  it('names the field and suggests a fix', () => {
    expect(configError(() => normalizeOptions({ memory: '64 mb' })).message).toBe("memory: cannot read \"64 mb\" as a size; use '64MB'")
    expect(configError(() => normalizeOptions({ fule: 10 } as never)).suggestion).toBe("did you mean 'fuel'?")
    expect(configError(() => normalizeOptions({ policy: 'lax' as never })).field).toBe('policy')
    expect(configError(() => normalizeOptions({ fuel: -1 })).field).toBe('fuel')
    expect(configError(() => normalizeOptions({ fuel: '1000' as never })).suggestion).toBe('use the number 1000')
    expect(configError(() => normalizeOptions({ stackDepth: 0 })).field).toBe('stackDepth')
    expect(configError(() => normalizeOptions({ memory: 100 })).field).toBe('memory')
    expect(configError(() => normalizeOptions({ imports: { env: { f: 1 as never } } })).field).toBe('imports.env.f')
    expect(configError(() => normalizeOptions({ wasi: { argv: [] } as never })).suggestion).toBe("did you mean 'wasi.args'?")
    expect(configError(() => normalizeOptions({ network: { allow: ['example.com'] } })).field).toBe('network')
  })
})
