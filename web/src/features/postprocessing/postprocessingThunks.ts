/** Run on the Postprocessing tab: one runPostprocessing job per selected gallery image. */
import type { ThunkAction, UnknownAction } from '@reduxjs/toolkit';
import type { RootState } from '../../app/store';
import { runPostprocessingJob } from '../../app/socketio/actions';
import { selectedImages } from '../gallery/gallerySlice';
import { toastAdded } from '../system/systemSlice';
import { buildPostprocessingParameters, describeSettings, settingsProblem } from './jobs';
import { postprocessingJobsRequested } from './postprocessingSlice';

type Thunk = ThunkAction<void, RootState, unknown, UnknownAction>;

/** Why Run cannot start now, as a sentence for the user, or null when it can. */
export function runBlocker(state: RootState): string | null {
  if (!state.system.isConnected) return 'The server is not connected.';
  if (selectedImages(state.gallery).length === 0) {
    return 'Select images in the gallery first (Ctrl/Cmd-click, Shift-click, or the Select button).';
  }
  return settingsProblem(state.postprocessing.settings, state.system.config?.postprocessors);
}

export const runPostprocessingOnSelection = (): Thunk => (dispatch, getState) => {
  const state = getState();
  const blocker = runBlocker(state);
  if (blocker) {
    dispatch(toastAdded({ kind: 'info', message: blocker }));
    return;
  }
  const settings = state.postprocessing.settings;
  const parameters = buildPostprocessingParameters(settings);
  const summary = describeSettings(settings);
  const batch = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const requests = selectedImages(state.gallery).map((image, i) => ({
    requestId: `${batch}-${i}`,
    image,
  }));
  dispatch(postprocessingJobsRequested(requests.map((r) => ({ requestId: r.requestId, sourceUrl: r.image.url, summary }))));
  for (const { requestId, image } of requests) dispatch(runPostprocessingJob({ requestId, image, parameters }));
};
