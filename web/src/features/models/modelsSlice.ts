/** State of the Models dialog: whether it is open, the one import/scan/remove job in flight, and how the last one ended. */
import { createSlice, type PayloadAction } from '@reduxjs/toolkit';
import type {
  JobAck,
  ModelList,
  ModelListChangedPayload,
  ModelOperation,
  ModelScanSkip,
} from '../../app/protocol';
import { disconnected } from '../system/systemSlice';
import { jobEventReceived } from '../jobs/jobTracker';
import { diffModelLists, outcomeMessage } from './modelList';

export interface PendingModelOperation {
  operation: ModelOperation;
  /** The path or model name the request names, for the pending line. */
  target: string;
  /** Null until the server acknowledges the request with its job id. */
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
  jobId: string | null;
}

/** A job's result that arrived before the acknowledgement naming its job id. */
interface EarlyResult {
  jobId: string;
  changed?: ModelListChangedPayload;
  error?: string;
}

export interface ModelsState {
  isOpen: boolean;
  pending: PendingModelOperation | null;
  outcome: ModelOutcome | null;
  early: EarlyResult[];
}

export const initialModelsState: ModelsState = {
  isOpen: false,
  pending: null,
  outcome: null,
  early: [],
};

const MAX_EARLY = 8;

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
    jobId: pending.jobId,
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
    jobId: pending.jobId,
  };
  state.pending = null;
}

function remember(state: ModelsState, result: EarlyResult): void {
  state.early.push(result);
  if (state.early.length > MAX_EARLY) state.early.splice(0, state.early.length - MAX_EARLY);
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
      action: PayloadAction<{ operation: ModelOperation; target: string; before: ModelList }>,
    ) => {
      if (state.pending) return; // one at a time: the dialog's buttons are disabled meanwhile
      state.pending = { ...action.payload, jobId: null };
      state.outcome = null;
    },
    /** The request's acknowledgement: `{jobId}` when queued, nothing when refused (its error came first). */
    modelOperationAcknowledged: (state, action: PayloadAction<Partial<JobAck> | null | undefined>) => {
      const pending = state.pending;
      if (!pending || pending.jobId !== null) return;
      const jobId = action.payload?.jobId;
      if (typeof jobId !== 'string') {
        fail(state, pending, REFUSED_MESSAGE);
        return;
      }
      pending.jobId = jobId;
      const early = state.early.find((r) => r.jobId === jobId);
      state.early = state.early.filter((r) => r.jobId !== jobId);
      if (early?.changed) succeed(state, pending, early.changed);
      else if (early?.error !== undefined) fail(state, pending, early.error);
    },
    /** The server answered without a job: it refused the request, with its sentence when it gave one. */
    modelOperationRefused: (state, action: PayloadAction<string | null | undefined>) => {
      if (state.pending && state.pending.jobId === null) fail(state, state.pending, action.payload || REFUSED_MESSAGE);
    },
    modelListChangedReceived: (state, action: PayloadAction<ModelListChangedPayload>) => {
      const pending = state.pending;
      const jobId = action.payload.jobId;
      if (!pending || !jobId) return; // another window's change: systemConfig updates the list
      if (pending.jobId === jobId) succeed(state, pending, action.payload);
      else if (pending.jobId === null) remember(state, { jobId, changed: action.payload });
    },
    /** Every `error` event: a failed job names its jobId; a refused request has none and comes before the ack. */
    modelErrorReceived: (state, action: PayloadAction<{ message: string; jobId?: string }>) => {
      const pending = state.pending;
      if (!pending) return;
      const { message, jobId } = action.payload;
      if (jobId === undefined) {
        if (pending.jobId === null) fail(state, pending, message);
      } else if (pending.jobId === jobId) {
        fail(state, pending, message);
      } else if (pending.jobId === null) {
        remember(state, { jobId, error: message });
      }
    },
    modelOutcomeDismissed: (state) => {
      state.outcome = null;
    },
  },
  extraReducers: (builder) => {
    builder.addCase(jobEventReceived, (state, action) => {
      const { owner, jobId, event, payload } = action.payload;
      const pending = state.pending;
      if (owner !== 'models' || !pending || pending.jobId !== jobId) return;
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
      state.early = [];
    });
  },
});

/** The success toast a state change calls for: a new successful outcome, else null. */
export function outcomeToast(before: ModelsState, after: ModelsState): string | null {
  const outcome = after.outcome;
  if (!outcome || outcome === before.outcome || outcome.kind !== 'success') return null;
  return outcome.message;
}

/** True when a state change put a job's error into the open dialog, where a toast would only cover it. */
export function errorShownInDialog(before: ModelsState, after: ModelsState): boolean {
  return after.isOpen && after.outcome !== before.outcome && after.outcome?.kind === 'error';
}

export const {
  modelsDialogOpened,
  modelsDialogClosed,
  modelOperationRequested,
  modelOperationAcknowledged,
  modelOperationRefused,
  modelListChangedReceived,
  modelErrorReceived,
  modelOutcomeDismissed,
} = modelsSlice.actions;

export default modelsSlice.reducer;
