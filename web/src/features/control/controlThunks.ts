/** What the Control section does with the server: control pictures in (upload, native dialog, gallery,
 * current image), the map preview, a map sent to the gallery, and a unit placed on the Unified Canvas. */
import { openImageNative, toUploadedImage, type ControlDropDetail } from '../../app/desktopBridge';
import type { ImageInfo } from '../../app/protocol';
import type { AppThunk, RootState } from '../../app/store';
import { uploadFile } from '../gallery/uploads';
import { errorOccurred, toastAdded } from '../system/systemSlice';
import { notAnImage } from '../tabs/useImageChooser';
import { controlEnabled, unitAdded, unitImageSet, unitMapReceived, unitPlacedOnCanvas, type ControlPicture, type ControlUnit } from './controlSlice';
import { defaultModel, mapInputs, mapRequest, previewInit, selectControlFacts } from './units';
import { planOutpaint } from '../outpainting/geometry';
import { renderMask } from '../canvas/mask';
import { maskToDataUrl } from '../canvas/png';

type Dispatch = Parameters<AppThunk>[0];
const message = (error: unknown) => (error instanceof Error ? error.message : String(error));
const unitOf = (state: RootState, id: string): ControlUnit | undefined => state.control.units.find((u) => u.id === id);
const picture = (image: { url: string; width: number; height: number }): ControlPicture => ({
  url: image.url,
  width: image.width,
  height: image.height,
});

/** The size the next Invoke generates at on the active tab: the map is previewed at it. */
export function generationSize(state: RootState): { width: number; height: number } {
  const tab = state.tabs.activeTab;
  if (tab === 'canvas') return { width: state.canvas.box.width, height: state.canvas.box.height };
  // Outpainting generates the grown picture: the map is fitted to all of it.
  const { source, extension } = state.outpainting;
  if (tab === 'outpainting' && source) {
    const plan = planOutpaint(source.width, source.height, extension);
    return { width: plan.width, height: plan.height };
  }
  const init = state.options.initialImage;
  if (tab === 'inpainting' && init) return state.canvas.inpaintingSize ?? { width: init.width, height: init.height };
  return { width: state.options.width, height: state.options.height };
}

/** Uploads a chosen or dropped file as the unit's control picture (kept out of the gallery). */
export const uploadControlPicture =
  (unitId: string, file: File): AppThunk<Promise<void>> =>
  async (dispatch) => {
    const problem = notAnImage(file);
    if (problem) {
      dispatch(errorOccurred(problem));
      return;
    }
    try {
      const image = await dispatch(uploadFile(file, file.name, 'control'));
      dispatch(unitImageSet({ id: unitId, image: picture(image) }));
    } catch (error: unknown) {
      dispatch(errorOccurred(message(error)));
    }
  };

/** The desktop window's native dialog: the bridge uploads the file as a control picture (outside the gallery). */
export const chooseControlPictureNative =
  (unitId: string): AppThunk<Promise<void>> =>
  async (dispatch) => {
    try {
      const image = await openImageNative('control');
      if (!image) return;
      dispatch(unitImageSet({ id: unitId, image: picture(image) }));
    } catch {
      dispatch(errorOccurred('The file dialog could not be opened.'));
    }
  };

/** The desktop window uploaded a file dropped on a unit (CONTROL_DROPPED_EVENT): it is that unit's picture. */
export const controlPictureDropped =
  (detail: Partial<ControlDropDetail> | null | undefined): AppThunk =>
  (dispatch, getState) => {
    const image = detail?.image ? toUploadedImage(detail.image) : null;
    if (!image || typeof detail?.unit !== 'string') return;
    if (!unitOf(getState(), detail.unit)) {
      dispatch(toastAdded({ kind: 'info', message: 'The control unit the picture was dropped on has been removed.' }));
      return;
    }
    dispatch(unitImageSet({ id: detail.unit, image: picture(image) }));
  };

/** "Use current image": the picture shown in the viewer becomes the unit's control picture. */
export const currentImageToControl =
  (unitId: string): AppThunk =>
  (dispatch, getState) => {
    const current = getState().gallery.currentImage;
    if (!current) {
      dispatch(toastAdded({ kind: 'info', message: 'No image is shown: pick one in the gallery first.' }));
      return;
    }
    dispatch(unitImageSet({ id: unitId, image: picture(current) }));
  };

