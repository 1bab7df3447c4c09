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
  /** The outpainting on its way: composing the transparent frame, uploading it, then generating (the
   * generation's request id, by which the job tracker hands this tab its job's events). */
  pending: { phase: OutpaintPhase; requestId: string | null } | null;
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

/** The result of this tab's pending job becomes the picture. */
function takeResult(state: OutpaintingState, image: ImageInfo): void {
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
      state.pending = action.payload ? { phase: action.payload, requestId: null } : null;
    },
    /** The generation goes out with this request id. */
    outpaintGenerationSent: (state, action: PayloadAction<string>) => {
      state.pending = { phase: 'generating', requestId: action.payload };
    },
    /** The server answered the generation without a job: it refused it (its error says why). */
    outpaintRefused: (state, action: PayloadAction<string>) => {
      if (state.pending?.requestId === action.payload) state.pending = null;
    },
  },
  extraReducers: (builder) => {
    builder
      .addCase(jobEventReceived, (state, action) => {
        const { owner, requestId, event, payload } = action.payload;
        if (owner !== 'outpainting' || !state.pending || state.pending.requestId !== requestId) return;
        // Its result becomes the picture, so outpainting again grows it.
        if (event === 'generationResult') takeResult(state, payload as ImageInfo);
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
  outpaintGenerationSent,
  outpaintRefused,
} = outpaintingSlice.actions;
export default outpaintingSlice.reducer;
