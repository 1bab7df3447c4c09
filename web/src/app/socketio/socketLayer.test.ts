import { describe, expect, it } from 'vitest';
import { createStore, preloadedState } from '../store';
import type { ImageInfo } from '../protocol';
import { makeEmitters, type EmittingSocket } from './emitters';
import { connectedStore, FakeSocket, flush } from '../../../test/fakeSocket';
import { uploadPicture } from '../../features/tabs/useImageChooser';
import { CANVAS_KEY, loadPersistedState, savePersistedCanvas, savePersistedState, STATE_KEY, THEME_KEY } from '../persistence';
import { validateGenerateImageArgs, validateRunPostprocessingArgs } from '../../../test/protocolSchema';

/** Records what would go over the wire. */
class RecordingSocket implements EmittingSocket {
  sent: Array<{ event: string; args: unknown[] }> = [];
  emit(event: string, ...args: unknown[]) {
    // The acknowledgement callback travels as the packet's id, not as an argument.
    this.sent.push({ event, args: args.filter((a) => typeof a !== 'function') });
    return this;
  }
}

const image = (name: string, mtime: number, extra: Partial<ImageInfo> = {}): ImageInfo => ({
  url: `outputs/${name}`,
  mtime,
  metadata: { image: { seed: mtime, prompt: [{ prompt: 'p', weight: 1 }] } },
  width: 64,
  height: 64,
  category: 'result',
  ...extra,
});

/** The app's store on a fake socket; `listeners.X(payload)` plays the server's event X. */
function setup() {
  const fake = new FakeSocket();
  const store = createStore(fake, null);
  const listeners = new Proxy({} as Record<string, (payload?: unknown) => void>, {
    get: (_, event: string) => (payload?: unknown) => fake.serve(event, payload),
  });
  // What went over the wire, without the acknowledgement callbacks.
  const socket = {
    get sent(): Array<{ event: string; args: unknown[] }> {
      return fake.wire();
    },
    set sent(_: Array<{ event: string; args: unknown[] }>) {
      fake.sent = [];
    },
  };
  const recording = new RecordingSocket();
  return { store, socket, fake, listeners, emitters: makeEmitters(recording), recorded: recording };
}

