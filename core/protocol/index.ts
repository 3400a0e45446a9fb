export { PROTOCOL_VERSION } from './messages.js'
export type { CallReport, Endpoint, GuestSettings, HostMessage, WorkerMessage } from './messages.js'
