import type { SandboxError, Usage } from '../errors/index.js'

/** The shapes the sandbox's methods take and return. */

/** Whoever accounts for a sandbox's use, such as a tenant. @internal */
export interface SandboxOwner {
  /** Before a call: throws QUOTA_EXCEEDED, or returns the most fuel the call may use (or undefined). */
  admit(): bigint | undefined
  /** After a call, with its usage. */
  charge(usage: Usage): void
  /** The error for a call that ran out of the fuel `admit` allowed. */
  exhausted(): SandboxError
  /** Once, when the sandbox closes. */
  release(): void
}

/** One function in `profile()`. */
export interface ProfileEntry {
  name: string
  index: number
  calls: number
  fuel: bigint
}

/** What `reload` found, and whether it swapped the module. */
export interface ReloadReport {
  /** No export was removed or changed. */
  compatible: boolean
  applied: boolean
  removed: string[]
  /** Same name, another kind or signature. */
  changed: string[]
  added: string[]
}

/** What `runCommand` resolves with. */
export interface CommandOutput {
  exitCode: number
  /** stdout as UTF-8 text (malformed bytes become U+FFFD); `stdoutBytes` has the bytes. */
  stdout: string
  stderr: string
  stdoutBytes: Uint8Array
  stderrBytes: Uint8Array
  /**
   * The writable in-memory preopens as the run left them: `files['/out']['report.txt']`.
   * (Each run starts again from the files given in the options.)
   */
  files: Record<string, Record<string, Uint8Array>>
  usage: Usage
}

/** One call of `callBatch`. */
export interface BatchCall {
  fn: string
  args?: unknown[]
}

/** The outcome of one call of `callBatch`: nothing is lost when another call fails. */
export type BatchResult = { ok: true; value: any } | { ok: false; error: SandboxError }
