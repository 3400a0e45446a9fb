import type { SecurityEvent } from '../audit/security-event.js'
import { AuditCollector } from '../audit/audit-collector.js'
import { SandboxError } from '../errors/index.js'
import { encodeUtf8 } from '../text/index.js'
import { OutputCapture } from '../wasi/output-capture.js'
import { PROGRAM_NAME } from '../wasi/wasi-host.js'
import type { CommandOptions, WasiSettings } from '../protocol/wasi-settings.js'
import { interfaceGrant, unversioned } from './component-policy.js'
import type { FileTree, FilesystemAdapter, Namespace, Preview2Shim } from './preview2-shim.js'
import { matchesAllowList } from './network-allow.js'
import { wasiHttp, type HttpExchange } from './wasi-http.js'
import { type FetchRequest, type FetchResult } from '../protocol/fetch.js'
import { SyncIo } from './sync-io.js'

/** Thrown by `wasi:cli/exit`; the exit code is on the {@link ComponentWasi}. */
export class ComponentExit extends Error {
  constructor(readonly code: number) {
    super(`the component exited with code ${code}`)
  }
}

/** Descriptor methods that change the file system. */
const MUTATING = new Set(['writeViaStream', 'appendViaStream', 'setSize', 'setTimes', 'write', 'createDirectoryAt', 'setTimesAt', 'removeDirectoryAt', 'renameAt', 'unlinkFileAt'])

/**
 * WASI 0.2 for one component instance, under the same policy as preview1 (`WasiHost`):
 * argv and env only as given (never the host's), stdin from the options, stdout/stderr
 * captured, in-memory preopens with read-only mounts and no links enforced here, clocks
 * and randomness only when granted, outgoing HTTP only to `network.allow`. Every denial is
 * an error code for the guest and a {@link SecurityEvent}. Interfaces the policy does not
 * grant are not in {@link imports} at all: the sandbox refuses such components at create.
 */
export class ComponentWasi {
  readonly stdout = new OutputCapture()
  readonly stderr = new OutputCapture()
  /** Set by `wasi:cli/exit`. */
  exitCode: number | null = null
  readonly imports: Record<string, Namespace> = {}
  /** Runs an exported `wasi:http/incoming-handler` on a plain request (set when WASI is granted). */
  serveHttp: ((handle: (request: unknown, out: unknown) => void, request: HttpExchange) => { status: number; headers: [string, string][]; body: Uint8Array }) | null = null
  private readonly events = new AuditCollector()
  private readonly writableTrees = new Map<string, FileTree>()

