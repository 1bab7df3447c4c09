/**
 * The one client-side job tracker: which feature sent each job (by the server's job id, and by the
 * client request id when the server echoes one), so each job's events reach that feature alone.
 */
import { createAction, createSlice, type Dispatch, type Middleware, type PayloadAction } from '@reduxjs/toolkit';
import type { JobAck, QueueJob } from '../../app/protocol';
import { serverEventReceived } from '../../app/socketio/actions';
import type { Answer, Emitters } from '../../app/socketio/emitters';

/** The features that send jobs and want their events. */
export type JobOwner = 'canvas' | 'outpainting' | 'postprocessing' | 'models';

export interface TrackedJob {
  owner: JobOwner;
  /** Ours: made by the client for each request; the server may echo it as `requestId` in the job's events. */
  requestId: string;
  /** Null until the server's acknowledgement names the job. */
  jobId: string | null;
}

export interface JobsState {
  byRequest: Record<string, TrackedJob>;
}

/** One event of a tracked job, addressed to the feature that sent it. `finished` is the queue's last word on it. */
export interface JobEvent {
  owner: JobOwner;
  requestId: string;
  jobId: string;
  event: string;
  payload: unknown;
}

export const jobEventReceived = createAction<JobEvent>('jobs/jobEventReceived');

const FINISHED = new Set<QueueJob['status']>(['done', 'failed', 'canceled']);
/** Events of jobs not yet acknowledged, kept until the acknowledgement names them (a few at most). */
const EARLY_LIMIT = 64;

const jobsSlice = createSlice({
  name: 'jobs',
  initialState: { byRequest: {} } as JobsState,
  reducers: {
    jobSubmitted: (state, action: PayloadAction<{ owner: JobOwner; requestId: string }>) => {
      state.byRequest[action.payload.requestId] = { ...action.payload, jobId: null };
    },
    jobAccepted: (state, action: PayloadAction<{ requestId: string; jobId: string }>) => {
      const job = state.byRequest[action.payload.requestId];
      if (job) job.jobId = action.payload.jobId;
    },
    /** Refused, or finished: the tracker forgets it. */
    jobForgotten: (state, action: PayloadAction<string>) => {
      delete state.byRequest[action.payload];
    },
  },
});

export const { jobSubmitted, jobAccepted, jobForgotten } = jobsSlice.actions;
export default jobsSlice.reducer;

/** A job event's job id and (when the server echoes it) request id. */
function idsOf(payload: unknown): { jobId?: string; requestId?: string } {
  const p = payload as { jobId?: unknown; requestId?: unknown } | null | undefined;
  return {
    jobId: typeof p?.jobId === 'string' ? p.jobId : undefined,
    requestId: typeof p?.requestId === 'string' ? p.requestId : undefined,
  };
}

export function findJob(state: JobsState, jobId?: string, requestId?: string): TrackedJob | undefined {
  if (requestId && state.byRequest[requestId]) return state.byRequest[requestId];
  if (!jobId) return undefined;
  return Object.values(state.byRequest).find((j) => j.jobId === jobId);
}

/** A request id unique to this window (and, in practice, to every window). */
export function newRequestId(owner: JobOwner): string {
  return `${owner}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

type JobsRoot = { jobs: JobsState };

/**
 * Sends one job and tracks it: `send` emits the request; its acknowledgement's job id ties the job's
 * events to `owner`. Resolves with the server's answer (no job id: refused, `error` says why).
 */
export const submitJob =
  (owner: JobOwner, send: (emitters: Emitters) => Promise<Answer<JobAck>>, requestId = newRequestId(owner)) =>
  async (dispatch: Dispatch, _getState: () => unknown, extra: { emitters: Emitters }): Promise<Answer<JobAck> & { requestId: string }> => {
    dispatch(jobSubmitted({ owner, requestId }));
    const answer = await send(extra.emitters);
    const jobId = answer.ack?.jobId;
    if (typeof jobId === 'string') dispatch(jobAccepted({ requestId, jobId }));
    else dispatch(jobForgotten(requestId));
    return { ...answer, requestId };
  };

/**
 * Routes server events of tracked jobs: each becomes a `jobEventReceived` for the feature that sent
 * the job; events that arrive before their job's acknowledgement wait for it; a job the queue reports
 * finished is forgotten after its `finished` event.
 */
export function jobTrackerMiddleware(): Middleware<object, JobsRoot> {
  let early: Array<{ event: string; payload: unknown; jobId: string }> = [];
  return (store) => (next) => (action) => {
    const result = next(action);
    const jobs = () => store.getState().jobs;
    const deliver = (job: TrackedJob, jobId: string, event: string, payload: unknown) =>
      store.dispatch(jobEventReceived({ owner: job.owner, requestId: job.requestId, jobId, event, payload }));

    if (jobAccepted.match(action)) {
      const { requestId, jobId } = action.payload;
      const job = jobs().byRequest[requestId];
      const mine = early.filter((e) => e.jobId === jobId);
      early = early.filter((e) => e.jobId !== jobId);
      if (job) for (const e of mine) deliver(job, jobId, e.event, e.payload);
    } else if (serverEventReceived.match(action)) {
      const { event, payload } = action.payload;
      if (event === 'queueUpdate') {
        const queue = (payload as { jobs?: QueueJob[] } | null)?.jobs ?? [];
        for (const job of Object.values(jobs().byRequest)) {
          const status = job.jobId ? queue.find((q) => q.id === job.jobId)?.status : undefined;
          if (job.jobId && status && FINISHED.has(status)) {
            deliver(job, job.jobId, 'finished', { status });
            store.dispatch(jobForgotten(job.requestId));
          }
        }
        return result;
      }
      const { jobId, requestId } = idsOf(payload);
      if (!jobId) return result;
      const job = findJob(jobs(), jobId, requestId);
      if (job?.jobId === jobId) deliver(job, jobId, event, payload);
      else if (job && !job.jobId) {
        // The server echoed our request id before its acknowledgement arrived: the job is known now.
        store.dispatch(jobAccepted({ requestId: job.requestId, jobId }));
        deliver(job, jobId, event, payload);
      } else if (Object.values(jobs().byRequest).some((j) => j.jobId === null)) {
        early.push({ event, payload, jobId });
        if (early.length > EARLY_LIMIT) early = early.slice(-EARLY_LIMIT);
      }
    }
    return result;
  };
}
