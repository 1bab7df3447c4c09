/** State of the Inpainting and Unified Canvas tabs: tools, mask histories, the canvas's images, box and staging area. */
import { createSlice, type PayloadAction } from '@reduxjs/toolkit';
import { SEAM_SIZE_DEFAULT, type ImageInfo } from '../../app/protocol';
import { jobEventReceived } from '../jobs/jobTracker';
import { emptyHistory, pushHistory, redoHistory, undoHistory, type History } from './history';
import type { MaskOp, Rect } from './mask';
import { snapBox, type SizeLimits } from './geometry';

export type CanvasTab = 'inpainting' | 'canvas';
export type CanvasTool = 'brush' | 'eraser' | 'hand' | 'box';
/** What one undoable step of the Unified Canvas changed. */
export type CanvasStep = 'mask' | 'layer';

/** The unified canvas is a fixed working area this large; the box is kept inside it whatever the server's limits. */
export const CANVAS_SIZE = 2048;

/** An image drawn onto the unified canvas at a position, in the order placed. */
export interface LayerItem {
  url: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A result waiting in the staging area to be accepted into the canvas or discarded. */
export interface StagedImage {
  image: ImageInfo;
  box: Rect;
}

export interface CanvasState {
  tool: CanvasTool;
  brushSize: number;
  hardness: number;
  isMaskVisible: boolean;
  inpaintReplace: number;
  seamSize: number;
  masks: Record<CanvasTab, History<MaskOp>>;
  /** Pixel size of the Inpainting tab's image once loaded (the mask is painted at this size). */
  inpaintingSize: { width: number; height: number } | null;
  /** The region Invoke works on in the Inpainting tab, when Use All recalled one for that image;
   * otherwise (or for another image) the whole image is the region. */
  inpaintingBox: { url: string; box: Rect } | null;
  layer: LayerItem[];
  /** Images taken off the canvas by Undo, newest first, for Redo. */
  layerFuture: LayerItem[];
  /** The Unified Canvas's one undo order: which history (mask strokes or placed images) each step
   * changed, so Ctrl+Z undoes the last thing done whatever it was. */
  canvasOrder: History<CanvasStep>;
  box: Rect;
  staged: StagedImage[];
  stagedIndex: number;
  /** Jobs whose results go to the staging area, by the job tracker's request id, with the box they were made for. */
  stagingJobs: Record<string, Rect>;
}

export const initialCanvasState: CanvasState = {
  tool: 'brush',
  brushSize: 24,
  hardness: 0.7,
  isMaskVisible: true,
  inpaintReplace: 0,
  seamSize: SEAM_SIZE_DEFAULT,
  masks: { inpainting: emptyHistory<MaskOp>(), canvas: emptyHistory<MaskOp>() },
  inpaintingSize: null,
  inpaintingBox: null,
  layer: [],
  layerFuture: [],
  canvasOrder: emptyHistory<CanvasStep>(),
  box: { x: (CANVAS_SIZE - 512) / 2, y: (CANVAS_SIZE - 512) / 2, width: 512, height: 512 },
  staged: [],
  stagedIndex: 0,
  stagingJobs: {},
};

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
const clampSeam = (v: number) => clamp(Math.round(v), 0, 64);

/** Use All on an inpainted image: its picture's size, its mask as the one step of the mask's history,
 * and the region and blending it was made with. */
export interface InpaintingRecalled {
  url: string;
  size: { width: number; height: number };
  mask: MaskOp;
  box: Rect | null;
  seamSize: number | null;
  inpaintReplace: number | null;
}

/** A new step on the Unified Canvas: recorded in the undo order, and whatever was undone is forgotten. */
function recordCanvasStep(state: CanvasState, step: CanvasStep): void {
  state.canvasOrder = pushHistory(state.canvasOrder, step);
  state.layerFuture = [];
  state.masks.canvas = { past: state.masks.canvas.past, future: [] };
}

function placeOnCanvas(state: CanvasState, item: LayerItem): void {
  state.layer.push(item);
  recordCanvasStep(state, 'layer');
}

const canvasSlice = createSlice({
  name: 'canvas',
  initialState: initialCanvasState,
  reducers: {
    toolSelected: (state, action: PayloadAction<CanvasTool>) => {
      state.tool = action.payload;
    },
    brushSizeChanged: (state, action: PayloadAction<number>) => {
      state.brushSize = clamp(Math.round(action.payload), 1, 256);
    },
    hardnessChanged: (state, action: PayloadAction<number>) => {
      state.hardness = clamp(action.payload, 0, 1);
    },
    maskVisibilityToggled: (state, action: PayloadAction<boolean | undefined>) => {
      state.isMaskVisible = action.payload ?? !state.isMaskVisible;
    },
    inpaintReplaceChanged: (state, action: PayloadAction<number>) => {
      state.inpaintReplace = clamp(action.payload, 0, 1);
    },
    seamSizeChanged: (state, action: PayloadAction<number>) => {
      state.seamSize = clampSeam(action.payload);
    },
    inpaintingRecalled: (state, action: PayloadAction<InpaintingRecalled>) => {
      const { url, size, mask, box, seamSize, inpaintReplace } = action.payload;
      state.inpaintingSize = size;
      state.masks.inpainting = { past: [mask], future: [] };
      state.inpaintingBox = box ? { url, box } : null;
      if (seamSize !== null) state.seamSize = clampSeam(seamSize);
      if (inpaintReplace !== null) state.inpaintReplace = clamp(inpaintReplace, 0, 1);
      state.isMaskVisible = true;
    },
    maskOpAdded: (state, action: PayloadAction<{ tab: CanvasTab; op: MaskOp }>) => {
      const { tab, op } = action.payload;
      if (tab === 'canvas') recordCanvasStep(state, 'mask');
      state.masks[tab] = pushHistory(state.masks[tab], op);
      state.isMaskVisible = true;
    },
    /** Undo on a tab: the Inpainting tab's last mask change; on the Unified Canvas the last step,
     * a mask stroke or an image placed or accepted. */
    maskUndone: (state, action: PayloadAction<CanvasTab>) => {
      const tab = action.payload;
      if (tab === 'inpainting') {
        state.masks.inpainting = undoHistory(state.masks.inpainting);
        return;
      }
      const step = state.canvasOrder.past.at(-1);
      if (step === 'mask') state.masks.canvas = undoHistory(state.masks.canvas);
      if (step === 'layer') {
        const item = state.layer.pop();
        if (item) state.layerFuture.unshift(item);
      }
      state.canvasOrder = undoHistory(state.canvasOrder);
    },
    maskRedone: (state, action: PayloadAction<CanvasTab>) => {
      const tab = action.payload;
      if (tab === 'inpainting') {
        state.masks.inpainting = redoHistory(state.masks.inpainting);
        return;
      }
      const step = state.canvasOrder.future[0];
      if (step === 'mask') state.masks.canvas = redoHistory(state.masks.canvas);
      if (step === 'layer') {
        const item = state.layerFuture.shift();
        if (item) state.layer.push(item);
      }
      state.canvasOrder = redoHistory(state.canvasOrder);
    },
    /** A new image of another size: the old mask means nothing on it. */
    inpaintingImageSized: (state, action: PayloadAction<{ width: number; height: number }>) => {
      const old = state.inpaintingSize;
      const { width, height } = action.payload;
      if (old && (old.width !== width || old.height !== height)) state.masks.inpainting = emptyHistory();
      state.inpaintingSize = { width, height };
    },
    /** A new box, snapped to what the server accepts (`size`: its limits, today's until systemConfig says). */
    boxChanged: {
      reducer: (state, action: PayloadAction<Rect, string, SizeLimits | undefined>) => {
        state.box = snapBox(action.payload, CANVAS_SIZE, CANVAS_SIZE, action.meta);
      },
      prepare: (rect: Rect, size?: SizeLimits) => ({ payload: rect, meta: size }),
    },
    layerItemAdded: (state, action: PayloadAction<LayerItem>) => {
      placeOnCanvas(state, action.payload);
    },
    canvasCleared: (state) => {
      state.layer = [];
      state.layerFuture = [];
      state.canvasOrder = emptyHistory<CanvasStep>();
      state.staged = [];
      state.stagedIndex = 0;
      state.masks.canvas = emptyHistory();
    },
    stagedMoved: (state, action: PayloadAction<1 | -1>) => {
      const n = state.staged.length;
      if (n > 0) state.stagedIndex = (state.stagedIndex + action.payload + n) % n;
    },
    /** Commits the shown result into the canvas at its box; the other results are let go. */
    stagedAccepted: (state) => {
      const chosen = state.staged[state.stagedIndex];
      if (!chosen) return;
      placeOnCanvas(state, {
        url: chosen.image.url,
        x: chosen.box.x,
        y: chosen.box.y,
        width: chosen.image.width,
        height: chosen.image.height,
      });
      state.staged = [];
      state.stagedIndex = 0;
    },
    /** Drops the shown result; the canvas itself is untouched. */
    stagedDiscarded: (state) => {
      if (state.staged.length === 0) return;
      state.staged.splice(state.stagedIndex, 1);
      state.stagedIndex = Math.min(state.stagedIndex, Math.max(0, state.staged.length - 1));
    },
    stagedAllDiscarded: (state) => {
      state.staged = [];
      state.stagedIndex = 0;
    },
    /** An Invoke whose results go to the staging area at `stage` (its request id is the job tracker's). */
    stagingRequested: (state, action: PayloadAction<{ requestId: string; stage: Rect }>) => {
      state.stagingJobs[action.payload.requestId] = action.payload.stage;
    },
  },
  extraReducers: (builder) => {
    builder
      .addCase(jobEventReceived, (state, action) => {
        const { owner, requestId, event, payload } = action.payload;
        if (owner !== 'canvas') return;
        if (event === 'finished') {
          delete state.stagingJobs[requestId];
          return;
        }
        const image = payload as ImageInfo;
        const box = state.stagingJobs[requestId];
        if (event !== 'generationResult' || !box || image.isBase64 || state.staged.some((s) => s.image.url === image.url)) return;
        state.staged.push({ image, box });
        state.stagedIndex = state.staged.length - 1; // show the newest, as it arrives
      });
  },
});

export const {
  toolSelected,
  brushSizeChanged,
  hardnessChanged,
  maskVisibilityToggled,
  inpaintReplaceChanged,
  seamSizeChanged,
  inpaintingRecalled,
  maskOpAdded,
  maskUndone,
  maskRedone,
  inpaintingImageSized,
  boxChanged,
  layerItemAdded,
  canvasCleared,
  stagedMoved,
  stagedAccepted,
  stagedDiscarded,
  stagedAllDiscarded,
  stagingRequested,
} = canvasSlice.actions;

export const isCanvasTab = (tab: string): tab is CanvasTab => tab === 'inpainting' || tab === 'canvas';

export default canvasSlice.reducer;
