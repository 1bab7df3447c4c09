/** The studio's workers (`workersUpdate`) and each running job's own progress and preview, so that
 * several jobs running at once on a pool each show theirs. */
import { createSlice } from '@reduxjs/toolkit';
import type { ImageInfo, ProgressUpdate, QueueUpdate, WorkerInfo, WorkersUpdate } from '../../app/protocol';
import { serverEventReceived } from '../../app/socketio/actions';

export interface JobProgress {
  step: number;
  steps: number;
  iteration: number;
  iterations: number;
  status: string;
  worker: string | null;
}

export interface WorkersState {
  workers: WorkerInfo[];
  /** By job id: the last progressUpdate of each job still running. */
  progress: Record<string, JobProgress>;
  /** By job id: its latest preview (a data URL or an outputs/ URL). */
  previews: Record<string, string>;
}

export const initialWorkersState: WorkersState = { workers: [], progress: {}, previews: {} };

const FINISHED = new Set(['done', 'failed', 'canceled']);

const workersSlice = createSlice({
  name: 'workers',
  initialState: initialWorkersState,
  reducers: {},
  extraReducers: (builder) => {
    builder.addCase(serverEventReceived, (state, action) => {
      const { event, payload } = action.payload;
      if (event === 'workersUpdate') {
        const workers = (payload as WorkersUpdate | null)?.workers;
        if (Array.isArray(workers)) state.workers = workers;
      } else if (event === 'progressUpdate') {
        const p = payload as ProgressUpdate | null;
        if (!p?.jobId) return;
        if (!p.isProcessing) {
          delete state.progress[p.jobId];
          delete state.previews[p.jobId];
          return;
        }
        state.progress[p.jobId] = {
          step: p.currentStep,
          steps: p.totalSteps,
          iteration: p.currentIteration,
          iterations: p.totalIterations,
          status: p.currentStatus,
          worker: p.worker ?? null,
        };
      } else if (event === 'intermediateResult') {
        const image = payload as (ImageInfo & { jobId?: string }) | null;
        if (image?.jobId && state.progress[image.jobId]) state.previews[image.jobId] = image.url;
      } else if (event === 'queueUpdate') {
        const jobs = (payload as QueueUpdate | null)?.jobs ?? [];
        const live = new Set(jobs.filter((j) => !FINISHED.has(j.status)).map((j) => j.id));
        for (const id of Object.keys(state.progress)) if (!live.has(id)) delete state.progress[id];
        for (const id of Object.keys(state.previews)) if (!live.has(id)) delete state.previews[id];
      }
    });
  },
});

export default workersSlice.reducer;
