/** The Redux store: one slice per feature, the socket middleware, and persistence of the user's settings. */
import { combineReducers, configureStore } from '@reduxjs/toolkit';
import type { Socket } from 'socket.io-client';
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
import { socketMiddleware } from './socketio/middleware';
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
});

export type RootState = ReturnType<typeof rootReducer>;

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

export function createStore(socket: Socket, storage: Storage | null) {
  const store = configureStore({
    reducer: rootReducer,
    preloadedState: preloadedState(storage ? loadPersistedState(storage) : null),
    middleware: (getDefault) =>
      getDefault({
        // Uploads carry the chosen file's Blob to the socket layer, which sends its bytes.
        serializableCheck: { ignoredActions: ['socketio/uploadImage'] },
        immutableCheck: { warnAfter: 200 },
      }).concat(socketMiddleware(socket)),
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
