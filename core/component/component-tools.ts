/** What transpiling a component (jco) produces, as core needs it. */
export interface TranspiledComponent {
  /** Generated files by name: the glue `<name>.js`, `<name>.d.ts`, `interfaces/*.d.ts`, core `*.wasm`. */
  files: Record<string, Uint8Array>
  /** The component's exports as jco names them: a function, or an instance (an interface). */
  exports: [string, 'function' | 'instance'][]
}

/**
 * The component tooling a runtime adapter provides (jco-transpile, loaded on first use):
 * core stays free of the transpiler, which differs between Node and browsers.
 */
export interface ComponentTools {
  /** Transpiles with instantiation mode `async`: the glue exports `instantiate(getCoreModule, imports, instantiateCore)`. */
  transpile(bytes: Uint8Array, name: string): Promise<TranspiledComponent>
  /** The component's world as WIT text. */
  wit(bytes: Uint8Array): Promise<string>
  /** Component text (`(component ...)`) to binary. */
  parse(text: string): Promise<Uint8Array>
}
