/**
 * The one client-side job tracker: which feature sent each job, by the request id it was sent with
 * (the server echoes it as `requestId` in every event of the job, the job id is the fallback), so each
 * job's events reach that feature alone, and each feature hears the queue's last word on its job.
 */
import { createAction, createSlice, type Dispatch, type Middleware, type PayloadAction } from '@reduxjs/toolkit';
import type { JobAck, QueueJob } from '../../app/protocol';
import { serverEventReceived } from '../../app/socketio/actions';
import { newRequestId as freshRequestId, type Answer, type Emitters } from '../../app/socketio/emitters';

/** The features that send jobs and want their events. */
export type JobOwner = 'canvas' | 'outpainting' | 'postprocessing' | 'models';

export interface TrackedJob {
  owner: JobOwner;
  /** Made by the client for each request and sent with it; the server echoes it as `requestId`. */
  requestId: string;
  /** Null until the acknowledgement (or the job's first event) names the job. */
  jobId: string | null;
}

export interface JobsState {
  byRequest: Record<string, TrackedJob>;
}

/** One event of a tracked job, addressed to the feature that sent it. `finished` is the queue's last
 * word on it: `{status}`, one of done, failed or canceled (the tracker's outcome of the job). */
export interface JobEvent {
  owner: JobOwner;
  requestId: string;
  jobId: string;
  event: string;
  payload: unknown;
}

export const jobEventReceived = createAction<JobEvent>('jobs/jobEventReceived');

const FINISHED = new Set<QueueJob['status']>(['done', 'failed', 'canceled']);

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

/** A request id for one of `owner`'s jobs (the owner's name leads, for whoever reads the server's log). */
export const newRequestId = (owner: JobOwner): string => freshRequestId(owner);

type JobsRoot = { jobs: JobsState };

/**
 * Sends one job and tracks it: `send` emits the request with `requestId`, which ties the job's events
 * to `owner` from the first one (the acknowledgement's job id is the fallback). Resolves with the
 * server's answer (no job id: refused, `error` says why).
 */
export const submitJob =
  (
    owner: JobOwner,
    send: (emitters: Emitters, requestId: string) => Promise<Answer<JobAck>>,
    requestId = newRequestId(owner),
  ) =>
  async (dispatch: Dispatch, _getState: () => unknown, extra: { emitters: Emitters }): Promise<Answer<JobAck> & { requestId: string }> => {
    dispatch(jobSubmitted({ owner, requestId }));
    const answer = await send(extra.emitters, requestId);
    const jobId = answer.ack?.jobId;
    if (typeof jobId === 'string') dispatch(jobAccepted({ requestId, jobId }));
    else dispatch(jobForgotten(requestId));
    return { ...answer, requestId };
  };

/**
 * Routes server events of tracked jobs: each becomes a `jobEventReceived` for the feature that sent the
 * job, found by the echoed request id (so events that beat the acknowledgement find it too), else by
 * job id; a job the queue reports finished gets its `finished` event and is forgotten.
 */
export function jobTrackerMiddleware(): Middleware<object, JobsRoot> {
  return (store) => (next) => (action) => {
    const result = next(action);
    if (!serverEventReceived.match(action)) return result;
    const jobs = () => store.getState().jobs;
    const deliver = (job: TrackedJob, jobId: string, event: string, payload: unknown) =>
      store.dispatch(jobEventReceived({ owner: job.owner, requestId: job.requestId, jobId, event, payload }));
    const know = (job: TrackedJob, jobId: string) => {
      if (job.jobId === null) store.dispatch(jobAccepted({ requestId: job.requestId, jobId }));
    };

    const { event, payload } = action.payload;
    if (event === 'queueUpdate') {
      const queue = (payload as { jobs?: QueueJob[] } | null)?.jobs ?? [];
      for (const job of Object.values(jobs().byRequest)) {
        const entry = queue.find((q) => q.requestId === job.requestId) ?? queue.find((q) => q.id === job.jobId);
        if (!entry) continue;
        know(job, entry.id);
        if (FINISHED.has(entry.status)) {
          deliver(job, entry.id, 'finished', { status: entry.status });
          store.dispatch(jobForgotten(job.requestId));
        }
      }
      return result;
    }
    const { jobId, requestId } = idsOf(payload);
    if (!jobId) return result;
    const job = findJob(jobs(), jobId, requestId);
    if (!job || (job.jobId !== null && job.jobId !== jobId)) return result;
    know(job, jobId);
    deliver(job, jobId, event, payload);
    return result;
  };
}
