export { createTenant, Sandbox, SandboxPool, run } from './sandbox.js'
export * from '../core/public-api.js'
