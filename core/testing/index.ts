export { expectDenied, expectNoDenials, mockNetwork, testPolicy } from './test-policy.js'
export type { ExpectedDenial, MockNetwork, MockRequest, MockResponse, MockRoutes, TestPolicyOptions } from './test-policy.js'
