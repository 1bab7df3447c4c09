/** State of the Postprocessing tab: what to run on the selected images and the jobs it sent. */
import { createSlice, type PayloadAction } from '@reduxjs/toolkit';
import type { ImageInfo, JobStatus } from '../../app/protocol';
import { jobEventReceived } from '../jobs/jobTracker';
import { resultFromImage, type JobResult, type PostprocessingSettings, type TrackedJob } from './jobs';

export interface PostprocessingState {
  settings: PostprocessingSettings;
  /** The jobs this window sent, oldest first. */
  jobs: TrackedJob[];
  /** The latest progress status per request id ("Upscaling", "Restoring Faces", ...). */
  progress: Record<string, string>;
  /** Results per request id. */
  results: Record<string, JobResult>;
  /** How each finished job ended, per request id: the job tracker's outcome. */
  finished: Record<string, JobStatus>;
}

export const initialPostprocessingState: PostprocessingState = {
  settings: {
    upscale: true,
    level: 2,
    upscaleStrength: 0.75,
    faces: false,
    facetoolType: 'gfpgan',
    faceStrength: 0.8,
    codeformerFidelity: 0.75,
  },
  jobs: [],
  progress: {},
  results: {},
  finished: {},
};

const JOB_LIMIT = 200;

const postprocessingSlice = createSlice({
  name: 'postprocessing',
  initialState: initialPostprocessingState,
  reducers: {
    postprocessingSettingChanged: (state, action: PayloadAction<Partial<PostprocessingSettings>>) => {
      Object.assign(state.settings, action.payload);
    },
    postprocessingJobsRequested: (state, action: PayloadAction<Array<Pick<TrackedJob, 'requestId' | 'sourceUrl' | 'summary'>>>) => {
      for (const job of action.payload) state.jobs.push({ ...job, jobId: null, refused: false });
      if (state.jobs.length > JOB_LIMIT) state.jobs.splice(0, state.jobs.length - JOB_LIMIT);
    },
    postprocessingJobAcknowledged: (state, action: PayloadAction<{ requestId: string; jobId: string | null }>) => {
      const job = state.jobs.find((j) => j.requestId === action.payload.requestId);
      if (!job) return;
      job.jobId = action.payload.jobId;
      job.refused = action.payload.jobId === null;
    },
    /** Forgets the listed (finished) jobs from the tab's list. */
    postprocessingJobsCleared: (state, action: PayloadAction<string[]>) => {
      const gone = new Set(action.payload);
      for (const requestId of gone) {
        delete state.results[requestId];
        delete state.progress[requestId];
        delete state.finished[requestId];
      }
      state.jobs = state.jobs.filter((j) => !gone.has(j.requestId));
    },
  },
  extraReducers: (builder) => {
    // The tracker hands this tab its own jobs' events only (by request id), even those that beat the acknowledgement.
    builder.addCase(jobEventReceived, (state, action) => {
      const { owner, requestId, jobId, event, payload } = action.payload;
      if (owner !== 'postprocessing') return;
      const job = state.jobs.find((j) => j.requestId === requestId);
      if (job && !job.jobId) job.jobId = jobId;
      if (event === 'progressUpdate') state.progress[requestId] = (payload as { currentStatus: string }).currentStatus;
      else if (event === 'postprocessingResult') state.results[requestId] = resultFromImage(payload as ImageInfo);
      else if (event === 'finished') state.finished[requestId] = (payload as { status: JobStatus }).status;
    });
  },
});

export const {
  postprocessingSettingChanged,
  postprocessingJobsRequested,
  postprocessingJobAcknowledged,
  postprocessingJobsCleared,
} = postprocessingSlice.actions;
export default postprocessingSlice.reducer;
