import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32, encodeMaskPng, maskToDataUrl, pngHasAlphaChannel } from './png';
import { renderMask } from './mask';

function chunks(png: Uint8Array) {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const out: Array<{ type: string; data: Uint8Array; crcOk: boolean }> = [];
  let offset = 8;
  while (offset < png.length) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...png.subarray(offset + 4, offset + 8));
    const data = png.subarray(offset + 8, offset + 8 + length);
    const crc = view.getUint32(offset + 8 + length);
    out.push({ type, data, crcOk: crc === crc32(png.subarray(offset + 4, offset + 8 + length)) });
    offset += 12 + length;
  }
  return out;
}

describe('mask export', () => {
  it('crc32 matches the reference value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });

  it('is a greyscale PNG of the mask size, white where painted and black elsewhere', async () => {
    const mask = renderMask([{ kind: 'stroke', tool: 'brush', size: 6, hardness: 1, points: [5, 3] }], 24, 16);
    const png = await encodeMaskPng(mask);
    expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const parts = chunks(png);
    expect(parts.map((c) => c.type)).toEqual(['IHDR', 'IDAT', 'IEND']);
    expect(parts.every((c) => c.crcOk)).toBe(true);
    const ihdr = new DataView(parts[0].data.buffer, parts[0].data.byteOffset);
    expect([ihdr.getUint32(0), ihdr.getUint32(4), parts[0].data[8], parts[0].data[9]]).toEqual([24, 16, 8, 0]);
    const raw = inflateSync(parts[1].data);
    expect(raw.length).toBe((24 + 1) * 16);
    const pixel = (x: number, y: number) => raw[y * 25 + 1 + x];
    expect(pixel(5, 3)).toBe(255);
    expect(pixel(20, 12)).toBe(0);
    for (let y = 0; y < 16; y++) expect(raw[y * 25]).toBe(0);
  });

  it('becomes a PNG data URL', async () => {
    const url = await maskToDataUrl(renderMask([], 8, 8));
    expect(url).toMatch(/^data:image\/png;base64,iVBORw0KGgo/);
  });
});

describe('mask import', () => {
  it('tells a PNG with an alpha channel from one without', async () => {
    const grey = await encodeMaskPng(renderMask([], 8, 8));
    expect(pngHasAlphaChannel(grey)).toBe(false);
    const rgbaPng = grey.slice();
    rgbaPng[25] = 6; // colour type RGBA
    expect(pngHasAlphaChannel(rgbaPng)).toBe(true);
    rgbaPng[25] = 4; // grey + alpha
    expect(pngHasAlphaChannel(rgbaPng)).toBe(true);
    expect(pngHasAlphaChannel(new TextEncoder().encode('GIF89a, not a PNG at all'))).toBe(false);
  });
});
