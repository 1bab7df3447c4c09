/** State of the Models dialog: whether it is open, the one import/scan/remove job in flight, and how the last one ended. */
import { createSlice, type PayloadAction } from '@reduxjs/toolkit';
import type { ModelList, ModelListChangedPayload, ModelOperation, ModelScanSkip } from '../../app/protocol';
import { disconnected } from '../system/systemSlice';
import { jobEventReceived } from '../jobs/jobTracker';
import { diffModelLists, outcomeMessage } from './modelList';

export interface PendingModelOperation {
  operation: ModelOperation;
  /** The path or model name the request names, for the pending line. */
  target: string;
  /** The request id it was sent with: the job tracker hands this dialog the events of that job. */
  requestId: string;
  /** Null until the acknowledgement or the job's first event names it (Cancel needs it). */
  jobId: string | null;
  /** The list when the request was made, to show what the job added or removed. */
  before: ModelList;
}

export interface ModelOutcome {
  kind: 'success' | 'error';
  operation: ModelOperation;
  message: string;
  added: string[];
  removed: string[];
  skipped: ModelScanSkip[];
  requestId: string;
}

export interface ModelsState {
  isOpen: boolean;
  pending: PendingModelOperation | null;
  outcome: ModelOutcome | null;
}

export const initialModelsState: ModelsState = {
  isOpen: false,
  pending: null,
  outcome: null,
};

export const REFUSED_MESSAGE = 'The server refused the request.';
export const CANCELED_BEFORE_START_MESSAGE = 'Canceled before it started; the model list did not change.';
export const CONNECTION_LOST_MESSAGE =
  'The connection to the server was lost before it answered; look at the list again once it reconnects.';

function succeed(state: ModelsState, pending: PendingModelOperation, payload: ModelListChangedPayload): void {
  const diff = diffModelLists(pending.before, payload.model_list);
  state.outcome = {
    kind: 'success',
    operation: pending.operation,
    message: outcomeMessage(pending.operation, diff, payload.report ?? {}),
    added: diff.added,
    removed: diff.removed,
    skipped: payload.report?.skipped ?? [],
    requestId: pending.requestId,
  };
  state.pending = null;
}

function fail(state: ModelsState, pending: PendingModelOperation, message: string): void {
  state.outcome = {
    kind: 'error',
    operation: pending.operation,
    message,
    added: [],
    removed: [],
    skipped: [],
    requestId: pending.requestId,
  };
  state.pending = null;
}

const modelsSlice = createSlice({
  name: 'models',
  initialState: initialModelsState,
  reducers: {
    modelsDialogOpened: (state) => {
      state.isOpen = true;
      if (!state.pending) state.outcome = null;
    },
    modelsDialogClosed: (state) => {
      state.isOpen = false;
    },
    modelOperationRequested: (
      state,
      action: PayloadAction<{ operation: ModelOperation; target: string; before: ModelList; requestId: string }>,
    ) => {
      if (state.pending) return; // one at a time: the dialog's buttons are disabled meanwhile
      state.pending = { ...action.payload, jobId: null };
      state.outcome = null;
    },
    /** The server queued the request as this job. */
    modelOperationAccepted: (state, action: PayloadAction<{ requestId: string; jobId: string }>) => {
      if (state.pending?.requestId === action.payload.requestId) state.pending.jobId = action.payload.jobId;
    },
    /** The server answered without a job: it refused the request, with its sentence when it gave one. */
    modelOperationRefused: (state, action: PayloadAction<{ requestId: string; message: string | null }>) => {
      const { pending } = state;
      if (pending?.requestId === action.payload.requestId) fail(state, pending, action.payload.message || REFUSED_MESSAGE);
    },
    modelOutcomeDismissed: (state) => {
      state.outcome = null;
    },
  },
  extraReducers: (builder) => {
    // The job tracker hands this dialog its own job's events (by request id), those that beat the acknowledgement too.
    builder.addCase(jobEventReceived, (state, action) => {
      const { owner, requestId, jobId, event, payload } = action.payload;
      const pending = state.pending;
      if (owner !== 'models' || pending?.requestId !== requestId) return;
      pending.jobId = jobId;
      if (event === 'modelListChanged') succeed(state, pending, payload as ModelListChangedPayload);
      else if (event === 'error') fail(state, pending, (payload as { message?: string } | null)?.message ?? REFUSED_MESSAGE);
      else if (event === 'finished') {
        // A running scan that is canceled tells what it found first (modelListChanged); only a job
        // canceled while it waited ends here.
        const status = (payload as { status?: string }).status;
        if (status === 'canceled') fail(state, pending, CANCELED_BEFORE_START_MESSAGE);
        else if (status !== 'done') fail(state, pending, 'The job ended without changing the list.');
      }
    });
    builder.addCase(disconnected, (state) => {
      if (state.pending) fail(state, state.pending, CONNECTION_LOST_MESSAGE);
    });
  },
});

export const {
  modelsDialogOpened,
  modelsDialogClosed,
  modelOperationRequested,
  modelOperationAccepted,
  modelOperationRefused,
  modelOutcomeDismissed,
} = modelsSlice.actions;

export default modelsSlice.reducer;