describe('socket listeners → state', () => {
  it('asks for the config, the queue and the first gallery pages on connect', () => {
    const { store, socket, listeners } = setup();
    listeners.connect();
    expect(store.getState().system.isConnected).toBe(true);
    expect(socket.sent.map((s) => s.event)).toEqual(['requestSystemConfig', 'requestQueue', 'requestImages', 'requestImages']);
    expect(socket.sent[2].args).toEqual(['result']);
    expect(store.getState().gallery.categories.result.isFetching).toBe(true);
  });

  it('asks only for newer images when it reconnects with a gallery', () => {
    const { socket, listeners } = setup();
    listeners.connect();
    listeners.galleryImages({ images: [image('b.png', 20), image('a.png', 10)], areMoreImagesAvailable: false, category: 'result' });
    listeners.disconnect();
    socket.sent = [];
    listeners.connect();
    expect(socket.sent).toContainEqual({ event: 'requestLatestImages', args: ['result', 20] });
  });

  it('shows disconnected and forgets a running job when the socket drops', () => {
    const { store, listeners } = setup();
    listeners.connect();
    listeners.progressUpdate({ currentStep: 1, totalSteps: 5, currentIteration: 1, totalIterations: 1, currentStatus: 'Generating', isProcessing: true, currentStatusHasSteps: true, hasError: false });
    listeners.disconnect();
    expect(store.getState().system).toMatchObject({ isConnected: false, isProcessing: false, currentStatus: 'Disconnected' });
  });

  it('keeps progress with it/s and ETA, and the live preview only while processing', () => {
    const { store, listeners } = setup();
    listeners.progressUpdate({ currentStep: 2, totalSteps: 6, currentIteration: 1, totalIterations: 4, currentStatus: 'Generating', isProcessing: true, currentStatusHasSteps: true, hasError: false, itPerSec: 3.5, eta: 12 });
    expect(store.getState().system).toMatchObject({ currentStep: 2, totalSteps: 6, totalIterations: 4, itPerSec: 3.5, eta: 12 });
    const preview = { url: 'data:image/png;base64,AAAA', isBase64: true, mtime: 0, metadata: {}, width: 64, height: 64, category: 'result' as const };
    listeners.intermediateResult(preview);
    expect(store.getState().currentImage.intermediateImage?.url).toBe(preview.url);
    listeners.generationResult(image('c.png', 30));
    expect(store.getState().currentImage.intermediateImage).toBeNull();
    expect(store.getState().gallery.currentImage?.url).toBe('outputs/c.png');
    listeners.progressUpdate({ currentStep: 0, totalSteps: 0, currentIteration: 0, totalIterations: 0, currentStatus: 'Processing Complete', isProcessing: false, currentStatusHasSteps: false, hasError: false });
    listeners.intermediateResult(preview);
    expect(store.getState().currentImage.intermediateImage).toBeNull();
  });

  it('puts an uploaded init image into Image to Image once the server has stored it', async () => {
    const { store, socket } = connectedStore();
    const upload = store.dispatch(uploadPicture(new File([new Uint8Array([137, 80, 78, 71])], 'x.png', { type: 'image/png' }), 'img2img'));
    await flush(); // the file's bytes are read, then sent
    expect(socket.wire().map((s) => s.event)).toEqual(['uploadImage']);
    socket.serve('imageUploaded', { url: 'outputs/init-images/x.png', mtime: 5, width: 64, height: 64, category: 'user', destination: 'img2img' });
    socket.ack();
    await upload;
    const state = store.getState();
    expect(state.options.initialImage?.url).toBe('outputs/init-images/x.png');
    expect(state.tabs.activeTab).toBe('img2img');
    expect(state.gallery.categories.user.images.map((i) => i.url)).toEqual(['outputs/init-images/x.png']);
  });

  it('turns error events into dismissable toasts', () => {
    const { store, listeners } = setup();
    listeners.error({ message: "The field 'width' of the generateImage request is invalid." });
    expect(store.getState().system.toasts).toEqual([{ id: 1, kind: 'error', message: "The field 'width' of the generateImage request is invalid." }]);
    expect(store.getState().system.hasError).toBe(true);
  });

  it('clears and reloads the gallery when the output folder changes', () => {
    const { store, socket, listeners } = setup();
    listeners.galleryImages({ images: [image('a.png', 1)], areMoreImagesAvailable: false, category: 'result' });
    socket.sent = [];
    listeners.outputFolderChanged();
    expect(store.getState().gallery.categories.result.images).toEqual([]);
    expect(socket.sent.filter((s) => s.event === 'requestImages').map((s) => s.args)).toEqual([['result'], ['user']]);
  });

  it('records the model list on model changes and failures', () => {
    const { store, listeners } = setup();
    listeners.systemConfig({ model: 'demo', model_id: 'demo', model_hash: 'h', app_id: 'a', app_version: '2.2.0', model_list: { demo: { status: 'active', description: 'Demo' }, 'demo-alt': { status: 'not loaded', description: 'Alt' } } });
    listeners.modelChanged({ model_name: 'demo-alt', model_list: { demo: { status: 'cached', description: 'Demo' }, 'demo-alt': { status: 'active', description: 'Alt' } } });
    expect(store.getState().system.config?.model).toBe('demo-alt');
    listeners.modelChangeFailed({ model_name: 'broken', model_list: { demo: { status: 'cached', description: 'Demo' }, 'demo-alt': { status: 'active', description: 'Alt' } } });
    expect(store.getState().system.config?.model).toBe('demo-alt');
    expect(store.getState().system.toasts.at(-1)?.kind).toBe('error');
  });

  it('mirrors the queue and drops finished jobs from pending cancels', () => {
    const { store, listeners } = setup();
    listeners.queueUpdate({ jobs: [{ id: 'j1', status: 'running', summary: 'a' }, { id: 'j2', status: 'queued', summary: 'b' }] });
    expect(store.getState().queue.jobs).toHaveLength(2);
  });
});

