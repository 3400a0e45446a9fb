export { Sandbox, run } from './sandbox.js'
export * from '../core/public-api.js'
