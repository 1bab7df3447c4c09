/** State of the Postprocessing tab: what to run on the selected images and the jobs it sent. */
import { createSlice, type PayloadAction } from '@reduxjs/toolkit';
import type { ImageInfo } from '../../app/protocol';
import { jobEventReceived } from '../jobs/jobTracker';
import { resultFromImage, type JobResult, type PostprocessingSettings, type TrackedJob } from './jobs';

export interface PostprocessingState {
  settings: PostprocessingSettings;
  /** The jobs this window sent, oldest first. */
  jobs: TrackedJob[];
  /** The latest progress status per job id ("Upscaling", "Restoring Faces", ...). */
  progress: Record<string, string>;
  /** Results per job id. */
  results: Record<string, JobResult>;
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
    postprocessingResultReceived: (state, action: PayloadAction<ImageInfo>) => {
      const image = action.payload;
      if (image.jobId) state.results[image.jobId] = resultFromImage(image);
    },
    /** Forgets the listed (finished) jobs from the tab's list. */
    postprocessingJobsCleared: (state, action: PayloadAction<string[]>) => {
      const gone = new Set(action.payload);
      for (const job of state.jobs) {
        if (gone.has(job.requestId) && job.jobId) {
          delete state.results[job.jobId];
          delete state.progress[job.jobId];
        }
      }
      state.jobs = state.jobs.filter((j) => !gone.has(j.requestId));
    },
  },
  extraReducers: (builder) => {
    // The tracker hands this tab its own jobs' events only, even those that beat the acknowledgement.
    builder.addCase(jobEventReceived, (state, action) => {
      const { owner, jobId, event, payload } = action.payload;
      if (owner !== 'postprocessing') return;
      if (event === 'progressUpdate') state.progress[jobId] = (payload as { currentStatus: string }).currentStatus;
      else if (event === 'postprocessingResult') state.results[jobId] = resultFromImage(payload as ImageInfo);
    });
  },
});

export const {
  postprocessingSettingChanged,
  postprocessingJobsRequested,
  postprocessingJobAcknowledged,
  postprocessingResultReceived,
  postprocessingJobsCleared,
} = postprocessingSlice.actions;
export default postprocessingSlice.reducer;
