export { WasiHost, PROGRAM_NAME } from './wasi-host.js'
export type { WasiPlatform } from './wasi-host.js'
