import { describe, expect, it, vi } from 'vitest';
import type { ImageInfo } from '../../app/protocol';
import { connectedStore, flush } from '../../../test/fakeSocket';
import { demoConfig } from '../../../test/demoConfig';
import { setOption } from '../options/optionsSlice';
import { extensionSet, outpaintSourceSet } from './outpaintingSlice';
import { invokeOutpainting } from './outpaintingThunks';
import { INVOKE_BY_TAB, invoke } from '../tabs/invoke';
import { tabSelected } from '../tabs/tabsSlice';
import { uploadPicture } from '../tabs/useImageChooser';
import { validateGenerateImageArgs } from '../../../test/protocolSchema';
import { unitAdded, unitChanged, unitImageSet } from '../control/controlSlice';
import { generationSize } from '../control/controlThunks';

// Composing needs a browser canvas; the thunk's part here is what it does with the upload's answer.
vi.mock('./compose', () => ({
  composeOutpaintImage: async () => ({ blob: new Blob([new Uint8Array([137, 80, 78, 71])]), plan: { width: 192, height: 128 } }),
}));

const picture: ImageInfo = { url: 'outputs/a.png', mtime: 1, metadata: {}, width: 128, height: 128, category: 'result' };

function readyToOutpaint() {
  const { socket, store } = connectedStore();
  store.dispatch(setOption('prompt', 'a lighthouse'));
  store.dispatch(outpaintSourceSet(picture));
  store.dispatch(extensionSet({ side: 'right', px: 64 }));
  store.dispatch(tabSelected('outpainting'));
  return { socket, store };
}

describe('upload-then-generate thunks await the upload', () => {
  it('outpainting generates on the picture the server stored, at its size', async () => {
    const { socket, store } = readyToOutpaint();
    const run = store.dispatch(invokeOutpainting());
    await flush();
    expect(socket.wire().map((s) => s.event)).toEqual(['uploadImage']);
    expect(store.getState().outpainting.pending?.phase).toBe('uploading');
    socket.serve('imageUploaded', { url: 'outputs/canvas-images/outpaint-192x128.1.png', mtime: 2, width: 192, height: 128, category: 'user', destination: 'outpainting' });
    socket.ack();
    await flush();
    const sent = socket.wire();
    expect(sent.map((s) => s.event)).toEqual(['uploadImage', 'generateImage']);
    expect(sent[1].args[0]).toMatchObject({ init_img: 'outputs/canvas-images/outpaint-192x128.1.png', width: 192, height: 128, prompt: 'a lighthouse' });
    const requestId = sent[1].args[3];
    expect(store.getState().outpainting.pending).toEqual({ phase: 'generating', requestId });
    socket.ack({ jobId: 'j1', requestId });
    await run;
    expect(store.getState().outpainting.pending).toEqual({ phase: 'generating', requestId });
  });

  it('takes the stored image from the acknowledgement when the server sends it there', async () => {
    const { socket, store } = readyToOutpaint();
    void store.dispatch(invokeOutpainting());
    await flush();
    socket.ack({ url: 'outputs/canvas-images/o.png', mtime: 2, width: 192, height: 128, metadata: {}, category: 'user' });
    await flush();
    expect(socket.wire()[1]).toMatchObject({ event: 'generateImage', args: [expect.objectContaining({ init_img: 'outputs/canvas-images/o.png' }), false, false, expect.stringMatching(/^outpainting-/)] });
  });

  it('an upload that fails stops the outpainting with the upload’s message, and Invoke works again', async () => {
    const { socket, store } = readyToOutpaint();
    const run = store.dispatch(invokeOutpainting());
    await flush();
    socket.serve('error', { message: 'outpaint-192x128.png is 30 MB; the limit is 20 MB.' });
    socket.ack();
    await run;
    expect(socket.wire().map((s) => s.event)).toEqual(['uploadImage']);
    expect(store.getState().outpainting.pending).toBeNull();
    // Said once, with the upload's own sentence.
    expect(store.getState().system.toasts.map((t) => t.message)).toEqual(['outpaint-192x128.png is 30 MB; the limit is 20 MB.']);
  });

  it('a chosen init image that the server refuses is not put into Image to Image', async () => {
    const { socket, store } = connectedStore();
    const run = store.dispatch(uploadPicture(new File([new Uint8Array([1])], 'x.png', { type: 'image/png' }), 'img2img'));
    await flush();
    socket.serve('error', { message: 'x.png is not a PNG, JPEG or WebP image.' });
    socket.ack();
    await run;
    expect(store.getState().options.initialImage).toBeNull();
    expect(store.getState().system.toasts.map((t) => t.message)).toEqual(['x.png is not a PNG, JPEG or WebP image.']);
  });

  it('a dropped connection ends the wait for an upload with a sentence', async () => {
    const { socket, store } = readyToOutpaint();
    const run = store.dispatch(invokeOutpainting());
    await flush();
    socket.serve('disconnect');
    await run;
    expect(store.getState().outpainting.pending).toBeNull();
    expect(store.getState().system.toasts.at(-1)?.message).toMatch(/connection to the server was lost/);
  });
});