  constructor(settings: WasiSettings | null, networkAllow: string[], command: CommandOptions | null, shim: Preview2Shim, interfaces: string[], fetchSync: (request: FetchRequest) => FetchResult) {
    const wanted = new Set(interfaces.map(unversioned))
    const provide = (name: string, namespace: Namespace | undefined) => {
      if (wanted.has(name) && namespace) this.imports[name] = namespace
    }
    if (!settings) return // nothing is granted (a component without WASI imports)
    const stdin = command?.stdin === undefined ? settings.stdin : typeof command.stdin === 'string' ? encodeUtf8(command.stdin) : command.stdin
    let stdinAt = 0
    const capture = (out: OutputCapture) => ({ write: (bytes: Uint8Array) => void out.fd_write(bytes), blockingFlush() {}, flush() {} })
    const cli = shim.cli.createCli({
      environment: { ...settings.env, ...command?.env },
      arguments: [command?.argv0 ?? PROGRAM_NAME, ...(command?.args ?? settings.args)],
      initialCwd: '/',
      stdin: {
        blockingRead: (len: bigint) => {
          if (stdinAt >= stdin.length) throw { tag: 'closed' }
          const chunk = stdin.slice(stdinAt, stdinAt + Math.min(Number(len), 65536))
          stdinAt += chunk.length
          return chunk
        },
        subscribe: () => shim.io.pollableCreate(),
      },
      stdout: capture(this.stdout),
      stderr: capture(this.stderr),
    })
    const exit = (code: number) => {
      this.exitCode = code
      throw new ComponentExit(code)
    }
    for (const [name, namespace] of Object.entries(cli)) {
      provide(`wasi:cli/${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, namespace)
    }
    provide('wasi:cli/exit', { exit: (status: { tag: string }) => exit(status.tag === 'err' ? 1 : 0), exitWithCode: (code: number) => exit(code) })
    const io = new SyncIo(shim)
    provide('wasi:io/error', shim.io.error)
    provide('wasi:io/poll', io.pollNamespace())
    provide('wasi:io/streams', shim.io.streams)

    const preopens: Record<string, { tree: FileTree; readonly: boolean }> = {}
    for (const preopen of settings.preopens) {
      const tree = fileTree(preopen.files)
      if (!preopen.readonly) this.writableTrees.set(preopen.guestPath, tree)
      preopens[preopen.guestPath] = { tree, readonly: preopen.readonly }
    }
    const filesystem = shim.filesystem.createFilesystem({ adapter: this.policyAdapter(new shim.filesystem.InMemoryFilesystemAdapter()), preopens })
    provide('wasi:filesystem/types', filesystem.types)
    provide('wasi:filesystem/preopens', filesystem.preopens)

    // Clocks and randomness link with `wasi`; without `wasi.clock`/`wasi.random` every use is
    // denied (their WIT functions cannot return an error, so the call fails with SECURITY_VIOLATION).
    const gate = (capability: string, granted: boolean, iface: string, namespace: Namespace) => provide(iface, granted ? namespace : this.denying(capability, iface, namespace))
    gate('clock', settings.clock, 'wasi:clocks/monotonic-clock', io.monotonicClock(shim.clocks.monotonicClock))
    gate('clock', settings.clock, 'wasi:clocks/wall-clock', shim.clocks.wallClock)
    gate('random', settings.random, 'wasi:random/random', shim.random.random)
    gate('random', settings.random, 'wasi:random/insecure', shim.random.insecure)
    gate('random', settings.random, 'wasi:random/insecure-seed', shim.random.insecureSeed)
    for (const name of wanted) {
      if (!name.startsWith('wasi:sockets/')) continue
      const key = name.slice('wasi:sockets/'.length).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())
      provide(name, shim.sockets[key]) // the browser shim's sockets: every operation is `not-supported`
    }
    const http = wasiHttp(shim, io, fetchSync)
    this.serveHttp = http.serve
    provide('wasi:http/types', http.types)
    const outgoing = http.outgoingHandler as { handle(request: any, options: unknown): unknown }
    provide('wasi:http/outgoing-handler', {
      handle: (request: { authority(): string | undefined; scheme(): { tag: string } | undefined }, options: unknown) => {
        const scheme = request.scheme()?.tag === 'HTTPS' ? 'https' : 'http'
        const authority = request.authority() ?? ''
        if (!matchesAllowList(authority, scheme, networkAllow)) {
          this.deny('network', 'wasi:http/outgoing-handler.handle', `${authority} is not in network.allow`)
          throw { tag: 'HTTP-request-denied' }
        }
        return outgoing.handle(request, options)
      },
    })
    for (const name of wanted) if (interfaceGrant(name) !== null && !(name in this.imports)) throw new TypeError(`the WASI shim does not provide ${name}`)
  }

  /** Security events since the last call. */
  takeEvents(): SecurityEvent[] {
    return this.events.take()
  }

  /** The files of every writable preopen now, by guest path and relative path. */
  files(): Record<string, Record<string, Uint8Array>> {
    const out: Record<string, Record<string, Uint8Array>> = {}
    const walk = (tree: FileTree, prefix: string, into: Record<string, Uint8Array>) => {
      for (const [name, entry] of Object.entries(tree.dir)) {
        if ('dir' in entry) walk(entry, `${prefix}${name}/`, into)
        else if ('source' in entry) into[prefix + name] = typeof entry.source === 'string' ? encodeUtf8(entry.source) : entry.source.slice()
      }
    }
    for (const [guestPath, tree] of this.writableTrees) walk(tree, '', (out[guestPath] = {}))
    return out
  }

  /** `namespace` with every function replaced by a denial. */
  private denying(capability: string, iface: string, namespace: Namespace): Namespace {
    const option = capability === 'clock' ? 'wasi.clock' : 'wasi.random'
    return Object.fromEntries(Object.keys(namespace).map((name) => [name, () => {
      const detail = `${capability === 'clock' ? 'clocks are' : 'randomness is'} not granted (${option})`
      this.deny(capability, `${iface}#${name}`, detail)
      throw new SandboxError('SECURITY_VIOLATION', `the component called ${iface}#${name}: ${detail}`, { capability, suggestion: `grant it with \`${option}: true\`` })
    }]))
  }

  private deny(capability: string, operation: string, detail: string, path?: string): void {
    this.events.record(capability, operation, detail, path) // bounded per call; repeats folded
  }

  /**
   * The shim's in-memory file system behind the policy: read-only preopens refuse every
   * change (`read-only`), links are refused everywhere (`not-permitted`) and so are renames
   * from one preopen to another (`cross-device`), as in preview1.
   * The shim confines paths to the preopen itself (`..` above it is `not-permitted`).
   */
  private policyAdapter(inner: FilesystemAdapter): FilesystemAdapter {
    const innerOf = new WeakMap<object, object>()
    const mountOf = new WeakMap<object, object>()
    const unwrap = (value: unknown) => (typeof value === 'object' && value !== null && innerOf.get(value)) || value
    const guard = (descriptor: object, mount: { readonly: boolean }): object => {
      const readonly = mount.readonly
      const wrapped = new Proxy(descriptor, {
        get: (target, prop) => {
          const value = Reflect.get(target, prop, target) as unknown
          if (typeof value !== 'function' || typeof prop !== 'string') return value
          return (...args: unknown[]) => {
            const path = args.find((a): a is string => typeof a === 'string')
            if (prop === 'symlinkAt' || prop === 'linkAt') {
              this.deny('filesystem', prop, 'links are not allowed', path)
              throw 'not-permitted'
            }
            if (prop === 'renameAt' && mountOf.get(args[1] as object) !== mount) {
              this.deny('filesystem', prop, 'renames across preopens are not allowed', path)
              throw 'cross-device'
            }
            const opensForWriting = prop === 'openAt' && writes(args[2], args[3])
            if (readonly && (MUTATING.has(prop) || opensForWriting)) {
              this.deny('filesystem', prop, 'the mount is read-only', path)
              throw 'read-only'
            }
            const result = (value as (...a: unknown[]) => unknown).apply(target, args.map(unwrap))
            return prop === 'openAt' ? guard(result as object, mount) : result
          }
        },
      })
      innerOf.set(wrapped, descriptor)
      mountOf.set(wrapped, mount)
      return wrapped
    }
    return {
      getRoot: (capability) => {
        const { tree, readonly } = capability as { tree: FileTree; readonly: boolean }
        return guard(inner.getRoot(tree), { readonly })
      },
    }
  }
}

function writes(openFlags: unknown, flags: unknown): boolean {
  const o = (openFlags ?? {}) as Record<string, boolean>
  const f = (flags ?? {}) as Record<string, boolean>
  return !!(o.create || o.truncate || f.write || f.mutateDirectory)
}

/** `{ 'a/b.txt': bytes }` -> the shim's nested tree. */
function fileTree(files: Record<string, Uint8Array>): FileTree {
  const root: FileTree = { dir: {} }
  for (const [path, data] of Object.entries(files)) {
    const parts = path.split('/').filter((p) => p !== '' && p !== '.')
    let dir = root
    for (const part of parts.slice(0, -1)) dir = (dir.dir[part] ??= { dir: {} }) as FileTree
    dir.dir[parts[parts.length - 1]!] = { source: data.slice() }
  }
  return root
}