describe('emitters send protocol payloads', () => {
  it('pages the gallery with earliest_mtime and earliest_url', () => {
    const { recorded: socket, emitters } = setup();
    emitters.requestImages('result');
    emitters.requestImages('result', image('z.png', 7.5));
    expect(socket.sent).toEqual([
      { event: 'requestImages', args: ['result'] },
      { event: 'requestImages', args: ['result', 7.5, 'outputs/z.png'] },
    ]);
  });

  it('sends deleteImage, cancel with and without a job id, uploads as binary', () => {
    const { recorded: socket, emitters } = setup();
    emitters.deleteImage(image('d.png', 1));
    emitters.cancel();
    emitters.cancel('job-3');
    const bytes = new Uint8Array([137, 80, 78, 71]).buffer;
    emitters.uploadImage(bytes, 'x.png', 'img2img');
    expect(socket.sent).toEqual([
      { event: 'deleteImage', args: ['outputs/d.png', 'outputs/d.png', 'result'] },
      { event: 'cancel', args: [] },
      { event: 'cancel', args: ['job-3'] },
      { event: 'uploadImage', args: [bytes, 'x.png', 'img2img'] },
    ]);
    expect(socket.sent[3].args[0]).toBeInstanceOf(ArrayBuffer);
  });

  it('sends generateImage and runPostprocessing arguments that match the schema', () => {
    const { recorded: socket, emitters } = setup();
    emitters.generateImage(
      { prompt: 'p', iterations: 1, steps: 2, cfg_scale: 7.5, threshold: 0, perlin: 0, height: 64, width: 64, sampler_name: 'ddim', seed: 1, seamless: false, hires_fix: false, progress_images: false, progress_latents: true, save_intermediates: 0, variation_amount: 0 },
      { level: 2, strength: 0.5 },
      false,
    );
    emitters.runPostprocessing(image('e.png', 1), { type: 'gfpgan', upscale: [2, 0.75], facetool_strength: 0.8, codeformer_fidelity: 0.75 });
    expect(validateGenerateImageArgs(socket.sent[0].args)).toEqual([]);
    expect(validateRunPostprocessingArgs(socket.sent[1].args)).toEqual([]);
  });

  it('ends every job-starting event with a request id, a fresh one unless the caller gives its own', () => {
    const { recorded: socket, emitters } = setup();
    const params = { prompt: 'p', iterations: 1, steps: 2, cfg_scale: 7.5, threshold: 0, perlin: 0, height: 64, width: 64, sampler_name: 'ddim', seed: 1, seamless: false, hires_fix: false, progress_images: false, progress_latents: true, save_intermediates: 0, variation_amount: 0 };
    emitters.generateImage(params, false, false);
    emitters.generateImage(params, false, false, 'canvas-abc');
    emitters.runPostprocessing(image('e.png', 1), { type: 'esrgan', upscale: [2, 0.75] });
    emitters.requestModelChange('demo');
    emitters.importModel('/m.safetensors', null, false);
    emitters.scanModelFolder('/models');
    emitters.deleteModel('old');
    emitters.setDefaultModel('demo');
    const ids = socket.sent.map((s) => s.args.at(-1));
    expect(ids[1]).toBe('canvas-abc');
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9._:-]{1,100}$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect(validateGenerateImageArgs(socket.sent[1].args)).toEqual([]);
    expect(validateRunPostprocessingArgs(socket.sent[2].args)).toEqual([]);
    expect(validateGenerateImageArgs([params, false, false, 'two words'])).toEqual([
      'generateImage.request_id should be 1 to 100 letters, digits or . _ : -, got "two words"',
    ]);
  });

  it('the schema check itself catches a renamed or mistyped field', () => {
    const bad = { prompt: 'p', iterations: 1.5, steps: 2, cfg_scale: 7.5, threshold: 0, perlin: 0, height: 65, width: 64, sampler: 'ddim', seed: 1, seamless: false, hires_fix: false, progress_images: false, progress_latents: true, save_intermediates: 0, variation_amount: 0, with_variations: [{ seed: 1, weight: 0.1 }] };
    const errors = validateGenerateImageArgs([bad, false, false]);
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/iterations/),
        expect.stringMatching(/height=65/),
        expect.stringMatching(/sampler is not a protocol field/),
        expect.stringMatching(/sampler_name is missing/),
        expect.stringMatching(/with_variations/),
      ]),
    );
  });
});

