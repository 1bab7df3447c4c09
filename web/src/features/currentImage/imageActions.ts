/** What the image buttons, gallery hover actions and shortcuts do with an image, in one place. */
import { selectSamplers } from '../system/limits';
import type { ImageInfo, PostprocessingParameters, PostprocessingType } from '../../app/protocol';
import type { AppThunk, RootState } from '../../app/store';
import { deleteImage, requestModelChange } from '../../app/socketio/actions';
import {
  metadataSeed,
  metadataToOptions,
  promptToString,
  reproducibilityWarning,
  type Recall,
} from '../../common/util/parameterTranslation';
import { applyAllParameters, applyPrompt, applySeed, setInitialImage } from '../options/optionsSlice';
import { activeModelName, errorOccurred, toastAdded } from '../system/systemSlice';
import { tabSelected } from '../tabs/tabsSlice';
import { inpaintingRecalled, layerItemAdded } from '../canvas/canvasSlice';
import { loadInpaintingRecall } from '../canvas/recall';
import { outpaintSourceSet } from '../outpainting/outpaintingSlice';
import { deleteConfirmationShown } from './currentImageSlice';
import { unitsRecalled } from '../control/controlSlice';
import { recallUnits, selectControlFacts } from '../control/units';

type ImageThunk = AppThunk;

export const hasSeed = (image: ImageInfo | null): boolean => image !== null && metadataSeed(image.metadata) !== null;
export const hasPrompt = (image: ImageInfo | null): boolean => image?.metadata.image?.prompt !== undefined;
export const hasParameters = (image: ImageInfo | null): boolean => image !== null && image.metadata.image !== undefined;

/** Use All's notes for the user: what will keep Invoke from giving the same pixels, if anything. */
function recallWarnings(image: ImageInfo, recall: Recall, state: RootState): string[] {
  const notes: string[] = [];
  const config = state.system.config;
  if (recall.model && config && !Object.hasOwn(config.model_list, recall.model)) {
    notes.push(
      `This image was made with the model ${recall.model}, which is not installed here; Invoke uses ${activeModelName(config) ?? 'the current model'}, so its pixels will differ.`,
    );
  }
  const device = reproducibilityWarning(image.metadata, config ?? {});
  if (device) notes.push(device);
  if (recall.unsupported) notes.push(recall.unsupported);
  const installed = new Set(selectControlFacts(state).models.map((m) => m.name));
  const absent = recallUnits(image).filter((u) => u.model && !installed.has(u.model)).map((u) => u.model);
  if (config && absent.length > 0) {
    notes.push(`This image was steered by the ControlNet ${[...new Set(absent)].join(', ')}, which is not installed here: choose another control model, and expect other pixels.`);
  }
  return notes;
}


/** Use All's last step: the control panel's values, the image's model and tab, and what the user should know. */
const applyRecall =
  (image: ImageInfo, recall: Recall): ImageThunk =>
  (dispatch, getState) => {
    const state = getState();
    const config = state.system.config;
    dispatch(applyAllParameters(recall.options));
    // A recipe without units was made without any: the section turns off so Invoke sends none.
    if (image.metadata.image?.seed !== undefined) dispatch(unitsRecalled(recallUnits(image)));
    // The model switch is a job queued before any Invoke that follows, so that Invoke uses it.
    if (recall.model && config && Object.hasOwn(config.model_list, recall.model) && activeModelName(config) !== recall.model) {
      dispatch(requestModelChange(recall.model));
    }
    if (recall.tab) dispatch(tabSelected(recall.tab));
    dispatch(toastAdded({ kind: 'success', message: 'Loaded all parameters of this image.' }));
    for (const message of recallWarnings(image, recall, state)) dispatch(toastAdded({ kind: 'info', message }));
  };

/** Use All: every parameter of the image, its model and its tab; an inpainted image also brings back its
 * picture and mask into the Inpainting tab, so that Invoke regenerates the same pixels. */
