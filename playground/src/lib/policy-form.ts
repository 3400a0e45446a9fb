import { normalizeOptions, SandboxError } from 'wasm-sandbox/core'
import type { SandboxOptions } from 'wasm-sandbox'

/** The policy as the form holds it: text as typed, so the library's own checks judge it. */
export interface PolicyForm {
  preset: 'strict' | 'standard' | 'permissive'
  /** Empty: the preset's value. */
  fuel: string
  memory: string
  timeout: string
  stackDepth: string
  profile: boolean
  wasi: boolean
  /** Whitespace-separated. */
  args: string
  /** KEY=VALUE lines. */
  env: string
  stdin: string
  files: { path: string; content: string }[]
  readonly: boolean
  clock: boolean
  random: boolean
}

export const DEFAULT_POLICY: PolicyForm = {
  preset: 'strict', fuel: '', memory: '', timeout: '', stackDepth: '', profile: false,
  wasi: false, args: '', env: '', stdin: '', files: [], readonly: false, clock: false, random: false,
}

/** Where the virtual files are mounted. */
export const DATA_DIR = '/data'

const numeric = (text: string): number | string => (text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : text)

/** Form -> the options `Sandbox.create` takes (unchecked). */
export function toOptions(form: PolicyForm): SandboxOptions {
  const options: Record<string, unknown> = { policy: form.preset, profile: form.profile }
  if (form.fuel.trim()) options.fuel = form.fuel.trim() === 'unlimited' ? 'unlimited' : numeric(form.fuel)
  if (form.memory.trim()) options.memory = numeric(form.memory)
  if (form.timeout.trim()) options.timeout = numeric(form.timeout)
  if (form.stackDepth.trim()) options.stackDepth = numeric(form.stackDepth)
  if (form.wasi) {
    const env: Record<string, string> = {}
    for (const line of form.env.split('\n')) {
      const at = line.indexOf('=')
      if (at > 0) env[line.slice(0, at).trim()] = line.slice(at + 1)
    }
    options.wasi = {
      args: form.args.split(/\s+/).filter(Boolean),
      env,
      stdin: form.stdin,
      clock: form.clock,
      random: form.random,
      preopens: { [DATA_DIR]: { files: Object.fromEntries(form.files.filter((f) => f.path.trim()).map((f) => [f.path.trim(), f.content])), readonly: form.readonly } },
    }
  }
  return options as SandboxOptions
}

/** The library's verdict on the form: null, or the field it names and its message (with suggestion). */
export function validate(form: PolicyForm): { field: string; message: string } | null {
  try {
    normalizeOptions(toOptions(form))
    return null
  } catch (error) {
    if (!(error instanceof SandboxError)) throw error
    const field = error.field?.split(/[.[]/)[0] ?? 'policy'
    // The suggestion once: most messages already end with it ("…; use '64MB'").
    return { field, message: error.suggestion && !error.message.includes(error.suggestion) ? `${error.message} — ${error.suggestion}` : error.message }
  }
}
