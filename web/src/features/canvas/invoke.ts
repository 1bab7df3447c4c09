/** Invoke on the canvas tabs: the mask and region are made here, uploaded when needed, then sent with generateImage. */
import type { ControlUnitParameters, GenerationParameters } from '../../app/protocol';
import type { AppThunk, RootState } from '../../app/store';
import { invokeBlocker } from '../../common/util/parameterTranslation';
import { uploadFile } from '../gallery/uploads';
import { newRequestId } from '../jobs/jobTracker';
import { generate } from '../options/generate';
import { toastAdded } from '../system/systemSlice';
import { boxChanged, CANVAS_SIZE, layerItemAdded, stagingRequested, type CanvasTab, type LayerItem } from './canvasSlice';
import { setOption } from '../options/optionsSlice';
import { selectLimits } from '../system/limits';
import { notAnImage } from '../tabs/useImageChooser';
import { classifyRegion, invokeModeFor, unionWithEmpty } from './geometry';
import { cropMask, isMaskEmpty, renderMask, type Rect } from './mask';
import { maskToDataUrl } from './png';
import { controlBlockerFor, controlParameters, selectControlFacts, unitParameters } from '../control/units';

type AppThunkDispatch = Parameters<AppThunk>[0];
type CanvasThunk = AppThunk;

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
  await dispatch(
    generate({
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

/** The Control section's units for a canvas Invoke: a unit placed on the canvas (its control layer) sends
 * the part of its picture under the box, uploaded as a control picture; the others send their own. */
async function controlUnderBox(dispatch: AppThunkDispatch, state: RootState, box: Rect): Promise<ControlUnitParameters[] | undefined> {
  const facts = selectControlFacts(state);
  if (!controlParameters(state.control, facts)) return undefined;
  return Promise.all(
    state.control.units.map(async (unit) => {
      if (!unit.onCanvas || !unit.image) return unitParameters(unit, facts);
      const placed = { url: unit.image.url, ...unit.onCanvas, width: unit.image.width, height: unit.image.height };
      const region = await renderRegion([placed], box);
      const file = await region.convertToBlob({ type: 'image/png' });
      const uploaded = await dispatch(uploadFile(file, `control-region-${nonce()}.png`, 'control'));
      return unitParameters(unit, facts, uploaded.url);
    }),
  );
}

/** Unified canvas: empty box → text to image, covered box → image to image, else inpaint/outpaint. */
async function invokeUnified(dispatch: AppThunkDispatch, state: RootState): Promise<void> {
  const { box, layer } = state.canvas;
  const control = await controlUnderBox(dispatch, state, box);
  const region = await renderRegion(layer, box);
  const ctx = region.getContext('2d');
  if (!ctx) return;
  const rgba = ctx.getImageData(0, 0, box.width, box.height).data;
  const mask = cropMask(renderMask(state.canvas.masks.canvas.past, CANVAS_SIZE, CANVAS_SIZE), box);
  const mode = invokeModeFor(classifyRegion(rgba), !isMaskEmpty(mask));
  if (mode === 'txt2img') {
    await dispatch(generateStaged({ width: box.width, height: box.height, control }, box));
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
  const file = await region.convertToBlob({ type: 'image/png' });
  // A refused upload throws its sentence: no generation is sent without the region it needs.
  const uploaded = await dispatch(uploadFile(file, `canvas-region-${nonce()}.png`, 'canvas-region'));
  await dispatch(generateStaged({ ...overrides, init_img: uploaded.url, control }, box));
}

/** Generates with the results staged at `box`: the job tracker brings them back to the canvas. */
const generateStaged =
  (overrides: Partial<GenerationParameters>, box: Rect): AppThunk<Promise<void>> =>
  async (dispatch) => {
    const requestId = newRequestId('canvas');
    dispatch(stagingRequested({ requestId, stage: box }));
    await dispatch(generate({ overrides, owner: 'canvas', requestId }));
  };

export const invokeCanvasTab =
  (tab: CanvasTab): AppThunk<Promise<void>> =>
  async (dispatch, getState) => {
    const state = getState();
    const blocker = invokeBlocker(state.options, tab) ?? controlBlockerFor(state, tab);
    if (blocker) {
      dispatch(toastAdded({ kind: 'info', message: blocker }));
      return;
    }
    try {
      await (tab === 'inpainting' ? invokeInpainting(dispatch, state) : invokeUnified(dispatch, state));
    } catch (error: unknown) {
      fail(dispatch, error);
    }
  };

/** Saves the canvas's images, flattened to one PNG, into the gallery's Uploads. */
export const saveCanvasToGallery = (): CanvasThunk => (dispatch, getState) => {
  const { layer } = getState().canvas;
  const bounds = layerBounds(layer);
  if (!bounds) {
    dispatch(toastAdded({ kind: 'info', message: 'The canvas is empty: place or generate an image first.' }));
    return;
  }
  renderRegion(layer, bounds)
    .then((canvas) => canvas.convertToBlob({ type: 'image/png' }))
    .then((file) => dispatch(uploadFile(file, `canvas-${nonce()}.png`, 'canvas')))
    .then(() => dispatch(toastAdded({ kind: 'success', message: 'The canvas was saved to the gallery (Uploads).' })))
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
    dispatch(uploadFile(file, `canvas-place-${nonce()}.png`, 'canvas')).then(
      (image) => dispatch(layerItemAdded({ url: image.url, x: box.x, y: box.y, width: image.width, height: image.height })),
      (error: unknown) => fail(dispatch, error),
    );
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
