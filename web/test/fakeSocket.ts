/** A Socket.IO client stand-in for unit tests of the socket layer. */
import type { JobAck } from '../src/app/protocol';
import { createStore } from '../src/app/store';

type AckCallback = (answer?: unknown) => void;

/** A socket that records what the page sends and lets the test play the server's events and acknowledgements. */
export class FakeSocket {
  handlers = new Map<string, (...args: unknown[]) => void>();
  sent: Array<{ event: string; args: unknown[] }> = [];
  private unacked: AckCallback[] = [];
  on(event: string, handler: (...args: unknown[]) => void) {
    this.handlers.set(event, handler);
    return this;
  }
  connect() {
    return this;
  }
  emit(event: string, ...args: unknown[]) {
    this.sent.push({ event, args });
    const last = args[args.length - 1];
    if (typeof last === 'function') this.unacked.push(last as AckCallback);
    return this;
  }
  serve(event: string, payload?: unknown) {
    this.handlers.get(event)?.(payload);
  }
  /** The last request's arguments as they go over the wire (the ack callback travels as the packet's id). */
  wireArgs() {
    const { event, args } = this.sent[this.sent.length - 1];
    return { event, args: args.filter((a) => typeof a !== 'function') };
  }
  /** What was sent, without the acknowledgement callbacks. */
  wire() {
    return this.sent.map(({ event, args }) => ({ event, args: args.filter((a) => typeof a !== 'function') }));
  }
  /** Acknowledges the oldest request still waiting, as the server does once its handler returns. */
  ack(answer?: JobAck | unknown) {
    this.unacked.shift()?.(answer);
  }
  /** Acknowledges every request still waiting (with nothing: handlers that return no value). */
  ackAll() {
    while (this.unacked.length) this.ack();
  }
}

/** Lets the promises of acknowledged requests and the thunks awaiting them run. */
export const flush = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** The app's store on a fake socket, connected, with its connect-time requests answered. */
export function connectedStore() {
  const socket = new FakeSocket();
  const store = createStore(socket, null);
  socket.serve('connect');
  socket.ackAll();
  socket.sent = [];
  return { socket, store };
}
