/** The only code that receives protocol events: each server → client event becomes state actions. */
import type { Dispatch } from '@reduxjs/toolkit';
import type {
  ErrorPayload,
  GalleryCategory,
  GalleryImagesPayload,
  ImageDeletedPayload,
  ImageInfo,
  ImageUploadedPayload,
  ModelChangePayload,
  ModelListChangedPayload,
  ProgressUpdate,
  QueueUpdate,
  SystemConfig,
} from '../protocol';
import type { RootState } from '../store';
import type { Emitters } from './emitters';
import {
  galleryCleared,
  galleryImagesReceived,
  imageAdded,
  imageDeleted,
  pageRequested,
} from '../../features/gallery/gallerySlice';
import {
  connected,
  disconnected,
  errorOccurred,
  modelChanged,
  modelChangeFailed,
  processingCanceled,
  progressUpdated,
  systemConfigReceived,
  toastAdded,
} from '../../features/system/systemSlice';
import { intermediateCleared, intermediateReceived } from '../../features/currentImage/currentImageSlice';
import { queueUpdated } from '../../features/queue/queueSlice';
import { setInitialImage } from '../../features/options/optionsSlice';
import { tabSelected } from '../../features/tabs/tabsSlice';
import {
  errorShownInDialog,
  modelErrorReceived,
  modelListChangedReceived,
  outcomeToast,
} from '../../features/models/modelsSlice';
import { outpaintResultReceived, outpaintSourceSet } from '../../features/outpainting/outpaintingSlice';
import { postprocessingResultReceived } from '../../features/postprocessing/postprocessingSlice';
import { generateOutpainting } from './actions';
import { canvasUploadArrived, type AppThunkDispatch } from '../../features/canvas/invoke';

const CATEGORIES: GalleryCategory[] = ['result', 'user'];

/** Asks for what the gallery lacks: the first page, or on a reconnect everything newer than held. */
export function refreshGallery(dispatch: Dispatch, getState: () => RootState, emitters: Emitters): void {
  for (const category of CATEGORIES) {
    const cat = getState().gallery.categories[category];
    if (cat.hasLoaded && cat.images.length > 0) {
      emitters.requestLatestImages(category, cat.images[0].mtime);
    } else {
      dispatch(pageRequested(category));
      emitters.requestImages(category);
    }
  }
}

/** Dispatches a models action and toasts the success it settles, if it settles one of this window's jobs. */
export function dispatchModelsAction(
  dispatch: Dispatch,
  getState: () => RootState,
  action: Parameters<Dispatch>[0],
): void {
  const before = getState().models;
  dispatch(action);
  const message = outcomeToast(before, getState().models);
  if (message) dispatch(toastAdded({ kind: 'success', message }));
}

export function makeListeners(dispatch: Dispatch, getState: () => RootState, emitters: Emitters) {
  const addResult = (image: ImageInfo, keepSelection = false) => {
    dispatch(intermediateCleared());
    dispatch(imageAdded({ image: { ...image, category: image.category ?? 'result' }, select: true, keepSelection }));
  };
  return {
    connect: () => {
      dispatch(connected());
      emitters.requestSystemConfig();
      emitters.requestQueue();
      refreshGallery(dispatch, getState, emitters);
    },
    disconnect: () => {
      dispatch(disconnected());
      dispatch(intermediateCleared());
    },
    connect_error: () => {
      dispatch(disconnected());
    },
    systemConfig: (config: SystemConfig) => dispatch(systemConfigReceived(config)),
    modelChanged: (payload: ModelChangePayload) => dispatch(modelChanged(payload)),
    modelChangeFailed: (payload: ModelChangePayload) => dispatch(modelChangeFailed(payload)),
    galleryImages: (payload: GalleryImagesPayload) => dispatch(galleryImagesReceived(payload)),
    progressUpdate: (progress: ProgressUpdate) => {
      dispatch(progressUpdated(progress));
      if (!progress.isProcessing) dispatch(intermediateCleared());
    },
    intermediateResult: (image: ImageInfo) => {
      // A preview that arrives after the job finished would hide the final image.
      if (getState().system.isProcessing) dispatch(intermediateReceived(image));
    },
    generationResult: (image: ImageInfo) => {
      addResult(image);
      dispatch(outpaintResultReceived(image));
    },
    postprocessingResult: (image: ImageInfo) => {
      addResult(image, true);
      dispatch(postprocessingResultReceived(image));
    },
    processingCanceled: () => {
      dispatch(processingCanceled());
      dispatch(intermediateCleared());
    },
    imageDeleted: (payload: ImageDeletedPayload) => dispatch(imageDeleted(payload)),
    imageUploaded: (payload: ImageUploadedPayload) => {
      const image: ImageInfo = {
        url: payload.url,
        mtime: payload.mtime,
        width: payload.width,
        height: payload.height,
        metadata: payload.metadata ?? {},
        category: payload.category ?? 'user',
      };
      dispatch(imageAdded({ image, select: false }));
      if (payload.destination === 'img2img') {
        dispatch(setInitialImage(image));
        dispatch(tabSelected('img2img'));
      } else if (payload.destination === 'outpainting-source') {
        dispatch(outpaintSourceSet(image));
        dispatch(tabSelected('outpainting'));
      } else if (payload.destination === 'outpainting' && getState().outpainting.pending?.phase === 'uploading') {
        dispatch(generateOutpainting(image));
      } else if (payload.destination === 'inpainting') {
        dispatch(setInitialImage(image));
      } else if (payload.destination === 'canvas' || payload.destination === 'canvas-region') {
        (dispatch as AppThunkDispatch)(canvasUploadArrived(image));
      }
    },
    queueUpdate: (payload: QueueUpdate) => dispatch(queueUpdated(payload)),
    outputFolderChanged: () => {
      dispatch(galleryCleared());
      refreshGallery(dispatch, getState, emitters);
    },
    modelListChanged: (payload: ModelListChangedPayload) =>
      dispatchModelsAction(dispatch, getState, modelListChangedReceived(payload)),
    error: (payload: ErrorPayload) => {
      const message = payload?.message ?? 'The server reported an error.';
      const before = getState().models;
      dispatch(modelErrorReceived({ message, jobId: payload?.jobId }));
      if (errorShownInDialog(before, getState().models)) return;
      dispatch(errorOccurred(message));
    },
  };
}

export type Listeners = ReturnType<typeof makeListeners>;
