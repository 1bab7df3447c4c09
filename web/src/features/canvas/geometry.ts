/** Canvas geometry: the bounding box snapped to multiples of 8, the zoom/pan transform, and what a box covers. */
import type { FieldLimit } from '../../app/protocol';
import { FALLBACK_LIMITS } from '../system/limits';
import type { Rect } from './mask';

/** The width and height range the server accepts (`systemConfig.limits`). */
export interface SizeLimits {
  width: FieldLimit;
  height: FieldLimit;
}

const snap8 = (v: number) => Math.round(v / 8) * 8;
const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** A box the generator accepts: position and size on multiples of 8, within the server's size limits, inside the canvas. */
export function snapBox(box: Rect, canvasWidth: number, canvasHeight: number, size: SizeLimits = FALLBACK_LIMITS): Rect {
  const width = clamp(snap8(box.width), size.width.min, Math.min(size.width.max, Math.floor(canvasWidth / 8) * 8));
  const height = clamp(snap8(box.height), size.height.min, Math.min(size.height.max, Math.floor(canvasHeight / 8) * 8));
  const x = clamp(snap8(box.x), 0, Math.floor((canvasWidth - width) / 8) * 8);
  const y = clamp(snap8(box.y), 0, Math.floor((canvasHeight - height) / 8) * 8);
  return { x, y, width, height };
}

/** screen = canvas × scale + offset. */
export interface ViewTransform {
  scale: number;
  x: number;
  y: number;
}

export const MIN_SCALE = 0.05;
export const MAX_SCALE = 32;

export function toCanvas(view: ViewTransform, sx: number, sy: number): { x: number; y: number } {
  return { x: (sx - view.x) / view.scale, y: (sy - view.y) / view.scale };
}

/** Zooms by `factor` keeping the canvas point under (sx, sy) where it is on screen. */
export function zoomAt(view: ViewTransform, factor: number, sx: number, sy: number): ViewTransform {
  const scale = clamp(view.scale * factor, MIN_SCALE, MAX_SCALE);
  const k = scale / view.scale;
  return { scale, x: sx - (sx - view.x) * k, y: sy - (sy - view.y) * k };
}

/** The whole of `target` visible and centred in a viewport, with a margin. */
export function fitView(target: Rect, viewportWidth: number, viewportHeight: number, margin = 24): ViewTransform {
  const availW = Math.max(1, viewportWidth - margin * 2);
  const availH = Math.max(1, viewportHeight - margin * 2);
  const scale = clamp(Math.min(availW / target.width, availH / target.height), MIN_SCALE, MAX_SCALE);
  return {
    scale,
    x: Math.round((viewportWidth - target.width * scale) / 2 - target.x * scale),
    y: Math.round((viewportHeight - target.height * scale) / 2 - target.y * scale),
  };
}

export type RegionKind = 'empty' | 'full' | 'partial';

/** Pixels below half alpha are empty canvas: the server treats them the same way (as a mask). */
export const EMPTY_ALPHA = 128;

/** Whether RGBA pixels are all empty, all painted, or a mix. */
export function classifyRegion(rgba: Uint8ClampedArray): RegionKind {
  let empty = 0;
  const total = rgba.length / 4;
  for (let i = 3; i < rgba.length; i += 4) if (rgba[i] < EMPTY_ALPHA) empty++;
  if (empty === total) return 'empty';
  if (empty === 0) return 'full';
  return 'partial';
}

export type InvokeMode = 'txt2img' | 'img2img' | 'inpaint';

/** What an Invoke on the unified canvas does with its box: generate from nothing, vary, or fill in. */
export function invokeModeFor(region: RegionKind, maskPainted: boolean): InvokeMode {
  if (region === 'empty') return 'txt2img';
  if (region === 'full' && !maskPainted) return 'img2img';
  return 'inpaint';
}

/** Mask for the box: painted pixels plus the empty ones (white = regenerate), as one byte per pixel. */
export function unionWithEmpty(mask: Uint8ClampedArray, rgba: Uint8ClampedArray): Uint8ClampedArray {
  const out = new Uint8ClampedArray(mask.length);
  for (let i = 0; i < mask.length; i++) out[i] = rgba[i * 4 + 3] < EMPTY_ALPHA ? 255 : mask[i];
  return out;
}
