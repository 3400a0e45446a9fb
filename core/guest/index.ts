export { classifyError } from './classify-error.js'
export { serveGuest } from './guest-runner.js'
export type { GuestEngine } from './guest-runner.js'
