/** State of the server's job queue, as its `queueUpdate` events describe it. */
import { createSlice, type PayloadAction } from '@reduxjs/toolkit';
import type { QueueJob, QueueUpdate } from '../../app/protocol';
import { cancelProcessing } from '../../app/socketio/actions';

export interface QueueState {
  jobs: QueueJob[];
  /** Job ids the user asked to cancel, so their buttons show it until the server confirms. */
  cancelRequested: string[];
}

export const initialQueueState: QueueState = { jobs: [], cancelRequested: [] };

const FINISHED = new Set(['done', 'failed', 'canceled']);

export const isJobActive = (job: QueueJob): boolean => !FINISHED.has(job.status);

const queueSlice = createSlice({
  name: 'queue',
  initialState: initialQueueState,
  reducers: {
    queueUpdated: (state, action: PayloadAction<QueueUpdate>) => {
      state.jobs = action.payload.jobs;
      const live = new Set(action.payload.jobs.filter(isJobActive).map((j) => j.id));
      state.cancelRequested = state.cancelRequested.filter((id) => live.has(id));
    },
    jobCancelRequested: (state, action: PayloadAction<string>) => {
      if (!state.cancelRequested.includes(action.payload)) state.cancelRequested.push(action.payload);
    },
  },
  extraReducers: (builder) => {
    builder.addCase(cancelProcessing, (state, action) => {
      if (action.payload && !state.cancelRequested.includes(action.payload)) state.cancelRequested.push(action.payload);
    });
  },
});

export const { queueUpdated, jobCancelRequested } = queueSlice.actions;
export default queueSlice.reducer;
