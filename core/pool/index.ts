export { SandboxPoolBase } from './sandbox-pool.js'
export type { PoolOptions, PoolStats } from './sandbox-pool.js'