export const loadAllFrom =
  (image: ImageInfo): ImageThunk =>
  (dispatch, getState) => {
    const recall = metadataToOptions(image.metadata, selectSamplers(getState()));
    if (Object.keys(recall.options).length === 0) {
      dispatch(toastAdded({ kind: 'info', message: 'This image carries no generation parameters.' }));
      return;
    }
    if (!recall.inpainting) {
      dispatch(applyRecall(image, recall));
      return;
    }
    // The picture's size and the mask's pixels first: nothing changes until both are here.
    loadInpaintingRecall(recall.inpainting).then(
      ({ image: picture, recalled }) => {
        dispatch(inpaintingRecalled(recalled));
        dispatch(applyRecall(image, { ...recall, options: { ...recall.options, initialImage: picture } }));
      },
      (error: unknown) => dispatch(errorOccurred(error instanceof Error ? error.message : String(error))),
    );
  };

export const loadSeedFrom =
  (image: ImageInfo): ImageThunk =>
  (dispatch) => {
    const seed = metadataSeed(image.metadata);
    if (seed === null) {
      dispatch(toastAdded({ kind: 'info', message: 'This image has no seed in its metadata.' }));
      return;
    }
    dispatch(applySeed(seed));
    dispatch(toastAdded({ kind: 'success', message: `Seed set to ${seed}.` }));
  };

export const loadPromptFrom =
  (image: ImageInfo): ImageThunk =>
  (dispatch) => {
    const prompt = image.metadata.image?.prompt;
    if (prompt === undefined) {
      dispatch(toastAdded({ kind: 'info', message: 'This image has no prompt in its metadata.' }));
      return;
    }
    dispatch(applyPrompt(promptToString(prompt)));
  };

export const sendToImageToImage =
  (image: ImageInfo): ImageThunk =>
  (dispatch) => {
    dispatch(setInitialImage(image));
    dispatch(tabSelected('img2img'));
  };

/** The canvas tabs an image can be sent to, as the image buttons' "Send to" menu lists them. */
export const SEND_TARGETS = [
  { tab: 'inpainting', label: 'Inpainting', hint: 'paint a mask over what should change' },
  { tab: 'outpainting', label: 'Outpainting', hint: 'grow the picture past its edges' },
  { tab: 'canvas', label: 'Unified Canvas', hint: 'placed at the bounding box' },
] as const;

export const sendToTab =
  (image: ImageInfo, tab: (typeof SEND_TARGETS)[number]['tab']): ImageThunk =>
  (dispatch, getState) => {
    if (tab === 'inpainting') {
      dispatch(setInitialImage(image));
    } else if (tab === 'outpainting') {
      dispatch(outpaintSourceSet(image));
    } else {
      const { box } = getState().canvas;
      dispatch(layerItemAdded({ url: image.url, x: box.x, y: box.y, width: image.width, height: image.height }));
    }
    dispatch(tabSelected(tab));
  };

/** Deletes at once, or asks first when the user wants confirmation. */
export const requestDeletion =
  (image: ImageInfo): ImageThunk =>
  (dispatch, getState) => {
    if (getState().system.shouldConfirmOnDelete) dispatch(deleteConfirmationShown(image));
    else dispatch(deleteImage(image));
  };

export const postprocess =
  (image: ImageInfo, type: PostprocessingType): ImageThunk =>
  (dispatch, getState, { emitters }) => {
    if (!getState().system.isConnected) {
      dispatch(toastAdded({ kind: 'error', message: 'The server is not connected.' }));
      return;
    }
    const o = getState().options;
    const parameters: PostprocessingParameters = {
      type,
      upscale: [o.upscalingLevel, o.upscalingStrength],
      facetool_strength: o.facetoolStrength,
      codeformer_fidelity: o.codeformerFidelity,
    };
    void emitters.runPostprocessing(image, parameters);
  };
