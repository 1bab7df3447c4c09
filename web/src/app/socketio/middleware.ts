/** Redux middleware that owns the Socket.IO connection: plain request actions go out, server events come in. */
import type { Dispatch, Middleware } from '@reduxjs/toolkit';
import { io, type Socket } from 'socket.io-client';
import { cancelProcessing, deleteImage, requestModelChange, resumeQueue, serverEventReceived } from './actions';
import { makeEmitters, type Emitters } from './emitters';
import { makeListeners } from './listeners';

/** Same origin, default path; reconnects by itself, retrying at least every two seconds. The handshake's
 * `auth` carries this browser's client id, so that its jobs take turns with other clients' in the queue. */
export function createSocket(clientId?: string): Socket {
  return io({ autoConnect: false, reconnectionDelay: 500, reconnectionDelayMax: 2000, auth: clientId ? { clientId } : {} });
}

/** The part of a Socket.IO client the socket layer uses. */
export interface ListeningSocket {
  emit(event: string, ...args: unknown[]): unknown;
  on(event: string, handler: (...args: unknown[]) => void): unknown;
  connect(): unknown;
}

/**
 * The socket layer of one store: the emitters (which the store's thunks get as their `extra` argument)
 * and the middleware that connects the socket's events to the store.
 */
export function createSocketLayer(socket: ListeningSocket): { emitters: Emitters; middleware: Middleware } {
  let dispatch: Dispatch | null = null;
  const emitters = makeEmitters(socket, (message) => dispatch?.(serverEventReceived({ event: 'error', payload: { message } })));
  const middleware: Middleware = (store) => {
    dispatch = store.dispatch;
    const listeners = makeListeners(store.dispatch, emitters);
    for (const [event, handler] of Object.entries(listeners)) socket.on(event, handler as (...args: unknown[]) => void);
    socket.connect();

    return (next) => (action) => {
      if (cancelProcessing.match(action)) void emitters.cancel(action.payload);
      else if (resumeQueue.match(action)) void emitters.resumeQueue();
      else if (requestModelChange.match(action)) void emitters.requestModelChange(action.payload);
      else if (deleteImage.match(action)) void emitters.deleteImage(action.payload);
      return next(action);
    };
  };
  return { emitters, middleware };
}
