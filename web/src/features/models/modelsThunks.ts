/** The Models dialog's requests: one import, scan, removal or default change at a time, tracked as a job. */
import type { ModelOperation } from '../../app/protocol';
import type { AppThunk, RootState } from '../../app/store';
import { submitJob } from '../jobs/jobTracker';
import { errorOccurred, toastAdded } from '../system/systemSlice';
import { modelOperationAcknowledged, modelOperationRefused, modelOperationRequested } from './modelsSlice';
import type { Emitters } from '../../app/socketio/emitters';

/** A model job's failure shows in the Models dialog while it is open (a toast would only cover it). */
export const jobErrorShownInDialog = (state: RootState): boolean => state.models.isOpen;

/** Toasts the success of one of this window's model jobs, once its outcome is in. */
export const toastModelOutcome =
  (jobId: string): AppThunk =>
  (dispatch, getState) => {
    const outcome = getState().models.outcome;
    if (outcome?.jobId === jobId && outcome.kind === 'success') dispatch(toastAdded({ kind: 'success', message: outcome.message }));
  };

const runModelOperation =
  (operation: ModelOperation, target: string, send: (emitters: Emitters) => ReturnType<Emitters['importModel']>): AppThunk<Promise<void>> =>
  async (dispatch, getState) => {
    const state = getState();
    if (state.models.pending) return; // one at a time: the dialog's buttons are disabled meanwhile
    dispatch(modelOperationRequested({ operation, target, before: state.system.config?.model_list ?? {} }));
    const answer = await dispatch(submitJob('models', send));
    const jobId = answer.ack?.jobId;
    if (typeof jobId !== 'string') {
      dispatch(modelOperationRefused(answer.error));
      if (answer.error && !jobErrorShownInDialog(getState())) dispatch(errorOccurred(answer.error));
      return;
    }
    dispatch(modelOperationAcknowledged({ jobId }));
    dispatch(toastModelOutcome(jobId)); // its result may have come before the acknowledgement
  };

/** Ours: add a checkpoint file or diffusers folder by its path on the server machine. */
export const importModel = (request: { path: string; name?: string; makeDefault: boolean }) =>
  runModelOperation('import', request.path, (e) => e.importModel(request.path, request.name || null, request.makeDefault));
/** Ours: add every model under an AUTOMATIC1111 or ComfyUI models folder. */
export const scanModelFolder = (path: string) => runModelOperation('scan', path, (e) => e.scanModelFolder(path));
/** Ours: remove a models.yaml entry (never its files). */
export const deleteModel = (name: string) => runModelOperation('delete', name, (e) => e.deleteModel(name));
export const setDefaultModel = (name: string) => runModelOperation('default', name, (e) => e.setDefaultModel(name));
