/** Invoke on the Outpainting tab: check, compose the grown picture with its transparent frame, upload it, and
 * generate on it with the Control section's units. */
import type { ImageInfo } from '../../app/protocol';
import type { AppThunk, RootState } from '../../app/store';
import { uploadFile } from '../gallery/uploads';
import { newRequestId } from '../jobs/jobTracker';
import { generate } from '../options/generate';
import { buildOutpaintingRequest } from './request';
import { errorOccurred, toastAdded } from '../system/systemSlice';
import { composeOutpaintImage } from './compose';
import { planOutpaint, planProblem } from './geometry';
import { selectLimits } from '../system/limits';
import { outpaintGenerationSent, outpaintPhaseChanged, outpaintRefused } from './outpaintingSlice';
import { controlBlockerFor, controlParameters, selectControlFacts } from '../control/units';

/** Why Invoke cannot outpaint now, as a sentence for the user, or null when it can. */
export function outpaintBlocker(state: RootState): string | null {
  const { source, extension, pending } = state.outpainting;
  if (!state.system.isConnected) return 'The server is not connected.';
  if (state.options.prompt.trim() === '') return 'Type a prompt first: it describes what fills the new area.';
  if (!source) return 'Choose an image to outpaint first.';
  if (pending) return 'Wait for the current outpainting to finish: its result becomes the picture to extend.';
  return planProblem(planOutpaint(source.width, source.height, extension), extension, selectLimits(state)) ?? controlBlockerFor(state, 'outpainting');
}

/**
 * Compose the grown picture, upload it, and generate on it once the server has stored it; a failed
 * upload stops here with the server's sentence.
 */
export const invokeOutpainting = (): AppThunk<Promise<void>> => async (dispatch, getState) => {
  const state = getState();
  const blocker = outpaintBlocker(state);
  const source = state.outpainting.source;
  if (blocker || !source) {
    dispatch(toastAdded({ kind: 'info', message: blocker ?? 'Choose an image to outpaint first.' }));
    return;
  }
  dispatch(outpaintPhaseChanged('composing'));
  let uploaded: ImageInfo;
  try {
    const { blob, plan } = await composeOutpaintImage(source.url, state.outpainting.extension);
    dispatch(outpaintPhaseChanged('uploading'));
    uploaded = await dispatch(uploadFile(blob, `outpaint-${plan.width}x${plan.height}.png`, 'outpainting'));
  } catch (error: unknown) {
    dispatch(outpaintPhaseChanged(null));
    dispatch(errorOccurred(error instanceof Error ? error.message : 'The outpainting image could not be prepared.'));
    return;
  }
  const requestId = newRequestId('outpainting');
  dispatch(outpaintGenerationSent(requestId));
  const now = getState();
  const control = controlParameters(now.control, selectControlFacts(now));
  const request = buildOutpaintingRequest(now.options, now.system, now.outpainting, uploaded, Math.random, control);
  const answer = await dispatch(generate({ request, owner: 'outpainting', requestId }));
  if (typeof answer.ack?.jobId !== 'string') dispatch(outpaintRefused(requestId));
};
