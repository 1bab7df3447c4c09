/** Outpainting geometry: how far each side is extended, snapped to 8 px, and the size of the grown picture. */

export type Side = 'top' | 'right' | 'bottom' | 'left';
export const SIDES: readonly Side[] = ['top', 'right', 'bottom', 'left'];

export type Extension = Record<Side, number>;

export const NO_EXTENSION: Extension = { top: 0, right: 0, bottom: 0, left: 0 };
export const EXTENSION_STEP = 8;
export const EXTENSION_MAX = 512;
export const EXTENSION_PRESETS = [64, 128, 256] as const;
import { FALLBACK_LIMITS } from '../system/limits';
import type { SizeLimits } from '../canvas/geometry';

/** A pixel count snapped to the nearest multiple of 8 within 0..EXTENSION_MAX. */
export function snapExtension(px: number): number {
  if (!Number.isFinite(px)) return 0;
  const snapped = Math.round(px / EXTENSION_STEP) * EXTENSION_STEP;
  return Math.min(EXTENSION_MAX, Math.max(0, snapped));
}

/**
 * The extension a drag gives: the value when the drag began plus the pointer's travel outwards
 * (screen pixels divided by the display scale), snapped to 8.
 */
export function dragExtension(startValue: number, outwardScreenPx: number, scale: number): number {
  return snapExtension(startValue + outwardScreenPx / (scale > 0 ? scale : 1));
}

/** How far the pointer moved away from the image across a side, in screen pixels. */
export function outwardTravel(side: Side, dx: number, dy: number): number {
  switch (side) {
    case 'top':
      return -dy;
    case 'bottom':
      return dy;
    case 'left':
      return -dx;
    case 'right':
      return dx;
  }
}

export const hasExtension = (ext: Extension): boolean => SIDES.some((s) => ext[s] > 0);

/** Where the original goes in the grown picture and how big that picture is. */
export interface OutpaintPlan {
  /** The grown picture: a multiple of 8 on both axes. */
  width: number;
  height: number;
  /** The original's top-left corner in it. */
  x: number;
  y: number;
  sourceWidth: number;
  sourceHeight: number;
  /** The extension actually used: the asked one, with right/bottom padded so the size is a multiple of 8. */
  extension: Extension;
}

/**
 * Lays out the grown picture. A source whose size is not a multiple of 8 gets the missing pixels
 * added to the right or bottom (or the left/top when only those are extended), so the server never
 * has to resize and the original stays pixel-aligned.
 */
export function planOutpaint(sourceWidth: number, sourceHeight: number, ext: Extension): OutpaintPlan {
  const extension: Extension = {
    top: snapExtension(ext.top),
    right: snapExtension(ext.right),
    bottom: snapExtension(ext.bottom),
    left: snapExtension(ext.left),
  };
  const padW = (EXTENSION_STEP - (sourceWidth % EXTENSION_STEP)) % EXTENSION_STEP;
  const padH = (EXTENSION_STEP - (sourceHeight % EXTENSION_STEP)) % EXTENSION_STEP;
  if (padW) {
    if (extension.left > 0 && extension.right === 0) extension.left += padW;
    else extension.right += padW;
  }
  if (padH) {
    if (extension.top > 0 && extension.bottom === 0) extension.top += padH;
    else extension.bottom += padH;
  }
  return {
    width: sourceWidth + extension.left + extension.right,
    height: sourceHeight + extension.top + extension.bottom,
    x: extension.left,
    y: extension.top,
    sourceWidth,
    sourceHeight,
    extension,
  };
}

/** Why this plan cannot be sent, as a sentence for the user, or null when it can. */
export function planProblem(plan: OutpaintPlan, requested: Extension, size: SizeLimits = FALLBACK_LIMITS): string | null {
  if (!hasExtension(requested)) return 'Choose how many pixels to add on at least one side.';
  if (plan.width > size.width.max || plan.height > size.height.max) {
    return `The outpainted image would be ${plan.width}×${plan.height}; at most ${size.width.max}×${size.height.max} px is allowed.`;
  }
  if (plan.width < size.width.min || plan.height < size.height.min) {
    return `The outpainted image would be ${plan.width}×${plan.height}; at least ${size.width.min}×${size.height.min} px is needed.`;
  }
  return null;
}
