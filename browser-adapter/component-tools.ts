import type { ComponentTools } from '../core/index.js'

let tools: Promise<ComponentTools> | null = null

/** jco-transpile's browser entry points (`generate` from `/component`), loaded on the first component. */
export function browserComponentTools(): Promise<ComponentTools> {
  tools ??= (async () => {
    const [bindgen, wasmTools] = await Promise.all([import('@bytecodealliance/jco-transpile/component'), import('@bytecodealliance/jco-transpile/wasm-tools')])
    await bindgen.$init
    return {
      async transpile(bytes, name) {
        // The options transpileBytes uses in Node, so both runtimes run the same glue.
        const { files, exports } = bindgen.generate(bytes, {
          name, instantiation: { tag: 'async' }, noComponentErrorWrapping: true, validLiftingOptimization: false, base64Cutoff: 5000, map: [],
        })
        return { files: Object.fromEntries(files), exports }
      },
      wit: (bytes) => wasmTools.componentWit(bytes),
      parse: (text) => wasmTools.parse(text),
    }
  })()
  return tools
}
