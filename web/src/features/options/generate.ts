/** Invoke with the control panel's settings: one generateImage request, optionally tracked for the feature that sends it. */
import type { JobAck } from '../../app/protocol';
import type { Answer, Emitters } from '../../app/socketio/emitters';
import type { AppThunk } from '../../app/store';
import { buildGenerationRequest, type GenerationRequest } from '../../common/util/parameterTranslation';
import { submitJob, type JobOwner } from '../jobs/jobTracker';
import { setOption } from './optionsSlice';
import { CONTROL_TABS, controlParameters, selectControlFacts } from '../control/units';

export interface GenerateOptions {
  /** What only the sending tab knows (init image, mask, sizes), laid over the panel's parameters. */
  overrides?: Partial<GenerationRequest['generationParameters']>;
  /** The whole request, when the tab builds it itself (outpainting). */
  request?: GenerationRequest;
  /** The feature whose job this is: its events go to it through the job tracker. */
  owner?: JobOwner;
  /** The request id to send (the tracked job's, when the owner keeps something under it); else a fresh one. */
  requestId?: string;
}

/** Sends generateImage; resolves with the server's answer (no job id: refused, and its error was shown). */
export const generate =
  ({ overrides, request: given, owner, requestId }: GenerateOptions = {}): AppThunk<Promise<Answer<JobAck>>> =>
  async (dispatch, getState, { emitters }) => {
    const state = getState();
    const request = given ?? buildGenerationRequest(state.options, state.system, state.tabs.activeTab);
    // The Control section's units go with every request the tab builds from the panel (a canvas region
    // replaces a unit's picture through the overrides).
    const control = given || !CONTROL_TABS.has(state.tabs.activeTab) ? undefined : controlParameters(state.control, selectControlFacts(state));
    if (control) request.generationParameters.control = control;
    Object.assign(request.generationParameters, overrides);
    const { generationParameters: g, esrganParameters, facetoolParameters } = request;
    const send = (e: Emitters, id?: string) => e.generateImage(g, esrganParameters, facetoolParameters, id);
    const answer = owner ? dispatch(submitJob(owner, send, requestId)) : send(emitters, requestId);
    // Show the seed actually used, so Use Seed / reproduction needs no metadata lookup.
    if (state.options.shouldRandomizeSeed) dispatch(setOption('seed', g.seed));
    return answer;
  };
