/** Run on the Postprocessing tab: one runPostprocessing job per selected gallery image. */
import type { AppThunk, RootState } from '../../app/store';
import { newRequestId, submitJob } from '../jobs/jobTracker';
import { selectedImages } from '../gallery/gallerySlice';
import { toastAdded } from '../system/systemSlice';
import { buildPostprocessingParameters, describeSettings, settingsProblem } from './jobs';
import { postprocessingJobAcknowledged, postprocessingJobsRequested } from './postprocessingSlice';

/** Why Run cannot start now, as a sentence for the user, or null when it can. */
export function runBlocker(state: RootState): string | null {
  if (!state.system.isConnected) return 'The server is not connected.';
  if (selectedImages(state.gallery).length === 0) {
    return 'Select images in the gallery first (Ctrl/Cmd-click, Shift-click, or the Select button).';
  }
  return settingsProblem(state.postprocessing.settings, state.system.config?.postprocessors);
}

/** One job per selected image; each is tracked by its request id until the server's acknowledgement names it. */
export const runPostprocessingOnSelection = (): AppThunk<Promise<void>> => async (dispatch, getState) => {
  const state = getState();
  const blocker = runBlocker(state);
  if (blocker) {
    dispatch(toastAdded({ kind: 'info', message: blocker }));
    return;
  }
  const settings = state.postprocessing.settings;
  const parameters = buildPostprocessingParameters(settings);
  const summary = describeSettings(settings);
  const requests = selectedImages(state.gallery).map((image) => ({ requestId: newRequestId('postprocessing'), image }));
  dispatch(postprocessingJobsRequested(requests.map((r) => ({ requestId: r.requestId, sourceUrl: r.image.url, summary }))));
  await Promise.all(
    requests.map(async ({ requestId, image }) => {
      const answer = await dispatch(submitJob('postprocessing', (e, id) => e.runPostprocessing(image, parameters, id), requestId));
      dispatch(postprocessingJobAcknowledged({ requestId, jobId: answer.ack?.jobId ?? null }));
    }),
  );
};
