export { classifyError } from './classify-error.js'
export { serveGuest } from './serve-guest.js'
export { GuestInstance } from './guest-instance.js'
export type { GuestEngine, GuestHost, GuestHostFactory, Outcome } from './guest-instance.js'
