import { afterEach, describe, expect, it, vi } from 'vitest';
import { connectedStore, flush } from '../../../test/fakeSocket';
import { setOption } from '../options/optionsSlice';
import { tabSelected } from '../tabs/tabsSlice';
import { invoke } from '../tabs/invoke';

/** Node has no browser canvas: this one holds an opaque picture under the box, so Invoke varies it (image to image). */
class OpaqueCanvas {
  constructor(
    readonly width: number,
    readonly height: number,
  ) {}
  getContext() {
    return {
      imageSmoothingEnabled: true,
      drawImage: () => {},
      getImageData: (_x: number, _y: number, w: number, h: number) => ({ data: new Uint8ClampedArray(w * h * 4).fill(255) }),
    };
  }
  async convertToBlob() {
    return new Blob([new Uint8Array([137, 80, 78, 71])], { type: 'image/png' });
  }
}

afterEach(() => {
  vi.unstubAllGlobals();
});

function readyToInvokeOnTheCanvas() {
  vi.stubGlobal('OffscreenCanvas', OpaqueCanvas);
  const { socket, store } = connectedStore();
  store.dispatch(setOption('prompt', 'a harbour at dusk'));
  store.dispatch(tabSelected('canvas'));
  return { socket, store };
}

describe('the Unified Canvas uploads the region under the box, then generates on it', () => {
  it('generates on the region the server stored, as its own tracked job', async () => {
    const { socket, store } = readyToInvokeOnTheCanvas();
    const run = store.dispatch(invoke());
    await vi.waitFor(() => expect(socket.wire().map((s) => s.event)).toEqual(['uploadImage']));
    expect(socket.wire()[0].args[2]).toBe('canvas-region');
    socket.ack({ url: 'outputs/canvas-images/region.png', mtime: 2, width: 512, height: 512, metadata: {}, category: 'user' });
    await vi.waitFor(() => expect(socket.wire().map((s) => s.event)).toEqual(['uploadImage', 'generateImage']));
    const [gen, , , requestId] = socket.wire()[1].args;
    expect(gen).toMatchObject({ init_img: 'outputs/canvas-images/region.png', prompt: 'a harbour at dusk' });
    expect(store.getState().jobs.byRequest[requestId as string]?.owner).toBe('canvas');
    socket.ack({ jobId: 'c1', requestId });
    await run;
    // Its result is staged on the canvas at the box; another window's result is not.
    const result = { url: 'outputs/000009.5.png', mtime: 3, width: 512, height: 512, metadata: {}, category: 'result' };
    socket.serve('generationResult', { ...result, url: 'outputs/000008.4.png', jobId: 'x1', requestId: 'canvas-elsewhere' });
    socket.serve('generationResult', { ...result, jobId: 'c1', requestId });
    expect(store.getState().canvas.staged.map((s) => s.image.url)).toEqual(['outputs/000009.5.png']);
  });

  it('an upload that fails stops the generation with the upload’s message', async () => {
    const { socket, store } = readyToInvokeOnTheCanvas();
    const run = store.dispatch(invoke());
    await vi.waitFor(() => expect(socket.wire().map((s) => s.event)).toEqual(['uploadImage']));
    socket.serve('error', { message: 'canvas-region.png could not be stored: the disk is full.' });
    socket.ack();
    await run;
    await flush();
    expect(socket.wire().map((s) => s.event)).toEqual(['uploadImage']);
    expect(store.getState().system.toasts.map((t) => t.message)).toEqual(['canvas-region.png could not be stored: the disk is full.']);
    expect(store.getState().canvas.stagingJobs).toEqual({});
  });
});
