/** Invoke on the canvas tabs: the mask and region are made here, uploaded when needed, then sent with generateImage. */
import type { ThunkAction, ThunkDispatch, UnknownAction } from '@reduxjs/toolkit';
import type { GenerationParameters, ImageInfo } from '../../app/protocol';
import type { RootState } from '../../app/store';
import { generateImage, uploadImage } from '../../app/socketio/actions';
import { invokeBlocker } from '../../common/util/parameterTranslation';
import { toastAdded } from '../system/systemSlice';
import { boxChanged, CANVAS_SIZE, layerItemAdded, uploadPending, uploadSettled, type CanvasTab, type LayerItem } from './canvasSlice';
import { setOption } from '../options/optionsSlice';
import { selectLimits } from '../system/limits';
import { notAnImage } from '../tabs/useImageChooser';
import { classifyRegion, invokeModeFor, unionWithEmpty } from './geometry';
import { cropMask, isMaskEmpty, renderMask, type Rect } from './mask';
import { maskToDataUrl } from './png';

export type AppThunkDispatch = ThunkDispatch<RootState, unknown, UnknownAction>;
type CanvasThunk = ThunkAction<void, RootState, unknown, UnknownAction>;

export const EMPTY_MASK_MESSAGE =
  'Nothing is masked yet: paint over the part of the image to regenerate, then Invoke. To change the whole image, use Image to Image.';

