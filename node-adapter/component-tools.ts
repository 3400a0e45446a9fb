import v8 from 'node:v8'
import type { ComponentTools } from '../core/index.js'

// Components built by current toolchains use extended constant expressions, shipped in V8
// 11.4; Node 20 has them behind a flag. Flags are per process, so workers see it too.
if (Number(process.versions.node.split('.')[0]) < 22) v8.setFlagsFromString('--experimental-wasm-extended-const')

let tools: Promise<ComponentTools> | null = null

/** jco-transpile in Node, loaded on the first component (it is large). */
export function nodeComponentTools(): Promise<ComponentTools> {
  tools ??= (async () => {
    const [{ transpileBytes }, wasmTools] = await Promise.all([import('@bytecodealliance/jco-transpile'), import('@bytecodealliance/jco-transpile/wasm-tools')])
    return {
      async transpile(bytes, name) {
        const { files, exports } = await transpileBytes(bytes, { name, instantiation: 'async' })
        return { files, exports }
      },
      wit: (bytes) => wasmTools.componentWit(bytes),
      parse: (text) => wasmTools.parse(text),
    }
  })()
  return tools
}
