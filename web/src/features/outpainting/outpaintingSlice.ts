/** State of the Outpainting tab: the picture being grown, how far to extend each side, and the job in flight. */
import { createSlice, type PayloadAction } from '@reduxjs/toolkit';
import { SEAM_SIZE_DEFAULT, type ImageInfo } from '../../app/protocol';
import { jobEventReceived } from '../jobs/jobTracker';
import { disconnected } from '../system/systemSlice';
import { NO_EXTENSION, snapExtension, type Extension, type Side } from './geometry';

export type OutpaintPhase = 'composing' | 'uploading' | 'generating';

export interface OutpaintingState {
  /** The picture the next outpainting extends; it becomes each result in turn, so repeats grow it. */
  source: ImageInfo | null;
  /** Earlier pictures, newest last, for Undo. */
  history: ImageInfo[];
  extension: Extension;
  strength: number;
  seamSize: number;
  inpaintReplace: number;
  /** The outpainting on its way: composing the transparent frame, uploading it, then generating. */
  pending: { phase: OutpaintPhase; jobId: string | null } | null;
}

const HISTORY_LIMIT = 20;

export const initialOutpaintingState: OutpaintingState = {
  source: null,
  history: [],
  extension: NO_EXTENSION,
  // Only the transparent area is regenerated (the rest is restored at every step), so full strength
  // is right for it: the new pixels start from noise and follow the prompt and the picture's edges.
  strength: 1,
  seamSize: SEAM_SIZE_DEFAULT,
  inpaintReplace: 0,
  pending: null,
};

/** `ours`: the job tracker says the image is this tab's job's (its acknowledgement may still be on its way). */
function takeResult(state: OutpaintingState, image: ImageInfo, ours = false): void {
  if (!state.pending || (!ours && (!state.pending.jobId || image.jobId !== state.pending.jobId))) return;
  if (state.source) {
    state.history.push(state.source);
    if (state.history.length > HISTORY_LIMIT) state.history.shift();
  }
  state.source = image;
  state.extension = NO_EXTENSION;
  state.pending = null;
}

const outpaintingSlice = createSlice({
  name: 'outpainting',
  initialState: initialOutpaintingState,
  reducers: {
    outpaintSourceSet: (state, action: PayloadAction<ImageInfo | null>) => {
      if (state.source && action.payload && state.source.url !== action.payload.url) {
        state.history.push(state.source);
        if (state.history.length > HISTORY_LIMIT) state.history.shift();
      }
      if (!action.payload) state.history = [];
      state.source = action.payload;
      state.extension = NO_EXTENSION;
    },
    outpaintUndone: (state) => {
      const previous = state.history.pop();
      if (previous) {
        state.source = previous;
        state.extension = NO_EXTENSION;
      }
    },
    extensionSet: (state, action: PayloadAction<{ side: Side; px: number }>) => {
      state.extension[action.payload.side] = snapExtension(action.payload.px);
    },
    extensionReset: (state) => {
      state.extension = NO_EXTENSION;
    },
    outpaintSettingChanged: (
      state,
      action: PayloadAction<Partial<Pick<OutpaintingState, 'strength' | 'seamSize' | 'inpaintReplace'>>>,
    ) => {
      Object.assign(state, action.payload);
    },
    outpaintPhaseChanged: (state, action: PayloadAction<OutpaintPhase | null>) => {
      state.pending = action.payload ? { phase: action.payload, jobId: state.pending?.jobId ?? null } : null;
    },
    outpaintJobAcknowledged: (state, action: PayloadAction<string | null>) => {
      if (!state.pending) return;
      if (action.payload) state.pending = { phase: 'generating', jobId: action.payload };
      else state.pending = null; // refused: the server's error event says why
    },
    /** A generation result: when it is our job's, it becomes the picture, so outpainting again grows it. */
    outpaintResultReceived: (state, action: PayloadAction<ImageInfo>) => takeResult(state, action.payload),
  },
  extraReducers: (builder) => {
    builder
      .addCase(jobEventReceived, (state, action) => {
        const { owner, event, payload } = action.payload;
        if (owner !== 'outpainting') return;
        // One outpainting at a time: the tracked job is the pending one.
        if (event === 'generationResult') takeResult(state, payload as ImageInfo, true);
        // A result arrives before its job reports done; a job that ends without one must not block Invoke.
        else if (event === 'finished') state.pending = null;
      })
      .addCase(disconnected, (state) => {
        state.pending = null;
      });
  },
});

export const {
  outpaintSourceSet,
  outpaintUndone,
  extensionSet,
  extensionReset,
  outpaintSettingChanged,
  outpaintPhaseChanged,
  outpaintJobAcknowledged,
  outpaintResultReceived,
} = outpaintingSlice.actions;
export default outpaintingSlice.reducer;
