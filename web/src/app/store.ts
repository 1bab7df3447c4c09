/** The Redux store: one slice per feature, the socket middleware, and persistence of the user's settings. */
import { combineReducers, configureStore, type ThunkAction, type UnknownAction } from '@reduxjs/toolkit';
import galleryReducer from '../features/gallery/gallerySlice';
import optionsReducer from '../features/options/optionsSlice';
import currentImageReducer from '../features/currentImage/currentImageSlice';
import systemReducer from '../features/system/systemSlice';
import queueReducer from '../features/queue/queueSlice';
import tabsReducer from '../features/tabs/tabsSlice';
import modelsReducer from '../features/models/modelsSlice';
import outpaintingReducer from '../features/outpainting/outpaintingSlice';
import postprocessingReducer from '../features/postprocessing/postprocessingSlice';
import canvasReducer from '../features/canvas/canvasSlice';
import jobsReducer, { jobTrackerMiddleware } from '../features/jobs/jobTracker';
import workersReducer from '../features/workers/workersSlice';
import controlReducer from '../features/control/controlSlice';
import { createSocketLayer, type ListeningSocket } from './socketio/middleware';
import type { Emitters } from './socketio/emitters';
import { serverEventsMiddleware } from './serverEvents';
import { loadPersistedState, savePersistedCanvas, savePersistedState, type PersistedState } from './persistence';

export const rootReducer = combineReducers({
  gallery: galleryReducer,
  options: optionsReducer,
  currentImage: currentImageReducer,
  system: systemReducer,
  queue: queueReducer,
  tabs: tabsReducer,
  models: modelsReducer,
  outpainting: outpaintingReducer,
  postprocessing: postprocessingReducer,
  canvas: canvasReducer,
  jobs: jobsReducer,
  workers: workersReducer,
  control: controlReducer,
});

export type RootState = ReturnType<typeof rootReducer>;

/** What every thunk gets beside dispatch and getState: the socket's emitters (each returns the server's answer). */
export interface ThunkExtra {
  emitters: Emitters;
}
export type AppThunk<R = void> = ThunkAction<R, RootState, ThunkExtra, UnknownAction>;

/** The defaults with whatever the user set last time laid over them. */
export function preloadedState(persisted: PersistedState | null): RootState {
  const base = rootReducer(undefined, { type: '@@init' });
  if (!persisted) return base;
  return {
    ...base,
    options: { ...base.options, ...persisted.options },
    system: { ...base.system, ...persisted.system },
    tabs: { ...base.tabs, ...persisted.tabs },
    gallery: { ...base.gallery, ...persisted.gallery },
    canvas: restoreCanvas(base.canvas, persisted.canvas),
    control: { ...base.control, ...persisted.control },
  };
}

/** The saved canvases laid over the defaults: their masks come back as history already done. */
function restoreCanvas(base: RootState['canvas'], saved: PersistedState['canvas']): RootState['canvas'] {
  const { masks, ...rest } = saved;
  return {
    ...base,
    ...rest,
    masks: {
      inpainting: { past: masks?.inpainting ?? [], future: [] },
      canvas: { past: masks?.canvas ?? [], future: [] },
    },
  };
}

export function createStore(socket: ListeningSocket, storage: Storage | null) {
  const { emitters, middleware: socketMiddleware } = createSocketLayer(socket);
  const store = configureStore({
    reducer: rootReducer,
    preloadedState: preloadedState(storage ? loadPersistedState(storage) : null),
    middleware: (getDefault) =>
      getDefault({
        thunk: { extraArgument: { emitters } satisfies ThunkExtra },
        immutableCheck: { warnAfter: 200 },
      }).concat(socketMiddleware, serverEventsMiddleware, jobTrackerMiddleware()),
  });
  if (storage) {
    let last: RootState | null = null;
    let lastCanvas: RootState['canvas'] | null = null;
    store.subscribe(() => {
      const state = store.getState();
      const canvas = state.canvas;
      if (
        canvas !== lastCanvas &&
        (!lastCanvas ||
          lastCanvas.layer !== canvas.layer ||
          lastCanvas.box !== canvas.box ||
          lastCanvas.masks !== canvas.masks ||
          lastCanvas.inpaintingSize !== canvas.inpaintingSize ||
          lastCanvas.inpaintingBox !== canvas.inpaintingBox ||
          lastCanvas.brushSize !== canvas.brushSize ||
          lastCanvas.hardness !== canvas.hardness ||
          lastCanvas.seamSize !== canvas.seamSize ||
          lastCanvas.inpaintReplace !== canvas.inpaintReplace)
      ) {
        savePersistedCanvas(storage, canvas);
      }
      lastCanvas = canvas;
      if (
        last &&
        last.options === state.options &&
        last.control === state.control &&
        last.system === state.system &&
        last.tabs === state.tabs &&
        last.gallery.isOpen === state.gallery.isOpen &&
        last.gallery.currentCategory === state.gallery.currentCategory
      ) {
        return;
      }
      last = state;
      savePersistedState(storage, state);
    });
  }
  return store;
}

export type AppStore = ReturnType<typeof createStore>;
export type AppDispatch = AppStore['dispatch'];
