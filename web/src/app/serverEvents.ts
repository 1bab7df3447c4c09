/** What the app does with each server event that is not a tracked job's: state for the gallery, progress, the queue. */
import type { Middleware } from '@reduxjs/toolkit';
import type {
  ErrorPayload,
  GalleryImagesPayload,
  ImageDeletedPayload,
  ImageInfo,
  ImageUploadedPayload,
  ModelChangePayload,
  ProgressUpdate,
  QueueUpdate,
  SystemConfig,
} from './protocol';
import { serverEventReceived } from './socketio/actions';
import { uploadedImage } from './socketio/emitters';
import type { AppThunk, RootState } from './store';
import { galleryCleared, galleryImagesReceived, imageAdded, imageDeleted } from '../features/gallery/gallerySlice';
import { refreshGallery } from '../features/gallery/galleryThunks';
import { WORK_DESTINATIONS } from '../features/gallery/uploads';
import {
  connected,
  disconnected,
  errorOccurred,
  modelChanged,
  modelChangeFailed,
  processingCanceled,
  progressUpdated,
  systemConfigReceived,
} from '../features/system/systemSlice';
import { intermediateCleared, intermediateReceived } from '../features/currentImage/currentImageSlice';
import { queueUpdated } from '../features/queue/queueSlice';
import { findJob } from '../features/jobs/jobTracker';
import { jobErrorShownInDialog, toastModelOutcome } from '../features/models/modelsThunks';

const addResult =
  (image: ImageInfo, keepSelection = false): AppThunk =>
  (dispatch) => {
    dispatch(intermediateCleared());
    dispatch(imageAdded({ image: { ...image, category: image.category ?? 'result' }, select: true, keepSelection }));
  };

/** One server event → the state it changes. */
export const applyServerEvent =
  (event: string, payload: unknown): AppThunk =>
  (dispatch, getState) => {
    switch (event) {
      case 'connect':
        dispatch(connected());
        dispatch(refreshGallery());
        return;
      case 'disconnect':
        dispatch(disconnected());
        dispatch(intermediateCleared());
        return;
      case 'connect_error':
        dispatch(disconnected());
        return;
      case 'systemConfig':
        dispatch(systemConfigReceived(payload as SystemConfig));
        return;
      case 'modelChanged':
        dispatch(modelChanged(payload as ModelChangePayload));
        return;
      case 'modelChangeFailed':
        dispatch(modelChangeFailed(payload as ModelChangePayload));
        return;
      case 'galleryImages':
        dispatch(galleryImagesReceived(payload as GalleryImagesPayload));
        return;
      case 'progressUpdate': {
        const progress = payload as ProgressUpdate;
        dispatch(progressUpdated(progress));
        if (!progress.isProcessing) dispatch(intermediateCleared());
        return;
      }
      case 'intermediateResult':
        // A preview that arrives after the job finished would hide the final image.
        if (getState().system.isProcessing) dispatch(intermediateReceived(payload as ImageInfo));
        return;
      case 'generationResult':
        dispatch(addResult(payload as ImageInfo));
        return;
      case 'postprocessingResult':
        dispatch(addResult(payload as ImageInfo, true));
        return;
      case 'processingCanceled':
        dispatch(processingCanceled());
        dispatch(intermediateCleared());
        return;
      case 'imageDeleted':
        dispatch(imageDeleted(payload as ImageDeletedPayload));
        return;
      case 'imageUploaded': {
        // What the upload was for is the uploading thunk's business; the gallery shows the user's
        // pictures, never the working images composed for one generation.
        const uploaded = payload as ImageUploadedPayload;
        if (!WORK_DESTINATIONS.has(uploaded.destination)) dispatch(imageAdded({ image: uploadedImage(uploaded), select: false }));
        return;
      }
      case 'queueUpdate':
        dispatch(queueUpdated(payload as QueueUpdate));
        return;
      case 'outputFolderChanged':
        dispatch(galleryCleared());
        dispatch(refreshGallery());
        return;
      case 'modelListChanged': {
        // Another window's change reaches the list through systemConfig; this window's jobs toast their outcome.
        const { jobId, requestId } = (payload as { jobId?: string; requestId?: string } | null) ?? {};
        const job = findJob(getState().jobs, jobId, requestId);
        if (job?.owner === 'models') dispatch(toastModelOutcome(job.requestId));
        return;
      }
      case 'error': {
        const error = payload as ErrorPayload | null;
        const job = findJob(getState().jobs, error?.jobId, error?.requestId);
        // A model job's failure shows in the Models dialog when it is open; a toast would only cover it.
        if (job?.owner === 'models' && jobErrorShownInDialog(getState() as RootState)) return;
        dispatch(errorOccurred(error?.message ?? 'The server reported an error.'));
        return;
      }
      default:
        return;
    }
  };

export const serverEventsMiddleware: Middleware = (store) => (next) => (action) => {
  const result = next(action);
  if (serverEventReceived.match(action)) {
    (store.dispatch as (thunk: AppThunk) => void)(applyServerEvent(action.payload.event, action.payload.payload));
  }
  return result;
};