/** A gallery image's "Use as control image": the first unit without a picture takes it (a new unit when
 * every unit has one), and the section turns on. */
export const galleryImageToControl =
  (image: ImageInfo): AppThunk =>
  (dispatch, getState) => {
    const state = getState();
    const facts = selectControlFacts(state);
    let target = state.control.units.findIndex((u) => u.image === null);
    if (target < 0) {
      if (state.control.units.length >= facts.maxUnits) {
        dispatch(toastAdded({ kind: 'info', message: `Every one of the ${facts.maxUnits} control units has a picture: remove one first.` }));
        return;
      }
      dispatch(unitAdded(defaultModel(facts), facts.maxUnits));
      target = getState().control.units.length - 1;
    }
    const unit = getState().control.units[target];
    dispatch(unitImageSet({ id: unit.id, image: picture(image) }));
    dispatch(controlEnabled(true));
    dispatch(toastAdded({ kind: 'success', message: `The image is the control picture of control unit ${target + 1}.` }));
  };

/** Preview Map: the server runs the unit's preprocessor on its picture (where jobs run) and the map is shown. */
export const previewMap =
  (unitId: string): AppThunk<Promise<void>> =>
  async (dispatch, getState, { emitters }) => {
    const state = getState();
    const unit = unitOf(state, unitId);
    const facts = selectControlFacts(state);
    const init = unit ? previewInit(unit, state.tabs.activeTab, state.options, facts, state.canvas.masks.inpainting.past) : null;
    if (!unit || (!unit.image && !init)) {
      dispatch(toastAdded({ kind: 'info', message: 'Choose a control picture first.' }));
      return;
    }
    const size = generationSize(state);
    const request = mapRequest(unit, size, facts, init);
    const painted = init?.mask && !unit.image ? await maskToDataUrl(renderMask(init.mask, size.width, size.height)) : null;
    const answer = await emitters.requestControlMap(painted ? { ...request, init_mask: painted } : request);
    const ack = answer.ack;
    if (answer.error || !ack?.url) {
      dispatch(errorOccurred(answer.error ?? ack?.error ?? 'The server made no map.'));
      return;
    }
    const map = { url: ack.url, width: ack.width ?? request.width ?? 0, height: ack.height ?? request.height ?? 0, madeFrom: mapInputs(request, init) };
    dispatch(unitMapReceived({ id: unitId, map }));
  };

/** Send to gallery: the unit's map is copied into the user's Uploads. */
export const sendMapToGallery =
  (unitId: string): AppThunk<Promise<void>> =>
  async (dispatch, getState, { emitters }) => {
    const map = unitOf(getState(), unitId)?.map;
    if (!map) return;
    const answer = await emitters.saveControlMap(map.url);
    if (answer.error || !answer.ack?.url) {
      dispatch(errorOccurred(answer.error ?? answer.ack?.error ?? 'The server did not save the map.'));
      return;
    }
    dispatch(toastAdded({ kind: 'success', message: 'The map was saved to the gallery (Uploads).' }));
  };

/** The natural size of a served picture (a unit recalled from a recipe knows only its URL). */
async function pictureSize(url: string): Promise<{ width: number; height: number }> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url} could not be loaded (${response.status}).`);
  const bitmap = await createImageBitmap(await response.blob());
  const size = { width: bitmap.width, height: bitmap.height };
  bitmap.close();
  return size;
}

/** Places the unit's control picture on the Unified Canvas at the bounding box's corner (its control layer). */
export const placeOnCanvas =
  (unitId: string): AppThunk<Promise<void>> =>
  async (dispatch, getState) => {
    const unit = unitOf(getState(), unitId);
    if (!unit?.image) return;
    try {
      if (unit.image.width === 0 || unit.image.height === 0) {
        const size = await pictureSize(unit.image.url);
        dispatch(unitImageSet({ id: unitId, image: { url: unit.image.url, ...size } }));
      }
      const { box } = getState().canvas;
      dispatch(unitPlacedOnCanvas({ id: unitId, at: { x: box.x, y: box.y } }));
    } catch (error: unknown) {
      fail(dispatch, error);
    }
  };

const fail = (dispatch: Dispatch, error: unknown) => dispatch(errorOccurred(message(error)));
