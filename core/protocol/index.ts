export { PROTOCOL_VERSION } from './messages.js'
export type { CallReport, CallRequest, Endpoint, GuestSettings, HostImport, HostMessage, WorkerMessage } from './messages.js'
export { Command, Mailbox, MAILBOX_DATA_BYTES } from './mailbox.js'
