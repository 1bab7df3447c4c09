/** A Socket.IO client stand-in for unit tests of the socket layer. */
import type { JobAck } from '../src/app/protocol';

/** A socket that records what the page sends and lets the test play the server's events. */
export class FakeSocket {
  handlers = new Map<string, (...args: unknown[]) => void>();
  sent: Array<{ event: string; args: unknown[] }> = [];
  on(event: string, handler: (...args: unknown[]) => void) {
    this.handlers.set(event, handler);
    return this;
  }
  connect() {
    return this;
  }
  emit(event: string, ...args: unknown[]) {
    this.sent.push({ event, args });
    return this;
  }
  serve(event: string, payload?: unknown) {
    this.handlers.get(event)?.(payload);
  }
  /** The last request's arguments as they go over the wire (the ack callback travels as the packet's id). */
  wireArgs() {
    const { event, args } = this.sent[this.sent.length - 1];
    return { event, args: args.slice(0, -1) };
  }
  /** Calls the acknowledgement callback of the last request sent. */
  ack(answer?: JobAck) {
    const args = this.sent[this.sent.length - 1].args;
    (args[args.length - 1] as (a?: JobAck) => void)(answer);
  }
}
