import { SandboxError } from '../errors/index.js'
import { clip } from '../text/index.js'
import type { ModuleInfo } from '../meter/module-types.js'
import type { NormalizedPolicy } from '../policy/options.js'
import { WASI } from '@bjorn3/browser_wasi_shim'
import { checkComponentImports } from '../component/component-policy.js'

export const WASI_MODULE = 'wasi_snapshot_preview1'
/** Every preview1 function (the shim implements them all; the policy layer gates them). */
const WASI_FUNCTIONS = new Set(Object.keys(new WASI([], [], [], { debug: false }).wasiImport))

/** Imports only Emscripten's JavaScript glue provides (`env.emscripten_resize_heap`, `env.invoke_vi`...). */
const EMSCRIPTEN_IMPORT = /^(_?emscripten_|invoke_[vijfd]+$|__syscall_|_embind_|_abort_js$|__cxa_throw$|_tzset_js$|_mmap_js$|_munmap_js$)/

/** The first five of `total` names, and how many more there are. */
function listed(names: string[], total: number): string {
  return total > 5 ? `${names.slice(0, 5).join(', ')} and ${total - 5} more` : names.join(', ')
}

/**
 * Every import must be granted by the policy before any guest code runs. Host functions
 * are served from `imports`; nothing else (memories, tables, globals) can be granted.
 * @throws SandboxError LINK_ERROR naming every import that is not granted.
 */
export function checkImports(info: ModuleInfo, policy: NormalizedPolicy): void {
  if (info.interfaces) return checkComponentImports(info.interfaces, policy)
  const granted = (i: ModuleInfo['imports'][number]) => i.kind === 'function' && (
    typeof policy.imports[i.module]?.[i.name] === 'function' || (policy.wasi !== null && i.module === WASI_MODULE && WASI_FUNCTIONS.has(i.name)))
  const denied = info.imports.filter((i) => !granted(i))
  const multi = info.imports.find((i) => i.kind === 'function' && (i.type?.results.length ?? 0) > 1 && !denied.includes(i))
  if (multi) {
    throw new SandboxError('LINK_ERROR', `host function ${multi.module}.${multi.name} is imported with ${multi.type!.results.length} results; host functions return at most one value`, {
      imports: [`${multi.module}.${multi.name}`], suggestion: 'return several values through guest memory (ctx.write) instead',
    })
  }
  if (denied.length === 0) return
  // Names are the module's: bounded like any guest text (at most 32 of them, each shortened).
  const shown = denied.slice(0, 32).map((i) => ({ ...i, module: clip(i.module, 64), name: clip(i.name, 64) }))
  const more = denied.length > shown.length ? ` and ${denied.length - shown.length} more` : ''
  const names = shown.map((i) => `${i.module}.${i.name}`)
  if (denied.some((i) => i.module === 'env' && EMSCRIPTEN_IMPORT.test(i.name))) {
    throw new SandboxError('LINK_ERROR', `the module was built by Emscripten for its JavaScript glue (the .js file emcc writes next to it), which a sandbox does not run: it imports ${listed(names, denied.length)}`, {
      imports: names,
      suggestion: 'build a standalone module instead: a WASI program (emcc -sSTANDALONE_WASM, or wasi-sdk: clang --target=wasm32-wasip1) run with `wasi: true` / `wasm-sandbox run`, or provide those imports as host functions',
    })
  }
  throw new SandboxError('LINK_ERROR', `the module imports what the policy does not grant: ${shown.map((i) => `${i.kind} ${i.module}.${i.name}`).join(', ')}${more}`, {
    imports: names,
    suggestion: denied.some((i) => i.module === WASI_MODULE) && policy.wasi === null
      ? 'the module is a WASI program: grant WASI with `wasi: true` or `wasi: { ... }`'
      : denied.every((i) => i.kind === 'function')
      ? `grant them as host functions: imports: { ${JSON.stringify(shown[0]!.module)}: { ${JSON.stringify(shown[0]!.name)}: (...args) => ... } }`
      : 'only functions can be granted; the module must define its own memories, tables and globals',
  })
}
