import { describe, expect, it } from 'vitest';
import type { ImageInfo } from '../../app/protocol';
import { jobEventReceived } from '../jobs/jobTracker';
import { initialOptionsState } from '../options/optionsSlice';
import { validateGenerateImageArgs } from '../../../test/protocolSchema';
import reducer, {
  extensionSet,
  initialOutpaintingState,
  outpaintGenerationSent,
  outpaintPhaseChanged,
  outpaintRefused,
  outpaintSourceSet,
  outpaintUndone,
} from './outpaintingSlice';
import { buildOutpaintingRequest } from './request';

const image = (name: string, width: number, height: number, extra: Partial<ImageInfo> = {}): ImageInfo => ({
  url: `outputs/${name}`,
  mtime: 1,
  metadata: {},
  width,
  height,
  category: 'result',
  ...extra,
});

describe('outpainting state', () => {
  it('a result of its own job becomes the picture, so the next outpainting grows it', () => {
    let s = reducer(initialOutpaintingState, outpaintSourceSet(image('a.png', 128, 128)));
    s = reducer(s, extensionSet({ side: 'right', px: 61 }));
    expect(s.extension.right).toBe(64);
    s = reducer(s, outpaintPhaseChanged('composing'));
    s = reducer(s, outpaintPhaseChanged('uploading'));
    s = reducer(s, outpaintGenerationSent('outpainting-1'));
    expect(s.pending).toEqual({ phase: 'generating', requestId: 'outpainting-1' });
    const result = (requestId: string, owner: 'outpainting' | 'canvas', picture: ImageInfo) =>
      jobEventReceived({ owner, requestId, jobId: 'job1', event: 'generationResult', payload: picture });
    // Another feature's result, or an earlier outpainting's, changes nothing.
    s = reducer(s, result('outpainting-1', 'canvas', image('other.png', 64, 64)));
    s = reducer(s, result('outpainting-0', 'outpainting', image('older.png', 64, 64)));
    expect(s.source?.url).toBe('outputs/a.png');
    s = reducer(s, result('outpainting-1', 'outpainting', image('b.png', 192, 128)));
    expect(s.source?.url).toBe('outputs/b.png');
    expect(s.extension).toEqual({ top: 0, right: 0, bottom: 0, left: 0 });
    expect(s.pending).toBeNull();
    s = reducer(s, outpaintUndone());
    expect(s.source?.url).toBe('outputs/a.png');
  });

  it('a finished job or a refused request lets the user invoke again', () => {
    const generating = { ...initialOutpaintingState, pending: { phase: 'generating' as const, requestId: 'r' } };
    const finished = jobEventReceived({ owner: 'outpainting', requestId: 'r', jobId: 'j', event: 'finished', payload: { status: 'failed' } });
    expect(reducer(generating, finished).pending).toBeNull();
    expect(reducer(generating, { ...finished, payload: { ...finished.payload, owner: 'canvas' } }).pending).not.toBeNull();
    expect(reducer(generating, outpaintRefused('r')).pending).toBeNull();
  });

  it('sends the composite as init_img at its own size with the whole picture as the box, as the protocol names it', () => {
    const options = { ...initialOptionsState, prompt: 'a lighthouse', steps: 4, hiresFix: true, shouldRunESRGAN: true };
    const settings = { previewStyle: 'latents' as const, saveIntermediatesInterval: 5 };
    const request = buildOutpaintingRequest(
      options,
      settings,
      { strength: 1, seamSize: 8, inpaintReplace: 0.25 },
      { url: 'outputs/init-images/outpaint.png', width: 192, height: 128 },
      () => 0.5,
    );
    expect(request.generationParameters).toMatchObject({
      prompt: 'a lighthouse',
      width: 192,
      height: 128,
      init_img: 'outputs/init-images/outpaint.png',
      strength: 1,
      fit: false,
      hires_fix: false,
      bounding_box: { x: 0, y: 0, width: 192, height: 128 },
      inpaint_replace: 0.25,
      seam_size: 8,
    });
    expect(request.generationParameters).not.toHaveProperty('init_mask');
    expect(request.esrganParameters).toBe(false);
    expect(validateGenerateImageArgs([request.generationParameters, request.esrganParameters, request.facetoolParameters])).toEqual([]);
  });
});
