import { describe, expect, it } from 'vitest';
import {
  applyMaskOp,
  brushFalloff,
  cropMask,
  isMaskEmpty,
  maskBounds,
  maskFromPixels,
  maskFromTransparency,
  rasterOp,
  renderMask,
  resizeNearest,
  type MaskOp,
} from './mask';
import { emptyHistory, pushHistory, redoHistory, undoHistory } from './history';

const stroke = (points: number[], tool: 'brush' | 'eraser' = 'brush', size = 10, hardness = 1): MaskOp => ({
  kind: 'stroke',
  tool,
  size,
  hardness,
  points,
});

describe('mask painting', () => {
  it('a hard brush stroke paints full white within its radius and nothing beyond', () => {
    const mask = renderMask([stroke([20, 20, 40, 20])], 64, 64);
    expect(mask.data[20 * 64 + 30]).toBe(255);
    expect(mask.data[24 * 64 + 30]).toBe(255);
    expect(mask.data[26 * 64 + 30]).toBe(0);
    expect(maskBounds(mask)).toEqual({ x: 15, y: 15, width: 30, height: 10 });
  });

  it('a soft brush fades towards its rim', () => {
    expect(brushFalloff(0, 10, 0.5)).toBe(255);
    expect(brushFalloff(5, 10, 0.5)).toBe(255);
    const mid = brushFalloff(7.5, 10, 0.5);
    expect(mid).toBeGreaterThan(0);
    expect(mid).toBeLessThan(255);
    expect(brushFalloff(10, 10, 0.5)).toBe(0);
  });

  it('drawing a stroke piecewise equals replaying it whole, and repeating it changes nothing', () => {
    const whole = renderMask([stroke([5, 5, 30, 12, 50, 40], 'brush', 9, 0.3)], 64, 64);
    const pieces = renderMask(
      [stroke([5, 5, 30, 12], 'brush', 9, 0.3), stroke([30, 12, 50, 40], 'brush', 9, 0.3)],
      64,
      64,
    );
    expect(Array.from(pieces.data)).toEqual(Array.from(whole.data));
    const twice = renderMask([stroke([5, 5, 30, 12, 50, 40], 'brush', 9, 0.3), stroke([5, 5, 30, 12, 50, 40], 'brush', 9, 0.3)], 64, 64);
    expect(Array.from(twice.data)).toEqual(Array.from(whole.data));
  });

  it('the eraser removes paint, invert swaps, clear empties', () => {
    const ops: MaskOp[] = [stroke([10, 10, 50, 10], 'brush', 12), stroke([30, 10, 30, 10], 'eraser', 6)];
    const mask = renderMask(ops, 64, 64);
    expect(mask.data[10 * 64 + 30]).toBe(0);
    expect(mask.data[10 * 64 + 15]).toBe(255);
    applyMaskOp(mask, { kind: 'invert' });
    expect(mask.data[10 * 64 + 30]).toBe(255);
    expect(mask.data[60 * 64 + 60]).toBe(255);
    expect(mask.data[10 * 64 + 15]).toBe(0);
    applyMaskOp(mask, { kind: 'clear' });
    expect(isMaskEmpty(mask)).toBe(true);
  });

  it('a single click paints a dot; strokes off the edge are clipped', () => {
    const mask = renderMask([stroke([0, 0], 'brush', 8), stroke([70, 70, 90, 90])], 64, 64);
    expect(mask.data[0]).toBe(255);
    expect(maskBounds(mask)).toEqual({ x: 0, y: 0, width: 4, height: 4 });
  });

  it('emptiness and crops look only inside a region', () => {
    const mask = renderMask([stroke([10, 10], 'brush', 6)], 64, 64);
    expect(isMaskEmpty(mask, { x: 32, y: 0, width: 32, height: 64 })).toBe(true);
    expect(isMaskEmpty(mask, { x: 0, y: 0, width: 16, height: 16 })).toBe(false);
    const crop = cropMask(mask, { x: 8, y: 8, width: 8, height: 8 });
    expect(crop.width).toBe(8);
    expect(crop.data[2 * 8 + 2]).toBe(255);
  });
});

