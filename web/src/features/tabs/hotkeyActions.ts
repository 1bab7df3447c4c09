/** What the page-wide shortcuts do (the canvas tools' own shortcuts live with the canvas toolbar). */
import type { ImageInfo } from '../../app/protocol';
import type { AppThunk } from '../../app/store';
import { cancelProcessing } from '../../app/socketio/actions';
import { metadataToggled } from '../currentImage/currentImageSlice';
import { loadAllFrom, loadPromptFrom, loadSeedFrom, requestDeletion, sendToImageToImage } from '../currentImage/imageActions';
import { selectionMoved } from '../gallery/gallerySlice';
import { themeSet } from '../system/systemSlice';
import type { Hotkey, HotkeyAction } from './hotkeys';
import { invoke } from './invoke';
import { tabSelected } from './tabsSlice';

/** What only the page knows: its current image (not a preview), its gallery drawer, popovers and panels. */
export interface HotkeyPage {
  image: ImageInfo | null;
  toggleGallery(): void;
  openFaceRestore(): void;
  openUpscale(): void;
  showHotkeys(): void;
  focusPrompt(): void;
}

type Handler = (page: HotkeyPage) => AppThunk;
const withImage =
  (thunk: (image: ImageInfo) => AppThunk): Handler =>
  (page) =>
  (dispatch) => {
    if (page.image) dispatch(thunk(page.image));
  };
const onPage =
  (run: (page: HotkeyPage) => void): Handler =>
  (page) =>
  () =>
    run(page);

export const HOTKEY_ACTIONS: Partial<Record<HotkeyAction, Handler>> = {
  invoke: () => (dispatch) => void dispatch(invoke()),
  cancel: () => (dispatch) => void dispatch(cancelProcessing(undefined)),
  focusPrompt: onPage((p) => p.focusPrompt()),
  useAll: withImage(loadAllFrom),
  useSeed: withImage(loadSeedFrom),
  usePrompt: withImage(loadPromptFrom),
  restoreFaces: onPage((p) => p.openFaceRestore()),
  upscale: onPage((p) => p.openUpscale()),
  toggleMetadata: () => (dispatch) => void dispatch(metadataToggled(undefined)),
  sendToImageToImage: withImage(sendToImageToImage),
  deleteImage: withImage(requestDeletion),
  toggleGallery: onPage((p) => p.toggleGallery()),
  previousImage: () => (dispatch) => void dispatch(selectionMoved(-1)),
  nextImage: () => (dispatch) => void dispatch(selectionMoved(1)),
  toggleTheme: () => (dispatch, getState) => void dispatch(themeSet(getState().system.theme === 'dark' ? 'light' : 'dark')),
  showHotkeys: onPage((p) => p.showHotkeys()),
};

/** Runs one shortcut: a tab's selects its tab; the others do what the table says. */
export const runHotkey =
  (hotkey: Hotkey, page: HotkeyPage): AppThunk =>
  (dispatch) => {
    if (hotkey.tab) dispatch(tabSelected(hotkey.tab));
    else {
      const handler = HOTKEY_ACTIONS[hotkey.action];
      if (handler) dispatch(handler(page));
    }
  };
