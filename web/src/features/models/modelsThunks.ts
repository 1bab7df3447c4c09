/** The Models dialog's requests: one import, scan, removal or default change at a time, tracked as a job. */
import type { ModelOperation } from '../../app/protocol';
import type { AppThunk, RootState } from '../../app/store';
import { newRequestId, submitJob } from '../jobs/jobTracker';
import { errorOccurred, toastAdded } from '../system/systemSlice';
import { modelOperationAccepted, modelOperationRefused, modelOperationRequested } from './modelsSlice';
import type { Emitters } from '../../app/socketio/emitters';

/** A model job's failure shows in the Models dialog while it is open (a toast would only cover it). */
export const jobErrorShownInDialog = (state: RootState): boolean => state.models.isOpen;

/** Toasts the success of one of this window's model jobs (by its request id), once its outcome is in. */
export const toastModelOutcome =
  (requestId: string): AppThunk =>
  (dispatch, getState) => {
    const outcome = getState().models.outcome;
    if (outcome?.requestId === requestId && outcome.kind === 'success') dispatch(toastAdded({ kind: 'success', message: outcome.message }));
  };

type Send = (emitters: Emitters, requestId: string) => ReturnType<Emitters['importModel']>;

const runModelOperation =
  (operation: ModelOperation, target: string, send: Send): AppThunk<Promise<void>> =>
  async (dispatch, getState) => {
    const state = getState();
    if (state.models.pending) return; // one at a time: the dialog's buttons are disabled meanwhile
    const requestId = newRequestId('models');
    dispatch(modelOperationRequested({ operation, target, before: state.system.config?.model_list ?? {}, requestId }));
    // The job's outcome (and its toast) comes through the job tracker, whether before or after this answer.
    const answer = await dispatch(submitJob('models', send, requestId));
    const jobId = answer.ack?.jobId;
    if (typeof jobId === 'string') {
      dispatch(modelOperationAccepted({ requestId, jobId }));
      return;
    }
    dispatch(modelOperationRefused({ requestId, message: answer.error }));
    if (answer.error && !jobErrorShownInDialog(getState())) dispatch(errorOccurred(answer.error));
  };

/** Ours: add a checkpoint file or diffusers folder by its path on the server machine. */
export const importModel = (request: { path: string; name?: string; makeDefault: boolean }) =>
  runModelOperation('import', request.path, (e, id) => e.importModel(request.path, request.name || null, request.makeDefault, id));
/** Ours: add every model under an AUTOMATIC1111 or ComfyUI models folder. */
export const scanModelFolder = (path: string) => runModelOperation('scan', path, (e, id) => e.scanModelFolder(path, id));
/** Ours: remove a models.yaml entry (never its files). */
export const deleteModel = (name: string) => runModelOperation('delete', name, (e, id) => e.deleteModel(name, id));
export const setDefaultModel = (name: string) => runModelOperation('default', name, (e, id) => e.setDefaultModel(name, id));