describe('undo and redo of the mask', () => {
  it('undo removes the last stroke from the mask, redo brings it back, a new stroke forgets the redo', () => {
    let h = emptyHistory<MaskOp>();
    h = pushHistory(h, stroke([10, 10]));
    h = pushHistory(h, stroke([40, 40]));
    const both = renderMask(h.past, 64, 64);
    h = undoHistory(h);
    const one = renderMask(h.past, 64, 64);
    expect(one.data[40 * 64 + 40]).toBe(0);
    expect(one.data[10 * 64 + 10]).toBe(255);
    h = redoHistory(h);
    expect(Array.from(renderMask(h.past, 64, 64).data)).toEqual(Array.from(both.data));
    h = undoHistory(undoHistory(h));
    expect(isMaskEmpty(renderMask(h.past, 64, 64))).toBe(true);
    expect(undoHistory(h)).toBe(h);
    h = pushHistory(h, stroke([20, 20]));
    expect(h.future).toEqual([]);
    expect(redoHistory(h)).toBe(h);
  });

  it('keeps at most the limit of entries', () => {
    let h = emptyHistory<number>();
    for (let i = 0; i < 10; i++) h = pushHistory(h, i, 4);
    expect(h.past).toEqual([6, 7, 8, 9]);
  });
});

/** RGBA pixels, one [r, g, b, a] per pixel. */
const rgba = (pixels: Array<[number, number, number, number]>) => pixels.flat();

describe('a mask loaded from an image (Use All)', () => {
  it('a raster step replays to exactly the mask it was made from, soft edges and all', () => {
    const painted = renderMask([stroke([5, 5, 30, 12, 50, 40], 'brush', 9, 0.3), stroke([20, 30], 'eraser', 6)], 64, 48);
    const op = rasterOp(painted);
    expect(op.runs.length).toBeLessThan(painted.data.length); // runs, not one number per pixel
    expect(Array.from(renderMask([op], 64, 48).data)).toEqual(Array.from(painted.data));
    // It is JSON for the history and the saved canvas.
    expect(Array.from(renderMask([JSON.parse(JSON.stringify(op)) as MaskOp], 64, 48).data)).toEqual(Array.from(painted.data));
  });

  it('replaces whatever was painted before it, and strokes after it edit it', () => {
    const recalled = rasterOp(renderMask([stroke([10, 10, 40, 10], 'brush', 8)], 64, 64));
    const mask = renderMask([stroke([50, 50], 'brush', 10), recalled, stroke([20, 10], 'eraser', 4)], 64, 64);
    expect(mask.data[50 * 64 + 50]).toBe(0);
    expect(mask.data[10 * 64 + 30]).toBe(255);
    expect(mask.data[10 * 64 + 20]).toBe(0);
  });

  it('reads a mask file as the server does: by its alpha when it has one, else by its brightness', () => {
    const pixels = rgba([
      [255, 255, 255, 255],
      [0, 0, 0, 255],
      [255, 0, 0, 255],
      [0, 255, 0, 255],
      [0, 0, 255, 255],
      [200, 200, 200, 0],
    ]);
    // PIL's convert("L"): red 76, green 150, blue 29.
    expect(Array.from(maskFromPixels(pixels, 6, 1, false).data)).toEqual([255, 0, 76, 150, 29, 200]);
    expect(Array.from(maskFromPixels(pixels, 6, 1, true).data)).toEqual([255, 255, 255, 255, 255, 0]);
  });

  it('a mask of another size is resized by nearest neighbour to the picture', () => {
    const small = { width: 2, height: 2, data: new Uint8ClampedArray([255, 0, 0, 255]) };
    expect(Array.from(resizeNearest(small, 4, 4).data)).toEqual([255, 255, 0, 0, 255, 255, 0, 0, 0, 0, 255, 255, 0, 0, 255, 255]);
    expect(Array.from(maskFromPixels(rgba([[255, 255, 255, 255], [0, 0, 0, 255]]), 2, 1, false, { width: 4, height: 1 }).data)).toEqual([255, 255, 0, 0]);
  });

  it("a picture's transparent pixels (alpha below half) are the mask when no mask file was sent", () => {
    const frame = rgba([
      [10, 20, 30, 255],
      [10, 20, 30, 128],
      [0, 0, 0, 127],
      [0, 0, 0, 0],
    ]);
    expect(Array.from(maskFromTransparency(frame, 4, 1).data)).toEqual([0, 0, 255, 255]);
  });
});
