/** What Invoke does on each tab: one table, so the socket layer never looks at the active tab. */
import type { AppThunk } from '../../app/store';
import { invokeBlocker } from '../../common/util/parameterTranslation';
import type { ActiveTab } from './tabsSlice';
import { controlBlockerFor } from '../control/units';
import { invokeCanvasTab } from '../canvas/invoke';
import { generate } from '../options/generate';
import { invokeOutpainting } from '../outpainting/outpaintingThunks';
import { runPostprocessingOnSelection } from '../postprocessing/postprocessingThunks';
import { toastAdded } from '../system/systemSlice';

/** Text to Image and Image to Image: the control panel's settings as they are. */
const invokeFromPanel =
  (tab: ActiveTab): AppThunk<Promise<void>> =>
  async (dispatch, getState) => {
    const blocker = invokeBlocker(getState().options, tab) ?? controlBlockerFor(getState(), tab);
    if (blocker) {
      dispatch(toastAdded({ kind: 'info', message: blocker }));
      return;
    }
    await dispatch(generate());
  };

export const INVOKE_BY_TAB: Record<ActiveTab, () => AppThunk<Promise<void>>> = {
  txt2img: () => invokeFromPanel('txt2img'),
  img2img: () => invokeFromPanel('img2img'),
  // The canvas tabs add their mask and region (uploaded first when needed).
  inpainting: () => invokeCanvasTab('inpainting'),
  canvas: () => invokeCanvasTab('canvas'),
  // Outpainting composes and uploads the grown picture, then generates on it.
  outpainting: () => invokeOutpainting(),
  // Postprocessing runs one job per selected gallery image.
  postprocessing: () => runPostprocessingOnSelection(),
};

/** Invoke (the button, Ctrl+Enter, Enter in the prompt) on the active tab. */
export const invoke = (): AppThunk<Promise<void>> => (dispatch, getState) =>
  dispatch(INVOKE_BY_TAB[getState().tabs.activeTab]());
