export { expectDenied, expectNoDenials, testPolicy } from './test-policy.js'
export type { ExpectedDenial, TestPolicyOptions } from './test-policy.js'
