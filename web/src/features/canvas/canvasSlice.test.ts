import { describe, expect, it } from 'vitest';
import type { ImageInfo } from '../../app/protocol';
import { jobEventReceived } from '../jobs/jobTracker';
import reducer, {
  boxChanged,
  canvasCleared,
  initialCanvasState,
  inpaintingImageSized,
  inpaintingRecalled,
  layerItemAdded,
  maskOpAdded,
  maskRedone,
  maskUndone,
  stagedAccepted,
  stagedDiscarded,
  stagedMoved,
  type CanvasState,
  stagingRequested,
} from './canvasSlice';
import { rasterOp, renderMask } from './mask';

const result = (url: string, jobId: string): ImageInfo => ({
  url,
  mtime: 1,
  metadata: {},
  width: 128,
  height: 128,
  category: 'result',
  jobId,
});

/** A result of the job with request id r<N> (job id j<N>), as the job tracker hands it to the canvas. */
const canvasResult = (url: string, jobId: string) =>
  jobEventReceived({ owner: 'canvas', requestId: jobId.replace('j', 'r'), jobId, event: 'generationResult', payload: result(url, jobId) });

const box = { x: 64, y: 64, width: 128, height: 128 };

function withThreeStaged(): CanvasState {
  let s = reducer(initialCanvasState, stagingRequested({ requestId: 'r1', stage: box }));
  s = reducer(s, canvasResult('outputs/a.png', 'j1'));
  s = reducer(s, canvasResult('outputs/b.png', 'j1'));
  s = reducer(s, canvasResult('outputs/c.png', 'j1'));
  return s;
}

describe('the staging area', () => {
  it('collects only the results of staged jobs, showing the newest', () => {
    let s = withThreeStaged();
    s = reducer(s, canvasResult('outputs/other.png', 'j2'));
    s = reducer(s, canvasResult('outputs/c.png', 'j1'));
    expect(s.staged.map((x) => x.image.url)).toEqual(['outputs/a.png', 'outputs/b.png', 'outputs/c.png']);
    expect(s.stagedIndex).toBe(2);
    expect(s.staged[0].box).toEqual(box);
  });

  it('previous and next cycle through the results', () => {
    let s = withThreeStaged();
    s = reducer(s, stagedMoved(1));
    expect(s.stagedIndex).toBe(0);
    s = reducer(s, stagedMoved(-1));
    expect(s.stagedIndex).toBe(2);
    s = reducer(s, stagedMoved(-1));
    expect(s.stagedIndex).toBe(1);
  });

  it('accept commits the shown result into the canvas at its box and empties the staging area', () => {
    let s = reducer(withThreeStaged(), stagedMoved(-1));
    s = reducer(s, stagedAccepted());
    expect(s.layer).toEqual([{ url: 'outputs/b.png', x: 64, y: 64, width: 128, height: 128 }]);
    expect(s.staged).toEqual([]);
  });

  it('discard drops the shown result and leaves the canvas alone', () => {
    let s = withThreeStaged();
    const layer = s.layer;
    s = reducer(s, stagedDiscarded());
    expect(s.staged.map((x) => x.image.url)).toEqual(['outputs/a.png', 'outputs/b.png']);
    expect(s.stagedIndex).toBe(1);
    expect(s.layer).toBe(layer);
    s = reducer(reducer(s, stagedDiscarded()), stagedDiscarded());
    expect(s.staged).toEqual([]);
    expect(reducer(s, stagedDiscarded())).toBe(s);
  });

  it('clearing the canvas removes images, staged results and the mask', () => {
    let s = reducer(withThreeStaged(), stagedAccepted());
    s = reducer(s, maskOpAdded({ tab: 'canvas', op: { kind: 'invert' } }));
    s = reducer(s, canvasCleared());
    expect([s.layer, s.staged, s.masks.canvas.past]).toEqual([[], [], []]);
  });
});

