import { describe, expect, it } from 'vitest';
import { connectedStore } from '../../../test/fakeSocket';
import { uploadFile } from '../../features/gallery/uploads';
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

  it('refuses a too-big file before sending it, with both sizes in the message', async () => {
    const { socket, store } = connectedStore();
    const big = new File([new Uint8Array(DEFAULT_MAX_UPLOAD_BYTES + 1)], 'big.png', { type: 'image/png' });
    await expect(store.dispatch(uploadFile(big, 'big.png', 'img2img'))).rejects.toThrow(
      'big.png is 52,428,801 bytes; the limit is 52,428,800 bytes. It was not uploaded.',
    );
    const small = new File([new Uint8Array([137, 80, 78, 71])], 'small.png', { type: 'image/png' });
    void store.dispatch(uploadFile(small, 'small.png', 'img2img')).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(socket.wire().map((s) => [s.event, s.args[1]])).toEqual([['uploadImage', 'small.png']]);
  });
});
