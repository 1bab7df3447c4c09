/** Invoke on the Outpainting tab: check, compose the grown picture with its transparent frame, upload it. */
import type { ThunkAction, UnknownAction } from '@reduxjs/toolkit';
import type { RootState } from '../../app/store';
import { uploadImage } from '../../app/socketio/actions';
import { errorOccurred, toastAdded } from '../system/systemSlice';
import { composeOutpaintImage } from './compose';
import { planOutpaint, planProblem } from './geometry';
import { selectLimits } from '../system/limits';
import { outpaintPhaseChanged } from './outpaintingSlice';

type Thunk = ThunkAction<void, RootState, unknown, UnknownAction>;

/** Why Invoke cannot outpaint now, as a sentence for the user, or null when it can. */
export function outpaintBlocker(state: RootState): string | null {
  const { source, extension, pending } = state.outpainting;
  if (!state.system.isConnected) return 'The server is not connected.';
  if (state.options.prompt.trim() === '') return 'Type a prompt first: it describes what fills the new area.';
  if (!source) return 'Choose an image to outpaint first.';
  if (pending) return 'Wait for the current outpainting to finish: its result becomes the picture to extend.';
  return planProblem(planOutpaint(source.width, source.height, extension), extension, selectLimits(state));
}

export const invokeOutpainting = (): Thunk => (dispatch, getState) => {
  const state = getState();
  const blocker = outpaintBlocker(state);
  const source = state.outpainting.source;
  if (blocker || !source) {
    dispatch(toastAdded({ kind: 'info', message: blocker ?? 'Choose an image to outpaint first.' }));
    return;
  }
  dispatch(outpaintPhaseChanged('composing'));
  composeOutpaintImage(source.url, state.outpainting.extension).then(
    ({ blob, plan }) => {
      dispatch(outpaintPhaseChanged('uploading'));
      const name = `outpaint-${plan.width}x${plan.height}.png`;
      dispatch(uploadImage({ file: blob, name, destination: 'outpainting' }));
    },
    (error: unknown) => {
      dispatch(outpaintPhaseChanged(null));
      dispatch(errorOccurred(error instanceof Error ? error.message : 'The outpainting image could not be prepared.'));
    },
  );
};
