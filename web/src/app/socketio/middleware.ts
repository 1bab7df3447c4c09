/** Redux middleware that owns the Socket.IO connection: socket actions go out, server events come in. */
import type { Middleware, ThunkDispatch, UnknownAction } from '@reduxjs/toolkit';
import { io, type Socket } from 'socket.io-client';
import type { ModelOperation, PostprocessingParameters } from '../protocol';
import type { RootState } from '../store';
import { makeEmitters, type AckHandler } from './emitters';
import { oversizeMessage, uploadLimit } from './uploadLimit';
import { dispatchModelsAction, makeListeners, refreshGallery } from './listeners';
import {
  cancelProcessing,
  deleteImage,
  deleteModel,
  setDefaultModel,
  importModel,
  scanModelFolder,
  generateImage,
  generateOutpainting,
  generationQueued,
  reloadGallery,
  requestImages,
  requestModelChange,
  resumeQueue,
  runPostprocessing,
  runPostprocessingJob,
  uploadImage,
} from './actions';
import { buildGenerationRequest, invokeBlocker } from '../../common/util/parameterTranslation';
import { setOption } from '../../features/options/optionsSlice';
import { errorOccurred, modelChangeRequested, toastAdded } from '../../features/system/systemSlice';
import { galleryCleared, pageRequested } from '../../features/gallery/gallerySlice';
import { jobCancelRequested } from '../../features/queue/queueSlice';
import { modelOperationAcknowledged, modelOperationRequested } from '../../features/models/modelsSlice';
import { invokeOutpainting } from '../../features/outpainting/outpaintingThunks';
import { outpaintJobAcknowledged } from '../../features/outpainting/outpaintingSlice';
import { buildOutpaintingRequest } from '../../features/outpainting/request';
import { runPostprocessingOnSelection } from '../../features/postprocessing/postprocessingThunks';
import { postprocessingJobAcknowledged } from '../../features/postprocessing/postprocessingSlice';
import { isCanvasTab } from '../../features/canvas/canvasSlice';
import { invokeCanvasTab, type AppThunkDispatch } from '../../features/canvas/invoke';

/** Same origin, default path; reconnects by itself, retrying at least every two seconds. */
export function createSocket(): Socket {
  return io({ autoConnect: false, reconnectionDelay: 500, reconnectionDelayMax: 2000 });
}

