export { PROTOCOL_VERSION } from './messages.js'
export type { CallReport, CallRequest, CommandResult, Endpoint, GuestSettings, HostImport, HostMessage, WorkerMessage } from './messages.js'
export { Command, Mailbox, MAILBOX_DATA_BYTES } from './mailbox.js'
export { CallChannel, channelSupported, Done, MAX_CHANNEL_VALUES } from './call-channel.js'
