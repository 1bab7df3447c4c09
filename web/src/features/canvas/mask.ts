/** The mask layer as pixels: painting strokes (soft-edged brush and eraser), invert and clear, replayed from history. */

/** One mask value per pixel, 0 (keep) to 255 (regenerate), in image/canvas pixel coordinates. */
export interface MaskRaster {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

export type MaskTool = 'brush' | 'eraser';

/** One undoable change of the mask. Strokes keep their points (x0, y0, x1, y1, ...) so history stays small;
 * a raster (a mask loaded from an image, as Use All does) keeps its pixels as runs of equal values. */
export type MaskOp =
  | { kind: 'stroke'; tool: MaskTool; size: number; hardness: number; points: number[] }
  | { kind: 'clear' }
  | { kind: 'invert' }
  | RasterOp;

/** A whole mask, row by row, as [value, count, value, count, ...]. */
export interface RasterOp {
  kind: 'raster';
  width: number;
  height: number;
  runs: number[];
}

/** A rectangle of pixels touched by a change: what the overlay must redraw. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export function createMask(width: number, height: number): MaskRaster {
  return { width, height, data: new Uint8ClampedArray(width * height) };
}

/** Coverage at a distance from the stroke's centre line: full inside the hard core, easing to 0 at the rim. */
export function brushFalloff(distance: number, radius: number, hardness: number): number {
  if (distance >= radius) return 0;
  const core = radius * Math.min(1, Math.max(0, hardness));
  if (distance <= core) return 255;
  const t = (distance - core) / (radius - core);
  const eased = 1 - t * t * (3 - 2 * t); // smoothstep, so soft edges have no visible ring
  return Math.round(255 * eased);
}

function distanceToSegment(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax;
  const dy = by - ay;
  const len2 = dx * dx + dy * dy;
  let t = len2 === 0 ? 0 : ((px - ax) * dx + (py - ay) * dy) / len2;
  t = Math.max(0, Math.min(1, t));
  const cx = ax + t * dx - px;
  const cy = ay + t * dy - py;
  return Math.sqrt(cx * cx + cy * cy);
}

/**
 * Paints one stroke. Each pixel takes the coverage of its nearest point on the stroke, and the brush keeps
 * the larger value while the eraser keeps the smaller: so painting a stroke twice changes nothing, and a
 * stroke drawn piecewise while the mouse moves equals the same stroke replayed from history.
 */
export function applyStroke(mask: MaskRaster, op: Extract<MaskOp, { kind: 'stroke' }>): Rect | null {
  const { points, size, hardness, tool } = op;
  if (points.length < 2) return null;
  const radius = Math.max(0.5, size / 2);
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (let i = 0; i < points.length; i += 2) {
    minX = Math.min(minX, points[i]);
    maxX = Math.max(maxX, points[i]);
    minY = Math.min(minY, points[i + 1]);
    maxY = Math.max(maxY, points[i + 1]);
  }
  const x0 = Math.max(0, Math.floor(minX - radius));
  const y0 = Math.max(0, Math.floor(minY - radius));
  const x1 = Math.min(mask.width, Math.ceil(maxX + radius) + 1);
  const y1 = Math.min(mask.height, Math.ceil(maxY + radius) + 1);
  if (x0 >= x1 || y0 >= y1) return null;
  const segments = points.length === 2 ? 1 : points.length / 2 - 1;
  for (let s = 0; s < segments; s++) {
    const ax = points[s * 2];
    const ay = points[s * 2 + 1];
    const bx = points.length === 2 ? ax : points[s * 2 + 2];
    const by = points.length === 2 ? ay : points[s * 2 + 3];
    const sx0 = Math.max(x0, Math.floor(Math.min(ax, bx) - radius));
    const sy0 = Math.max(y0, Math.floor(Math.min(ay, by) - radius));
    const sx1 = Math.min(x1, Math.ceil(Math.max(ax, bx) + radius) + 1);
    const sy1 = Math.min(y1, Math.ceil(Math.max(ay, by) + radius) + 1);
    for (let y = sy0; y < sy1; y++) {
      for (let x = sx0; x < sx1; x++) {
        const v = brushFalloff(distanceToSegment(x + 0.5, y + 0.5, ax, ay, bx, by), radius, hardness);
        if (v === 0) continue;
        const i = y * mask.width + x;
        if (tool === 'brush') {
          if (v > mask.data[i]) mask.data[i] = v;
        } else if (255 - v < mask.data[i]) {
          mask.data[i] = 255 - v;
        }
      }
    }
  }
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** Applies one history entry; returns the rectangle it changed. */
export function applyMaskOp(mask: MaskRaster, op: MaskOp): Rect | null {
  const whole = { x: 0, y: 0, width: mask.width, height: mask.height };
  switch (op.kind) {
    case 'stroke':
      return applyStroke(mask, op);
    case 'clear':
      mask.data.fill(0);
      return whole;
    case 'invert':
      for (let i = 0; i < mask.data.length; i++) mask.data[i] = 255 - mask.data[i];
      return whole;
    case 'raster':
      applyRaster(mask, op);
      return whole;
  }
}

/** A mask as a raster step of history: what Use All puts on the Inpainting tab. */
export function rasterOp(mask: MaskRaster): RasterOp {
  const runs: number[] = [];
  const { data } = mask;
  for (let i = 0; i < data.length; ) {
    let j = i + 1;
    while (j < data.length && data[j] === data[i]) j++;
    runs.push(data[i], j - i);
    i = j;
  }
  return { kind: 'raster', width: mask.width, height: mask.height, runs };
}

/** The raster's pixels replace the mask's; where the sizes differ, only the overlap is copied. */
function applyRaster(mask: MaskRaster, op: RasterOp): void {
  const full = createMask(op.width, op.height);
  let at = 0;
  for (let r = 0; r + 1 < op.runs.length && at < full.data.length; r += 2) {
    full.data.fill(op.runs[r], at, Math.min(full.data.length, at + op.runs[r + 1]));
    at += op.runs[r + 1];
  }
  if (op.width === mask.width && op.height === mask.height) {
    mask.data.set(full.data);
    return;
  }
  mask.data.fill(0);
  const w = Math.min(op.width, mask.width);
  for (let y = 0; y < Math.min(op.height, mask.height); y++) {
    mask.data.set(full.data.subarray(y * op.width, y * op.width + w), y * mask.width);
  }
}

/**
 * A mask image's decoded RGBA pixels as mask values, read the way the server reads a mask: its alpha
 * when the file has an alpha channel, else its luminance (PIL's `convert("L")`); then resized to the
 * picture's size by nearest neighbour, as the server does when the sizes differ.
 */
export function maskFromPixels(
  rgba: ArrayLike<number>,
  width: number,
  height: number,
  hasAlpha: boolean,
  target: { width: number; height: number } = { width, height },
): MaskRaster {
  const values = new Uint8ClampedArray(width * height);
  for (let i = 0; i < values.length; i++) {
    const o = i * 4;
    values[i] = hasAlpha ? rgba[o + 3] : (rgba[o] * 19595 + rgba[o + 1] * 38470 + rgba[o + 2] * 7471 + 0x8000) >> 16;
  }
  return resizeNearest({ width, height, data: values }, target.width, target.height);
}

/** The region a picture's transparency marks, as the server reads it with no mask: alpha below half. */
export function maskFromTransparency(rgba: ArrayLike<number>, width: number, height: number): MaskRaster {
  const mask = createMask(width, height);
  for (let i = 0; i < mask.data.length; i++) mask.data[i] = rgba[i * 4 + 3] < 128 ? 255 : 0;
  return mask;
}

/** Nearest-neighbour resize that samples each target pixel's centre, as PIL's NEAREST does. */
export function resizeNearest(mask: MaskRaster, width: number, height: number): MaskRaster {
  if (mask.width === width && mask.height === height) return mask;
  const out = createMask(width, height);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(mask.height - 1, Math.floor(((y + 0.5) * mask.height) / height));
    for (let x = 0; x < width; x++) {
      const sx = Math.min(mask.width - 1, Math.floor(((x + 0.5) * mask.width) / width));
      out.data[y * width + x] = mask.data[sy * mask.width + sx];
    }
  }
  return out;
}

/** The mask a history describes, from scratch (after undo, or for export). */
export function renderMask(ops: readonly MaskOp[], width: number, height: number): MaskRaster {
  const mask = createMask(width, height);
  for (const op of ops) applyMaskOp(mask, op);
  return mask;
}

/** The server regenerates pixels whose mask value is above half; below that nothing is painted. */
export const MASK_THRESHOLD = 128;

export function isMaskEmpty(mask: MaskRaster, region?: Rect): boolean {
  return maskBounds(mask, region) === null;
}

/** The smallest rectangle holding every painted pixel (within `region` when given), or null. */
export function maskBounds(mask: MaskRaster, region?: Rect): Rect | null {
  const rx0 = Math.max(0, region?.x ?? 0);
  const ry0 = Math.max(0, region?.y ?? 0);
  const rx1 = Math.min(mask.width, region ? region.x + region.width : mask.width);
  const ry1 = Math.min(mask.height, region ? region.y + region.height : mask.height);
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -1;
  let maxY = -1;
  for (let y = ry0; y < ry1; y++) {
    const row = y * mask.width;
    for (let x = rx0; x < rx1; x++) {
      if (mask.data[row + x] >= MASK_THRESHOLD) {
        if (x < minX) minX = x;
        if (x > maxX) maxX = x;
        if (y < minY) minY = y;
        maxY = y;
      }
    }
  }
  if (maxX < 0) return null;
  return { x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1 };
}

/** The part of the mask inside `region`, as its own raster (the unified canvas's bounding box). */
export function cropMask(mask: MaskRaster, region: Rect): MaskRaster {
  const out = createMask(region.width, region.height);
  for (let y = 0; y < region.height; y++) {
    const sy = region.y + y;
    if (sy < 0 || sy >= mask.height) continue;
    for (let x = 0; x < region.width; x++) {
      const sx = region.x + x;
      if (sx < 0 || sx >= mask.width) continue;
      out.data[y * region.width + x] = mask.data[sy * mask.width + sx];
    }
  }
  return out;
}

/** Writes the mask as the overlay's RGBA pixels (one colour, the mask value as alpha) for a rectangle. */
export function overlayPixels(mask: MaskRaster, rect: Rect, colour: [number, number, number]): Uint8ClampedArray<ArrayBuffer> {
  const out = new Uint8ClampedArray(rect.width * rect.height * 4);
  for (let y = 0; y < rect.height; y++) {
    for (let x = 0; x < rect.width; x++) {
      const v = mask.data[(rect.y + y) * mask.width + rect.x + x];
      const o = (y * rect.width + x) * 4;
      out[o] = colour[0];
      out[o + 1] = colour[1];
      out[o + 2] = colour[2];
      out[o + 3] = v;
    }
  }
  return out;
}
