export { isComponent } from './component-binary.js'
export type { ComponentTools, TranspiledComponent } from './component-tools.js'
export { HTTP_HANDLER, type ComponentEngine } from './component-guest.js'
export type { Preview2Shim } from './preview2-shim.js'