export function socketMiddleware(socket: Socket): Middleware<object, RootState> {
  return (store) => {
    const emitters = makeEmitters(socket);
    const listeners = makeListeners(store.dispatch, store.getState, emitters);
    for (const [event, handler] of Object.entries(listeners)) {
      socket.on(event, handler as (...args: unknown[]) => void);
    }
    socket.connect();

    /** Starts one model job unless one is already in flight; its ack settles or tracks it. */
    const startModelJob = (operation: ModelOperation, target: string, send: (ack: AckHandler) => void) => {
      const state = store.getState();
      if (state.models.pending) return;
      store.dispatch(modelOperationRequested({ operation, target, before: state.system.config?.model_list ?? {} }));
      send((ack) => dispatchModelsAction(store.dispatch, store.getState, modelOperationAcknowledged(ack)));
    };

    // Outpainting and postprocessing runs are thunks: they compose, upload or fan out first.
    const dispatchThunk = store.dispatch as ThunkDispatch<RootState, unknown, UnknownAction>;

    return (next) => (action) => {
      const state = store.getState();
      if (generateImage.match(action) && state.tabs.activeTab === 'outpainting') {
        // Outpainting first composes and uploads the grown picture; generateOutpainting follows.
        dispatchThunk(invokeOutpainting());
      } else if (generateImage.match(action) && state.tabs.activeTab === 'postprocessing') {
        dispatchThunk(runPostprocessingOnSelection());
      } else if (generateOutpainting.match(action)) {
        const request = buildOutpaintingRequest(state.options, state.system, state.outpainting, action.payload);
        emitters.generateImage(request.generationParameters, false, false, (ack) =>
          store.dispatch(outpaintJobAcknowledged(ack?.jobId ?? null)),
        );
        if (state.options.shouldRandomizeSeed) {
          store.dispatch(setOption('seed', request.generationParameters.seed));
        }
      } else if (runPostprocessingJob.match(action)) {
        const { requestId, image, parameters } = action.payload;
        emitters.runPostprocessing(image, parameters, (ack) =>
          store.dispatch(postprocessingJobAcknowledged({ requestId, jobId: ack?.jobId ?? null })),
        );
      } else if (generateImage.match(action)) {
        const blocker = invokeBlocker(state.options, state.tabs.activeTab);
        if (blocker) {
          store.dispatch(toastAdded({ kind: 'info', message: blocker }));
        } else if (!action.payload && isCanvasTab(state.tabs.activeTab)) {
          // The canvas tabs add their mask and region first, then invoke again with them.
          (store.dispatch as AppThunkDispatch)(invokeCanvasTab(state.tabs.activeTab));
        } else {
          const request = buildGenerationRequest(state.options, state.system, state.tabs.activeTab);
          Object.assign(request.generationParameters, action.payload?.overrides);
          const stage = action.payload?.stage;
          emitters.generateImage(
            request.generationParameters,
            request.esrganParameters,
            request.facetoolParameters,
            stage
              ? (ack: unknown) => {
                  const jobId = (ack as { jobId?: unknown } | null)?.jobId;
                  if (typeof jobId === 'string') store.dispatch(generationQueued({ jobId, stage }));
                }
              : undefined,
          );
          // Show the seed actually used, so Use Seed / reproduction needs no metadata lookup.
          if (state.options.shouldRandomizeSeed) {
            store.dispatch(setOption('seed', request.generationParameters.seed));
          }
        }
      } else if (cancelProcessing.match(action)) {
        if (action.payload) store.dispatch(jobCancelRequested(action.payload));
        emitters.cancel(action.payload);
      } else if (resumeQueue.match(action)) {
        emitters.resumeQueue();
      } else if (requestModelChange.match(action)) {
        store.dispatch(modelChangeRequested());
        emitters.requestModelChange(action.payload);
      } else if (requestImages.match(action)) {
        const cat = state.gallery.categories[action.payload];
        if (!cat.isFetching && cat.areMoreImagesAvailable) {
          store.dispatch(pageRequested(action.payload));
          emitters.requestImages(action.payload, cat.images[cat.images.length - 1]);
        }
      } else if (deleteImage.match(action)) {
        emitters.deleteImage(action.payload);
      } else if (uploadImage.match(action)) {
        const { file, name, destination } = action.payload;
        const tooBig = oversizeMessage(name, file.size, uploadLimit(state.system.config));
        if (tooBig) {
          store.dispatch(toastAdded({ kind: 'error', message: tooBig }));
          return next(action);
        }
        file.arrayBuffer().then(
          (bytes) => emitters.uploadImage(bytes, name, destination),
          () => store.dispatch(errorOccurred(`Could not read the file ${name}.`)),
        );
      } else if (runPostprocessing.match(action)) {
        const o = state.options;
        const parameters: PostprocessingParameters = {
          type: action.payload.type,
          upscale: [o.upscalingLevel, o.upscalingStrength],
          facetool_strength: o.facetoolStrength,
          codeformer_fidelity: o.codeformerFidelity,
        };
        emitters.runPostprocessing(action.payload.image, parameters);
      } else if (importModel.match(action)) {
        const { path, name, makeDefault } = action.payload;
        startModelJob('import', path, (ack) => emitters.importModel(path, name || null, makeDefault, ack));
      } else if (scanModelFolder.match(action)) {
        startModelJob('scan', action.payload, (ack) => emitters.scanModelFolder(action.payload, ack));
      } else if (deleteModel.match(action)) {
        startModelJob('delete', action.payload, (ack) => emitters.deleteModel(action.payload, ack));
      } else if (setDefaultModel.match(action)) {
        startModelJob('default', action.payload, (ack) => emitters.setDefaultModel(action.payload, ack));
      } else if (reloadGallery.match(action)) {
        store.dispatch(galleryCleared());
        refreshGallery(store.dispatch, store.getState, emitters);
      }
      return next(action);
    };
  };
}
