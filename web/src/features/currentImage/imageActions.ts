/** What the image buttons, gallery hover actions and shortcuts do with an image, in one place. */
import type { ThunkAction, UnknownAction } from '@reduxjs/toolkit';
import type { ImageInfo, PostprocessingType } from '../../app/protocol';
import type { RootState } from '../../app/store';
import { deleteImage, runPostprocessing } from '../../app/socketio/actions';
import { metadataSeed, metadataToOptions, promptToString } from '../../common/util/parameterTranslation';
import { applyAllParameters, applyPrompt, applySeed, setInitialImage } from '../options/optionsSlice';
import { toastAdded } from '../system/systemSlice';
import { tabSelected } from '../tabs/tabsSlice';
import { layerItemAdded } from '../canvas/canvasSlice';
import { outpaintSourceSet } from '../outpainting/outpaintingSlice';
import { deleteConfirmationShown } from './currentImageSlice';

type ImageThunk = ThunkAction<void, RootState, unknown, UnknownAction>;

export const hasSeed = (image: ImageInfo | null): boolean => image !== null && metadataSeed(image.metadata) !== null;
export const hasPrompt = (image: ImageInfo | null): boolean => image?.metadata.image?.prompt !== undefined;
export const hasParameters = (image: ImageInfo | null): boolean => image !== null && image.metadata.image !== undefined;

export const loadAllFrom =
  (image: ImageInfo): ImageThunk =>
  (dispatch) => {
    const { options, tab } = metadataToOptions(image.metadata);
    if (Object.keys(options).length === 0) {
      dispatch(toastAdded({ kind: 'info', message: 'This image carries no generation parameters.' }));
      return;
    }
    dispatch(applyAllParameters(options));
    if (tab) dispatch(tabSelected(tab));
    dispatch(toastAdded({ kind: 'success', message: 'Loaded all parameters of this image.' }));
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
  (dispatch, getState) => {
    if (!getState().system.isConnected) {
      dispatch(toastAdded({ kind: 'error', message: 'The server is not connected.' }));
      return;
    }
    dispatch(runPostprocessing({ image, type }));
  };
