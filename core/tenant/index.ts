export { Tenant } from './tenant.js'
export type { TenantQuota, TenantUsage } from './tenant.js'
