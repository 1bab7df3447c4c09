import { describe, expect, it } from 'vitest';
import type { ImageInfo, QueueJob } from '../../app/protocol';
import { jobEventReceived } from '../jobs/jobTracker';
import { validateRunPostprocessingArgs } from '../../../test/protocolSchema';
import { activeCount, buildPostprocessingParameters, jobView, resultNote, settingsProblem, type PostprocessingSettings } from './jobs';
import reducer, {
  initialPostprocessingState,
  postprocessingJobAcknowledged,
  postprocessingJobsCleared,
  postprocessingJobsRequested,
} from './postprocessingSlice';

const base: PostprocessingSettings = initialPostprocessingState.settings;
const original = { url: 'outputs/000001.1.png' };

/** An event of this tab's job, as the job tracker hands it over (job jN was sent as request rN). */
const jobEvent = (jobId: string, event: string, payload: unknown) =>
  jobEventReceived({ owner: 'postprocessing', requestId: jobId.replace('j', 'r'), jobId, event, payload });
const progress = (jobId: string, currentStatus: string) =>
  jobEvent(jobId, 'progressUpdate', {
    currentStep: 0, totalSteps: 0, currentIteration: 1, totalIterations: 1, currentStatus, isProcessing: true, currentStatusHasSteps: false, hasError: false, jobId,
  });

describe('postprocessing parameters', () => {
  it('upscale only, faces only, and both in one esrgan job with a facetool', () => {
    expect(buildPostprocessingParameters({ ...base, upscale: true, faces: false, level: 2 })).toEqual({ type: 'esrgan', upscale: [2, 0.75] });
    expect(buildPostprocessingParameters({ ...base, upscale: false, faces: true, facetoolType: 'codeformer', faceStrength: 0.5 })).toEqual({
      type: 'codeformer',
      facetool_strength: 0.5,
      codeformer_fidelity: 0.75,
    });
    const both = buildPostprocessingParameters({ ...base, upscale: true, faces: true, level: 4 });
    expect(both).toEqual({ type: 'esrgan', upscale: [4, 0.75], facetool: { type: 'gfpgan', strength: 0.8, codeformer_fidelity: 0.75 } });
    for (const p of [both, buildPostprocessingParameters({ ...base, upscale: false, faces: true })]) {
      expect(validateRunPostprocessingArgs([original, p])).toEqual([]);
    }
    expect(validateRunPostprocessingArgs([original, { type: 'gfpgan', facetool: both.facetool }])).not.toEqual([]);
  });

  it('explains what the server cannot do', () => {
    expect(settingsProblem({ ...base, upscale: false, faces: false }, undefined)).toMatch(/Turn on/);
    expect(settingsProblem(base, { esrgan: { available: false, reason: 'Missing weights' } })).toMatch(/Upscaling is unavailable/);
    expect(settingsProblem({ ...base, upscale: false, faces: true, facetoolType: 'codeformer' }, { codeformer: { available: false } })).toMatch(/CodeFormer/);
    expect(settingsProblem(base, { esrgan: { available: true } })).toBeNull();
  });
});

describe('postprocessing job tracking', () => {
  const result = (jobId: string, steps: NonNullable<ImageInfo['metadata']['image']>['postprocessing']): ImageInfo => ({
    url: `outputs/${jobId}.postprocessed.png`,
    mtime: 2,
    metadata: { image: { postprocessing: steps } },
    width: 256,
    height: 256,
    category: 'result',
    jobId,
  });

  it('follows each job from sending to queued, running and done, whatever order the events come in', () => {
    let s = reducer(initialPostprocessingState, postprocessingJobsRequested([
      { requestId: 'r1', sourceUrl: 'outputs/a.png', summary: 'Upscale 2×' },
      { requestId: 'r2', sourceUrl: 'outputs/b.png', summary: 'Upscale 2×' },
    ]));
    let queue: QueueJob[] = [];
    const views = () => s.jobs.map((j) => jobView(j, queue, s.progress, s.results));
    expect(views().map((v) => v.state)).toEqual(['sending', 'sending']);
    queue = [{ id: 'j1', status: 'running', summary: '', requestId: 'r1' }, { id: 'j2', status: 'queued', summary: '', requestId: 'r2' }];
    // Progress and even the result may come before the acknowledgement: the request id names the job.
    s = reducer(s, progress('j1', 'Upscaling'));
    expect(views().map((v) => v.text)).toEqual(['Upscaling', 'Queued']);
    s = reducer(s, postprocessingJobAcknowledged({ requestId: 'r1', jobId: 'j1' }));
    s = reducer(s, postprocessingJobAcknowledged({ requestId: 'r2', jobId: 'j2' }));
    expect(views().map((v) => v.text)).toEqual(['Upscaling', 'Queued']);
    expect(activeCount(views())).toBe(2);
    s = reducer(s, jobEvent('j1', 'postprocessingResult', result('j1', [{ type: 'esrgan', scale: 2, strength: 0.75 }])));
    expect(views()[0]).toMatchObject({ state: 'done', text: 'Done: 256×256', note: null });
    expect(activeCount(views())).toBe(1);
    s = reducer(s, postprocessingJobsCleared(['r1']));
    expect(s.jobs.map((j) => j.requestId)).toEqual(['r2']);
    expect(s.results).toEqual({});
  });

  it("shows how a job ended from the tracker's outcome, even once the queue no longer lists it", () => {
    let s = reducer(initialPostprocessingState, postprocessingJobsRequested([{ requestId: 'r3', sourceUrl: 'u', summary: 'GFPGAN' }]));
    s = reducer(s, postprocessingJobAcknowledged({ requestId: 'r3', jobId: 'j3' }));
    s = reducer(s, jobEvent('j3', 'finished', { status: 'canceled' }));
    expect(jobView(s.jobs[0], [], s.progress, s.results, s.finished)).toMatchObject({ state: 'canceled', text: 'Canceled' });
    expect(activeCount([jobView(s.jobs[0], [], s.progress, s.results, s.finished)])).toBe(0);
  });

  it('a refused request and a failed job say so', () => {
    let s = reducer(initialPostprocessingState, postprocessingJobsRequested([{ requestId: 'r', sourceUrl: 'u', summary: 'GFPGAN' }]));
    s = reducer(s, postprocessingJobAcknowledged({ requestId: 'r', jobId: null }));
    expect(jobView(s.jobs[0], [], {}, {}).state).toBe('refused');
    const job = { requestId: 'x', sourceUrl: 'u', summary: '', jobId: 'j', refused: false };
    expect(jobView(job, [{ id: 'j', status: 'failed', summary: '' }], {}, {}).text).toBe('Failed');
  });

  it('a face step that found no face is reported, not passed off as a restoration', () => {
    expect(resultNote([{ type: 'esrgan', scale: 2 }, { type: 'gfpgan', strength: 0.8, faces: 0 }])).toMatch(/No face was found/);
    expect(resultNote([{ type: 'gfpgan', strength: 0.8, faces: 2 }])).toBeNull();
    expect(resultNote([{ type: 'esrgan', scale: 2 }])).toBeNull();
  });
});
