/** Requests components make of the server; the socket middleware turns each into protocol events. */
import { createAction } from '@reduxjs/toolkit';
import type {
  BoundingBox,
  GalleryCategory,
  GenerationParameters,
  ImageInfo,
  PostprocessingParameters,
  PostprocessingType,
} from '../protocol';

export interface UploadRequest {
  file: Blob;
  name: string;
  /** img2img: the Image to Image init image; outpainting-source: the picture to outpaint; inpainting: the
   * picture to inpaint; canvas: an image placed on the Unified Canvas or the canvas saved to the gallery.
   * outpainting / canvas-region: a picture composed for one generation (its transparent frame, or the
   * canvas under the box); the server keeps these out of the gallery. */
  destination: 'img2img' | 'gallery' | 'inpainting' | 'canvas' | 'canvas-region' | 'outpainting' | 'outpainting-source';
}

/**
 * Invoke. With no payload the active tab's settings are sent; a canvas tab adds what only it knows
 * (`overrides`: init image, mask, sizes) and may ask for the results to be staged at a box (`stage`).
 */
export interface GenerateRequest {
  overrides?: Partial<GenerationParameters>;
  stage?: BoundingBox;
}

export const generateImage = createAction<GenerateRequest | undefined>('socketio/generateImage');
/** The server queued a generation that asked to be staged: its job id and where its results go. */
export const generationQueued = createAction<{ jobId: string; stage?: BoundingBox }>('socketio/generationQueued');
export const cancelProcessing = createAction<string | undefined>('socketio/cancelProcessing');
export const resumeQueue = createAction('socketio/resumeQueue');
export const requestModelChange = createAction<string>('socketio/requestModelChange');
export const requestImages = createAction<GalleryCategory>('socketio/requestImages');
export const deleteImage = createAction<ImageInfo>('socketio/deleteImage');
export const uploadImage = createAction<UploadRequest>('socketio/uploadImage');
export const runPostprocessing = createAction<{ image: ImageInfo; type: PostprocessingType }>(
  'socketio/runPostprocessing',
);
export const reloadGallery = createAction('socketio/reloadGallery');

/** Ours: add a checkpoint file or diffusers folder by its path on the server machine. */
export const importModel = createAction<{ path: string; name?: string; makeDefault: boolean }>('socketio/importModel');
/** Ours: add every model under an AUTOMATIC1111 or ComfyUI models folder. */
export const scanModelFolder = createAction<string>('socketio/scanModelFolder');
/** Ours: remove a models.yaml entry (never its files). */
export const deleteModel = createAction<string>('socketio/deleteModel');
export const setDefaultModel = createAction<string>('socketio/setDefaultModel');
/** One postprocessing job of a batch; the server's acknowledgement gives it a job id. */
export const runPostprocessingJob = createAction<{
  requestId: string;
  image: ImageInfo;
  parameters: PostprocessingParameters;
}>('socketio/runPostprocessingJob');

/** Generates the outpainting from its uploaded composite (the grown picture with transparent new area). */
export const generateOutpainting = createAction<ImageInfo>('socketio/generateOutpainting');
