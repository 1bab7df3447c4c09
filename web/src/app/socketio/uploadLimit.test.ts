import { configureStore } from '@reduxjs/toolkit';
import { describe, expect, it } from 'vitest';
import { rootReducer, preloadedState } from '../store';
import { socketMiddleware } from './middleware';
import { uploadImage } from './actions';
import { DEFAULT_MAX_UPLOAD_BYTES, oversizeMessage, sizesThatDiffer, uploadLimit } from './uploadLimit';

describe('the upload size check', () => {
  it('writes sizes just over the limit so they differ, as the server does', () => {
    const limit = DEFAULT_MAX_UPLOAD_BYTES;
    expect(sizesThatDiffer(limit + 1, limit)).toEqual(['52,428,801 bytes', '52,428,800 bytes']);
    expect(sizesThatDiffer(limit + 1000, limit)).toEqual(['52.430 MB', '52.429 MB']);
    expect(sizesThatDiffer(limit + 10_000, limit)).toEqual(['52.44 MB', '52.43 MB']);
    expect(sizesThatDiffer(60 * 1024 * 1024, limit)).toEqual(['62.9 MB', '52.4 MB']);
    expect(oversizeMessage('a.png', limit, limit)).toBeNull();
    expect(oversizeMessage('a.png', 60 * 1024 * 1024, limit)).toBe('a.png is 62.9 MB; the limit is 52.4 MB. It was not uploaded.');
  });

  it('follows the limit systemConfig gives', () => {
    expect(uploadLimit(null)).toBe(DEFAULT_MAX_UPLOAD_BYTES);
    expect(uploadLimit({ max_upload_bytes: 1000 })).toBe(1000);
    expect(uploadLimit({ max_upload_bytes: 'x' })).toBe(DEFAULT_MAX_UPLOAD_BYTES);
  });

  it('refuses a too-big file before sending it, with the limit in the toast', async () => {
    const sent: { event: string; args: unknown[] }[] = [];
    const socket = {
      on: () => socket,
      connect: () => socket,
      emit: (event: string, ...args: unknown[]) => {
        sent.push({ event, args });
        return socket;
      },
    };
    const store = configureStore({
      reducer: rootReducer,
      preloadedState: preloadedState(null),
      middleware: (getDefault) =>
        getDefault({ serializableCheck: false }).concat(socketMiddleware(socket as never)),
    });
    const big = new File([new Uint8Array(DEFAULT_MAX_UPLOAD_BYTES + 1)], 'big.png', { type: 'image/png' });
    store.dispatch(uploadImage({ file: big, name: 'big.png', destination: 'img2img' }));
    const small = new File([new Uint8Array([137, 80, 78, 71])], 'small.png', { type: 'image/png' });
    store.dispatch(uploadImage({ file: small, name: 'small.png', destination: 'img2img' }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sent.map((s) => [s.event, s.args[1]])).toEqual([['uploadImage', 'small.png']]);
    const toasts = store.getState().system.toasts.map((t: { message: string }) => t.message);
    expect(toasts).toContain('big.png is 52,428,801 bytes; the limit is 52,428,800 bytes. It was not uploaded.');
  });
});