const nonce = () => `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

/** Pixels straight from the file: no colour conversion or premultiplication, so they stay exact. */
async function loadBitmap(url: string): Promise<ImageBitmap> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url} could not be loaded (${response.status}).`);
  return createImageBitmap(await response.blob(), { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
}

/** Draws the canvas's images, in order, into a context whose origin is the canvas point (ox, oy).
 * An image the server no longer has (deleted since it was placed) is left out, not fatal: the
 * others still draw, and its URL is returned so the user can be told. */
export async function drawLayer(
  ctx: OffscreenCanvasRenderingContext2D | CanvasRenderingContext2D,
  items: readonly LayerItem[],
  ox = 0,
  oy = 0,
): Promise<string[]> {
  const loaded = await Promise.allSettled(items.map((item) => loadBitmap(item.url)));
  ctx.imageSmoothingEnabled = false;
  const missing: string[] = [];
  loaded.forEach((result, i) => {
    if (result.status === 'rejected') {
      missing.push(items[i].url);
      return;
    }
    ctx.drawImage(result.value, items[i].x - ox, items[i].y - oy);
    result.value.close();
  });
  return missing;
}

async function renderRegion(items: readonly LayerItem[], box: Rect): Promise<OffscreenCanvas> {
  const canvas = new OffscreenCanvas(box.width, box.height);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('This browser cannot draw on an offscreen canvas.');
  await drawLayer(ctx, items, box.x, box.y);
  return canvas;
}

/** The smallest rectangle holding every image on the canvas. */
export function layerBounds(items: readonly LayerItem[]): Rect | null {
  if (items.length === 0) return null;
  const x0 = Math.min(...items.map((i) => i.x));
  const y0 = Math.min(...items.map((i) => i.y));
  const x1 = Math.max(...items.map((i) => i.x + i.width));
  const y1 = Math.max(...items.map((i) => i.y + i.height));
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

const fail = (dispatch: AppThunkDispatch, error: unknown) =>
  dispatch(toastAdded({ kind: 'error', message: error instanceof Error ? error.message : String(error) }));

function inpaintOptions(state: RootState, width: number, height: number): Partial<GenerationParameters> {
  return {
    strength: state.options.img2imgStrength,
    fit: false,
    width,
    height,
    inpaint_replace: state.canvas.inpaintReplace,
    seam_size: state.canvas.seamSize,
  };
}

/** Inpainting tab: the whole image is the bounding box, so the model sees all of it as context (unless Use All
 * recalled another box for this image). */
async function invokeInpainting(dispatch: AppThunkDispatch, state: RootState): Promise<void> {
  const image = state.options.initialImage;
  if (!image) return;
  const size = state.canvas.inpaintingSize ?? { width: image.width, height: image.height };
  const mask = renderMask(state.canvas.masks.inpainting.past, size.width, size.height);
  if (isMaskEmpty(mask)) {
    dispatch(toastAdded({ kind: 'info', message: EMPTY_MASK_MESSAGE }));
    return;
  }
  const recalled = state.canvas.inpaintingBox;
  dispatch(
    generateImage({
      overrides: {
        ...inpaintOptions(state, size.width, size.height),
        init_img: image.url,
        init_mask: await maskToDataUrl(mask),
        is_mask_empty: false,
        bounding_box: recalled?.url === image.url ? recalled.box : { x: 0, y: 0, width: size.width, height: size.height },
      },
    }),
  );
}

/** Unified canvas: empty box → text to image, covered box → image to image, else inpaint/outpaint. */
async function invokeUnified(dispatch: AppThunkDispatch, state: RootState): Promise<void> {
  const { box, layer } = state.canvas;
  const region = await renderRegion(layer, box);
  const ctx = region.getContext('2d');
  if (!ctx) return;
  const rgba = ctx.getImageData(0, 0, box.width, box.height).data;
  const mask = cropMask(renderMask(state.canvas.masks.canvas.past, CANVAS_SIZE, CANVAS_SIZE), box);
  const mode = invokeModeFor(classifyRegion(rgba), !isMaskEmpty(mask));
  if (mode === 'txt2img') {
    dispatch(generateImage({ overrides: { width: box.width, height: box.height }, stage: box }));
    return;
  }
  const overrides: Partial<GenerationParameters> =
    mode === 'img2img'
      ? { strength: state.options.img2imgStrength, fit: false, width: box.width, height: box.height }
      : {
          ...inpaintOptions(state, box.width, box.height),
          init_mask: await maskToDataUrl({ ...mask, data: unionWithEmpty(mask.data, rgba) }),
          is_mask_empty: false,
          bounding_box: { x: 0, y: 0, width: box.width, height: box.height },
        };
  const stem = `canvas-region-${nonce()}`;
  dispatch(uploadPending({ stem, upload: { kind: 'invoke', box, overrides } }));
  const file = await region.convertToBlob({ type: 'image/png' });
  dispatch(uploadImage({ file, name: `${stem}.png`, destination: 'canvas-region' }));
}

export const invokeCanvasTab =
  (tab: CanvasTab): CanvasThunk =>
  (dispatch, getState) => {
    const state = getState();
    const blocker = invokeBlocker(state.options, tab);
    if (blocker) {
      dispatch(toastAdded({ kind: 'info', message: blocker }));
      return;
    }
    const work = tab === 'inpainting' ? invokeInpainting(dispatch, state) : invokeUnified(dispatch, state);
    work.catch((error: unknown) => fail(dispatch, error));
  };

/** Saves the canvas's images, flattened to one PNG, into the gallery's Uploads. */
export const saveCanvasToGallery = (): CanvasThunk => (dispatch, getState) => {
  const { layer } = getState().canvas;
  const bounds = layerBounds(layer);
  if (!bounds) {
    dispatch(toastAdded({ kind: 'info', message: 'The canvas is empty: place or generate an image first.' }));
    return;
  }
  const stem = `canvas-${nonce()}`;
  renderRegion(layer, bounds)
    .then((canvas) => canvas.convertToBlob({ type: 'image/png' }))
    .then((file) => {
      dispatch(uploadPending({ stem, upload: { kind: 'save' } }));
      dispatch(uploadImage({ file, name: `${stem}.png`, destination: 'canvas' }));
    })
    .catch((error: unknown) => fail(dispatch, error));
};

/** Uploads a chosen file and places it on the canvas at the box's corner. */
export const uploadToCanvas =
  (file: File): CanvasThunk =>
  (dispatch, getState) => {
    const problem = notAnImage(file);
    if (problem) {
      dispatch(toastAdded({ kind: 'error', message: problem }));
      return;
    }
    const { box } = getState().canvas;
    const stem = `canvas-place-${nonce()}`;
    dispatch(uploadPending({ stem, upload: { kind: 'place', x: box.x, y: box.y } }));
    dispatch(uploadImage({ file, name: `${stem}.png`, destination: 'canvas' }));
  };

/** `outputs/canvas-images/canvas-region-abc.1a2b3c4d.png` → the stem the canvas sent, if it is one of its own. */
export function pendingStemOf(url: string, pending: Record<string, unknown>): string | null {
  const name = url.split('/').pop() ?? '';
  return Object.keys(pending).find((stem) => name.startsWith(`${stem}.`)) ?? null;
}

/** The server stored one of the canvas's uploads: carry on with what it was for. */
export const canvasUploadArrived =
  (image: ImageInfo): CanvasThunk =>
  (dispatch, getState) => {
    const pending = getState().canvas.pendingUploads;
    const stem = pendingStemOf(image.url, pending);
    if (!stem) return;
    const upload = pending[stem];
    dispatch(uploadSettled(stem));
    if (upload.kind === 'invoke') {
      dispatch(generateImage({ overrides: { ...upload.overrides, init_img: image.url }, stage: upload.box }));
    } else if (upload.kind === 'place') {
      dispatch(layerItemAdded({ url: image.url, x: upload.x, y: upload.y, width: image.width, height: image.height }));
    } else {
      dispatch(toastAdded({ kind: 'success', message: 'The canvas was saved to the gallery (Uploads).' }));
    }
  };

/** The user moved or resized the bounding box: the Width/Height options follow its snapped size.
 * (Options → box is an effect in the panel; this direction happens only at the user's edit, so the
 * two never chase each other.) */
export const boxEdited =
  (rect: Rect): CanvasThunk =>
  (dispatch, getState) => {
    dispatch(boxChanged(rect, selectLimits(getState())));
    const { box } = getState().canvas;
    const { width, height } = getState().options;
    if (box.width !== width) dispatch(setOption('width', box.width));
    if (box.height !== height) dispatch(setOption('height', box.height));
  };