describe('INVOKE_BY_TAB', () => {
  it('has an entry for every tab', () => {
    expect(Object.keys(INVOKE_BY_TAB).sort()).toEqual(['canvas', 'img2img', 'inpainting', 'outpainting', 'postprocessing', 'txt2img']);
  });

  it('Invoke sends what the active tab does: a generation, an outpainting upload, or postprocessing jobs', async () => {
    const { socket, store } = readyToOutpaint();
    store.dispatch(tabSelected('txt2img'));
    void store.dispatch(invoke());
    expect(socket.wire().map((s) => s.event)).toEqual(['generateImage']);

    socket.ackAll();
    socket.sent = [];
    store.dispatch(tabSelected('outpainting'));
    void store.dispatch(invoke());
    await flush();
    expect(socket.wire().map((s) => s.event)).toEqual(['uploadImage']);

    socket.ackAll();
    socket.sent = [];
    store.dispatch(tabSelected('postprocessing'));
    await store.dispatch(invoke()); // nothing selected: it says so and sends nothing
    expect(socket.wire()).toEqual([]);
    expect(store.getState().system.toasts.at(-1)?.message).toMatch(/Select images in the gallery first/);
  });

  it('a tab that cannot invoke yet says why and sends nothing', async () => {
    const { socket, store } = connectedStore();
    store.dispatch(tabSelected('img2img'));
    await store.dispatch(invoke());
    store.dispatch(tabSelected('inpainting'));
    await store.dispatch(invoke());
    expect(socket.wire()).toEqual([]);
    expect(store.getState().system.toasts.map((t) => t.message)).toEqual(['Type a prompt first.', 'Type a prompt first.']);
  });
});

const controlConfig = demoConfig({ control_preprocessors: [{ id: 'none', name: 'None', settings: {} }] });

describe('outpainting with the Control section', () => {
  function withUnit(picture: boolean) {
    const ready = readyToOutpaint();
    ready.socket.serve('systemConfig', controlConfig);
    ready.store.dispatch(unitAdded('canny15', 4));
    const id = ready.store.getState().control.units[0].id;
    if (picture) ready.store.dispatch(unitImageSet({ id, image: { url: 'outputs/control-images/pose.png', width: 128, height: 128 } }));
    return ready;
  }

  it("sends the section's units with the grown picture's request, valid by the protocol schema", async () => {
    const { socket, store } = withUnit(true);
    void store.dispatch(invokeOutpainting());
    await flush();
    socket.ack({ url: 'outputs/canvas-images/o.png', mtime: 2, width: 192, height: 128, metadata: {}, category: 'user' });
    await flush();
    const gen = socket.wire().find((s) => s.event === 'generateImage');
    expect(gen).toBeDefined();
    expect(validateGenerateImageArgs(gen?.args ?? [])).toEqual([]);
    expect(gen?.args[0]).toMatchObject({
      init_img: 'outputs/canvas-images/o.png',
      width: 192,
      height: 128,
      control: [{ model: 'canny15', image: 'outputs/control-images/pose.png', preprocessor: 'none', weight: 1, resize_mode: 'crop' }],
    });
  });

  it('sends no control while the section is off', async () => {
    const { socket, store } = withUnit(true);
    store.dispatch({ type: 'control/controlEnabled', payload: false });
    void store.dispatch(invokeOutpainting());
    await flush();
    socket.ack({ url: 'outputs/canvas-images/o.png', mtime: 2, width: 192, height: 128, metadata: {}, category: 'user' });
    await flush();
    const gen = socket.wire().find((s) => s.event === 'generateImage');
    expect(gen?.args[0]).not.toHaveProperty('control');
  });

  it('a unit without a picture goes with an empty image: the server gives it the grown picture', async () => {
    const { socket, store } = withUnit(false);
    void store.dispatch(invokeOutpainting());
    await flush();
    socket.ack({ url: 'outputs/canvas-images/o.png', mtime: 2, width: 192, height: 128, metadata: {}, category: 'user' });
    await flush();
    const gen = socket.wire().find((s) => s.event === 'generateImage');
    expect(validateGenerateImageArgs(gen?.args ?? [])).toEqual([]);
    expect(gen?.args[0]).toMatchObject({ init_img: 'outputs/canvas-images/o.png', control: [{ model: 'canny15', image: '' }] });
  });

  it('a unit that cannot run keeps Invoke back with its sentence, and nothing is uploaded', async () => {
    const { socket, store } = withUnit(true);
    store.dispatch(unitChanged({ id: store.getState().control.units[0].id, change: { start: 0.9, end: 0.1 } }));
    await store.dispatch(invoke());
    expect(socket.wire()).toEqual([]);
    expect(store.getState().system.toasts.at(-1)?.message).toMatch(/^Control unit 1: the start \(0\.9\) must not be after the end/);
  });

  it("previews a unit's map at the grown picture's size", () => {
    const { store } = withUnit(true);
    // 128 × 128 extended 64 px to the right.
    expect(generationSize(store.getState())).toEqual({ width: 192, height: 128 });
  });
});
