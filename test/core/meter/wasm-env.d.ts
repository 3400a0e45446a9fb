/**
 * What the DOM typings of the WebAssembly JS API lack for these tests: exception handling
 * (Tag, Exception) and byte arguments typed as `Uint8Array<ArrayBufferLike>` (what `meter()`
 * returns), which the engine accepts.
 */
declare namespace WebAssembly {
  class Tag {
    constructor(type: { parameters: string[] })
  }
  class Exception {
    constructor(tag: Tag, payload: unknown[])
    is(tag: Tag): boolean
    getArg(tag: Tag, index: number): unknown
  }
  function validate(bytes: Uint8Array<ArrayBufferLike>): boolean
  function instantiate(bytes: Uint8Array<ArrayBufferLike>, importObject?: object): Promise<WebAssemblyInstantiatedSource>
}