describe('canvas state', () => {
  it('the box is always snapped', () => {
    expect(reducer(initialCanvasState, boxChanged({ x: 101, y: 3, width: 130, height: 60 })).box).toEqual({ x: 104, y: 0, width: 128, height: 64 });
  });

  it('each tab has its own mask history; a new image size starts a new inpainting mask', () => {
    let s = reducer(initialCanvasState, inpaintingImageSized({ width: 128, height: 128 }));
    s = reducer(s, maskOpAdded({ tab: 'inpainting', op: { kind: 'invert' } }));
    expect(s.masks.inpainting.past).toHaveLength(1);
    expect(s.masks.canvas.past).toHaveLength(0);
    s = reducer(s, inpaintingImageSized({ width: 128, height: 128 }));
    expect(s.masks.inpainting.past).toHaveLength(1);
    s = reducer(s, maskUndone('inpainting'));
    expect(s.masks.inpainting.future).toHaveLength(1);
    s = reducer(s, inpaintingImageSized({ width: 256, height: 128 }));
    expect(s.masks.inpainting).toEqual({ past: [], future: [] });
  });

  it('the Unified Canvas undoes strokes, placed images and accepted results in the order they were done', () => {
    const placed = { url: 'outputs/init-images/p.png', x: 0, y: 0, width: 128, height: 128 };
    let s = reducer(initialCanvasState, layerItemAdded(placed));
    s = reducer(s, maskOpAdded({ tab: 'canvas', op: { kind: 'invert' } }));
    s = reducer(s, stagingRequested({ requestId: 'r9', stage: box }));
    s = reducer(s, canvasResult('outputs/r.png', 'j9'));
    s = reducer(s, stagedAccepted());
    expect(s.layer.map((i) => i.url)).toEqual([placed.url, 'outputs/r.png']);

    s = reducer(s, maskUndone('canvas')); // the accepted result goes first
    expect(s.layer.map((i) => i.url)).toEqual([placed.url]);
    expect(s.masks.canvas.past).toHaveLength(1);
    s = reducer(s, maskUndone('canvas')); // then the stroke
    expect(s.masks.canvas.past).toHaveLength(0);
    expect(s.layer).toHaveLength(1);
    s = reducer(s, maskRedone('canvas'));
    s = reducer(s, maskRedone('canvas'));
    expect(s.layer.map((i) => i.url)).toEqual([placed.url, 'outputs/r.png']);
    expect(s.masks.canvas.past).toHaveLength(1);

    s = reducer(s, maskUndone('canvas'));
    s = reducer(s, layerItemAdded({ ...placed, x: 8 })); // a new step forgets what was undone
    expect(s.layerFuture).toEqual([]);
    expect(s.canvasOrder.future).toEqual([]);
    s = reducer(s, maskUndone('inpainting')); // the Inpainting tab's undo leaves the canvas alone
    expect(s.layer).toHaveLength(2);
  });

  it("Use All's mask is the Inpainting history's one step: the picture loading next keeps it, undo empties it", () => {
    const mask = rasterOp(renderMask([{ kind: 'invert' }], 192, 128));
    let s = reducer(initialCanvasState, inpaintingImageSized({ width: 128, height: 128 }));
    s = reducer(s, maskOpAdded({ tab: 'inpainting', op: { kind: 'invert' } }));
    s = reducer(
      s,
      inpaintingRecalled({ url: 'outputs/canvas-images/f.png', size: { width: 192, height: 128 }, mask, box: { x: 0, y: 0, width: 96, height: 128 }, seamSize: 99.6, inpaintReplace: 0.25 }),
    );
    expect(s.masks.inpainting).toEqual({ past: [mask], future: [] });
    expect(s.inpaintingBox).toEqual({ url: 'outputs/canvas-images/f.png', box: { x: 0, y: 0, width: 96, height: 128 } });
    expect([s.seamSize, s.inpaintReplace]).toEqual([64, 0.25]);
    s = reducer(s, inpaintingImageSized({ width: 192, height: 128 })); // the panel measures the same picture
    expect(s.masks.inpainting.past).toEqual([mask]);
    s = reducer(s, maskUndone('inpainting'));
    expect(s.masks.inpainting.past).toEqual([]);
    const none = reducer(s, inpaintingRecalled({ url: 'outputs/x.png', size: { width: 64, height: 64 }, mask, box: null, seamSize: null, inpaintReplace: null }));
    expect([none.inpaintingBox, none.seamSize, none.inpaintReplace]).toEqual([null, 64, 0.25]);
  });
});