describe('persistence', () => {
  class MemoryStorage implements Storage {
    private data = new Map<string, string>();
    get length() {
      return this.data.size;
    }
    clear() {
      this.data.clear();
    }
    getItem(key: string) {
      return this.data.get(key) ?? null;
    }
    key(index: number) {
      return [...this.data.keys()][index] ?? null;
    }
    removeItem(key: string) {
      this.data.delete(key);
    }
    setItem(key: string, value: string) {
      this.data.set(key, value);
    }
  }

  it('keeps parameters, settings and the theme across a reload, and survives garbage', () => {
    const storage = new MemoryStorage();
    const state = preloadedState(null);
    savePersistedState(storage, {
      ...state,
      options: { ...state.options, prompt: 'kept', steps: 3 },
      system: { ...state.system, theme: 'light', shouldConfirmOnDelete: false },
    });
    const restored = preloadedState(loadPersistedState(storage));
    expect(restored.options.prompt).toBe('kept');
    expect(restored.options.steps).toBe(3);
    expect(restored.system.theme).toBe('light');
    expect(restored.system.shouldConfirmOnDelete).toBe(false);
    expect(restored.system.isConnected).toBe(false);
    expect(storage.getItem(THEME_KEY)).toBe('light');
    storage.setItem(STATE_KEY, '{not json');
    expect(preloadedState(loadPersistedState(storage)).options.prompt).toBe('');
  });

  it('keeps the canvases (placed images, boxes, masks) across a reload, but not their undo history', () => {
    const storage = new MemoryStorage();
    const base = preloadedState(null).canvas;
    const stroke = { kind: 'stroke' as const, tool: 'brush' as const, size: 24, hardness: 0.7, points: [10, 10, 40, 40] };
    expect(
      savePersistedCanvas(storage, {
        ...base,
        layer: [{ url: 'outputs/init-images/a.png', x: 8, y: 16, width: 128, height: 128 }],
        box: { x: 8, y: 16, width: 128, height: 128 },
        masks: { inpainting: { past: [], future: [] }, canvas: { past: [stroke], future: [{ kind: 'invert' }] } },
        canvasOrder: { past: ['layer', 'mask'], future: [] },
        seamSize: 16,
        inpaintingBox: { url: 'outputs/init-images/a.png', box: { x: 0, y: 8, width: 64, height: 64 } },
      }),
    ).toBe(true);
    const restored = preloadedState(loadPersistedState(storage)).canvas;
    expect(restored.layer).toEqual([{ url: 'outputs/init-images/a.png', x: 8, y: 16, width: 128, height: 128 }]);
    expect(restored.box).toEqual({ x: 8, y: 16, width: 128, height: 128 });
    expect(restored.masks.canvas).toEqual({ past: [stroke], future: [] });
    expect(restored.canvasOrder).toEqual({ past: [], future: [] });
    expect(restored.seamSize).toBe(16);
    expect(restored.inpaintingBox).toEqual({ url: 'outputs/init-images/a.png', box: { x: 0, y: 8, width: 64, height: 64 } });
    expect(restored.staged).toEqual([]);
    storage.setItem(CANVAS_KEY, '[broken');
    expect(preloadedState(loadPersistedState(storage)).canvas.layer).toEqual([]);
  });
});
