import { bindPlatform, type SandboxBase, type SandboxPoolBase } from '../core/index.js'
import { browserPlatform } from './platform.js'

export const { Sandbox, SandboxPool, run, createTenant } = bindPlatform(browserPlatform)
export type Sandbox = SandboxBase
export type SandboxPool = SandboxPoolBase<SandboxBase>
