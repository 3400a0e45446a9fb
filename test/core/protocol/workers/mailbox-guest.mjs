// The worker side of a mailbox: blocks in `waitForCommand` as a guest inside a host-function
// call does, and reports each command it got (and its operands) back by message.
import { parentPort, workerData } from 'node:worker_threads'
import { Mailbox } from '../../../../dist/core/protocol/mailbox.js'

const mailbox = new Mailbox(workerData.mailbox)
for (let i = 0; i < workerData.commands; i++) {
  parentPort.postMessage({ type: 'waiting' })
  const command = mailbox.waitForCommand()
  const reply = { type: 'command', command, a: mailbox.a, b: mailbox.b, value: mailbox.value(), data: mailbox.data.slice(0, Math.min(mailbox.b, mailbox.data.length)) }
  mailbox.done()
  parentPort.postMessage(reply)
}
