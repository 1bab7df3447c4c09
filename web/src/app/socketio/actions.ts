/** The socket layer's actions: every server event as one action, and the plain requests components send. */
import { createAction } from '@reduxjs/toolkit';
import type { ImageInfo } from '../protocol';

/** Where an upload goes. img2img: the Image to Image init image; outpainting-source: the picture to outpaint;
 * inpainting: the picture to inpaint; canvas: an image placed on the Unified Canvas or the canvas saved to
 * the gallery. outpainting / canvas-region: a picture composed for one generation (its transparent frame,
 * or the canvas under the box); the server keeps these out of the gallery. control: a control unit's picture
 * (kept under outdir/control-images/, out of the gallery too). */
export type UploadDestination =
  | 'img2img'
  | 'gallery'
  | 'inpainting'
  | 'canvas'
  | 'canvas-region'
  | 'outpainting'
  | 'outpainting-source'
  | 'control';

/**
 * A server → client event (or `connect` / `disconnect` / `connect_error`), as received. Features react to the events they
 * care about; job events reach the feature that sent the job through the job tracker.
 */
export const serverEventReceived = createAction<{ event: string; payload?: unknown }>('socketio/serverEventReceived');

export const cancelProcessing = createAction<string | undefined>('socketio/cancelProcessing');
export const resumeQueue = createAction('socketio/resumeQueue');
export const requestModelChange = createAction<string>('socketio/requestModelChange');
export const deleteImage = createAction<ImageInfo>('socketio/deleteImage');
