import { describe, expect, it } from 'vitest';
import { classifyRegion, fitView, invokeModeFor, snapBox, toCanvas, unionWithEmpty, zoomAt } from './geometry';

const pixels = (alphas: number[]) => {
  const out = new Uint8ClampedArray(alphas.length * 4);
  alphas.forEach((a, i) => (out[i * 4 + 3] = a));
  return out;
};

describe('the bounding box', () => {
  it('snaps position and size to multiples of 8', () => {
    expect(snapBox({ x: 13, y: 250, width: 517, height: 123 }, 2048, 2048)).toEqual({ x: 16, y: 248, width: 520, height: 120 });
  });
  it('stays 64–2048 px and inside the canvas', () => {
    expect(snapBox({ x: -40, y: 5000, width: 10, height: 9000 }, 2048, 2048)).toEqual({ x: 0, y: 0, width: 64, height: 2048 });
    expect(snapBox({ x: 2040, y: 2000, width: 128, height: 128 }, 2048, 2048)).toEqual({ x: 1920, y: 1920, width: 128, height: 128 });
  });
});

describe('zoom and pan', () => {
  it('zooming keeps the point under the cursor in place', () => {
    const view = { scale: 1, x: 10, y: 20 };
    const before = toCanvas(view, 300, 200);
    const zoomed = zoomAt(view, 2, 300, 200);
    expect(zoomed.scale).toBe(2);
    expect(toCanvas(zoomed, 300, 200)).toEqual(before);
  });
  it('fit shows the whole target centred', () => {
    const view = fitView({ x: 0, y: 0, width: 128, height: 64 }, 532, 300, 10);
    expect(view.scale).toBe(4);
    expect(view).toEqual({ scale: 4, x: 10, y: 22 });
  });
});

describe('what the box covers', () => {
  it('tells empty, full and partial regions apart', () => {
    expect(classifyRegion(pixels([0, 0, 10]))).toBe('empty');
    expect(classifyRegion(pixels([255, 200, 128]))).toBe('full');
    expect(classifyRegion(pixels([255, 0]))).toBe('partial');
  });
  it('picks the mode: empty → txt2img, full and unmasked → img2img, otherwise inpaint', () => {
    expect(invokeModeFor('empty', false)).toBe('txt2img');
    expect(invokeModeFor('empty', true)).toBe('txt2img');
    expect(invokeModeFor('full', false)).toBe('img2img');
    expect(invokeModeFor('full', true)).toBe('inpaint');
    expect(invokeModeFor('partial', false)).toBe('inpaint');
  });
  it('the sent mask is the painted mask plus the empty pixels', () => {
    const mask = new Uint8ClampedArray([0, 255, 0, 90]);
    expect(Array.from(unionWithEmpty(mask, pixels([255, 255, 0, 255])))).toEqual([0, 255, 255, 90]);
  });
});
