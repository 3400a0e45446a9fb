import { isComponent, meter, WABT_FEATURES } from 'wasm-sandbox/core'

export interface ModuleInfoView {
  size: number
  component: boolean
  imports: string[]
  /** `name (params) -> (results)`; components list theirs once a sandbox exists. */
  exports: { name: string; signature: string; params: string[] }[]
}

/** What the meter learns while reading a core module (a component is described by its sandbox). */
export function describeModule(bytes: Uint8Array): ModuleInfoView {
  if (isComponent(bytes)) return { size: bytes.length, component: true, imports: [], exports: [] }
  const { info } = meter(bytes, { fuel: 'unlimited' })
  return {
    size: bytes.length,
    component: false,
    imports: info.imports.map((i) => `${i.module}.${i.name}: ${i.kind}${i.type ? ` (${i.type.params.join(', ')}) -> (${i.type.results.join(', ')})` : ''}`),
    exports: info.exports.filter((e) => e.kind === 'function').map((e) => ({ name: e.name, signature: `(${e.params.join(', ')}) -> (${e.results.join(', ')})`, params: e.params })),
  }
}


/** The text form of a binary: wabt for core modules, wasm-tools (jco) for components. */
export async function disassemble(bytes: Uint8Array): Promise<string> {
  if (isComponent(bytes)) {
    const { print } = await import('@bytecodealliance/jco-transpile/wasm-tools')
    return print(bytes)
  }
  const wabt = await (await import('wabt')).default()
  const module = wabt.readWasm(bytes, { readDebugNames: true, ...WABT_FEATURES })
  try {
    module.generateNames()
    module.applyNames()
    return module.toText({ foldExprs: false, inlineExport: true })
  } finally {
    module.destroy()
  }
}
