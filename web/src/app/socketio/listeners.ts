/** The only code that receives protocol events: each one becomes one `serverEventReceived` action. */
import type { Dispatch } from '@reduxjs/toolkit';
import { serverEventReceived } from './actions';
import type { Emitters } from './emitters';

/** The server → client events of the protocol and our additions. */
export const SERVER_EVENTS = [
  'systemConfig',
  'modelChanged',
  'modelChangeFailed',
  'galleryImages',
  'progressUpdate',
  'intermediateResult',
  'generationResult',
  'postprocessingResult',
  'processingCanceled',
  'imageDeleted',
  'imageUploaded',
  'queueUpdate',
  'outputFolderChanged',
  'modelListChanged',
  'workersUpdate',
  'error',
] as const;

export function makeListeners(dispatch: Dispatch, emitters: Emitters) {
  const received = (event: string, payload?: unknown) => dispatch(serverEventReceived({ event, payload }));
  const listeners: Record<string, (payload?: unknown) => void> = {
    connect: () => {
      // A client that connects asks for the configuration and the queue (the protocol's additions).
      void emitters.requestSystemConfig();
      void emitters.requestQueue();
      received('connect');
    },
    disconnect: () => {
      emitters.connectionLost();
      received('disconnect');
    },
    connect_error: () => received('connect_error'),
  };
  for (const event of SERVER_EVENTS) listeners[event] = (payload?: unknown) => received(event, payload);
  listeners.imageUploaded = (payload?: unknown) => {
    emitters.claimReply('imageUploaded', payload);
    received('imageUploaded', payload);
  };
  listeners.error = (payload?: unknown) => {
    // A job's failure names its job; an error without one answers this window's oldest request.
    const jobId = (payload as { jobId?: unknown } | null)?.jobId;
    if (typeof jobId !== 'string' && emitters.claimReply('error', payload)) return;
    received('error', payload);
  };
  return listeners;
}

export type Listeners = ReturnType<typeof makeListeners>;
