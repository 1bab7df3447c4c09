import { describe, expect, it } from 'vitest';
import type { ImageInfo } from '../../app/protocol';
import { connectedStore, flush } from '../../../test/fakeSocket';
import { imageAdded } from '../gallery/gallerySlice';
import { outpaintPhaseChanged, outpaintSourceSet } from '../outpainting/outpaintingSlice';
import { generate } from '../options/generate';
import { runPostprocessingOnSelection } from '../postprocessing/postprocessingThunks';
import { jobView } from '../postprocessing/jobs';

const image = (name: string, extra: Partial<ImageInfo> = {}): ImageInfo => ({
  url: `outputs/${name}`,
  mtime: 1,
  metadata: {},
  width: 64,
  height: 64,
  category: 'result',
  ...extra,
});

const progress = (jobId: string, currentStatus: string) => ({
  currentStep: 0, totalSteps: 0, currentIteration: 1, totalIterations: 1, currentStatus, isProcessing: true, currentStatusHasSteps: false, hasError: false, jobId,
});

/** A store with one gallery image selected and an outpainting waiting on its generation. */
function withTwoFeaturesSending() {
  const { socket, store } = connectedStore();
  store.dispatch(imageAdded({ image: image('source.png'), select: true }));
  store.dispatch(outpaintSourceSet(image('picture.png')));
  store.dispatch(outpaintPhaseChanged('generating'));
  void store.dispatch(generate({ owner: 'outpainting' }));
  void store.dispatch(runPostprocessingOnSelection());
  expect(socket.wire().map((s) => s.event)).toEqual(['generateImage', 'runPostprocessing']);
  return { socket, store };
}

describe('the job tracker', () => {
  it('hands the events of two interleaved jobs each to the feature that sent it', async () => {
    const { socket, store } = withTwoFeaturesSending();
    socket.ack({ jobId: 'out-1' });
    socket.ack({ jobId: 'pp-1' });
    await flush();
    socket.serve('progressUpdate', progress('pp-1', 'Upscaling'));
    socket.serve('progressUpdate', progress('out-1', 'Generating'));
    socket.serve('postprocessingResult', image('upscaled.png', { jobId: 'pp-1', width: 128, height: 128 }));
    socket.serve('generationResult', image('grown.png', { jobId: 'out-1', width: 128, height: 64 }));

    const { outpainting, postprocessing, queue } = store.getState();
    expect(outpainting.source?.url).toBe('outputs/grown.png');
    expect(outpainting.pending).toBeNull();
    expect(postprocessing.progress).toEqual({ 'pp-1': 'Upscaling' });
    expect(postprocessing.results['pp-1']?.url).toBe('outputs/upscaled.png');
    expect(postprocessing.results['out-1']).toBeUndefined();
    expect(jobView(postprocessing.jobs[0], queue.jobs, postprocessing.progress, postprocessing.results).state).toBe('done');
  });

  it('keeps events that come before their acknowledgement until it names the job', async () => {
    const { socket, store } = withTwoFeaturesSending();
    // The worker was quicker than the acknowledgements: both results arrive first, in the other order.
    socket.serve('postprocessingResult', image('upscaled.png', { jobId: 'pp-1' }));
    socket.serve('generationResult', image('grown.png', { jobId: 'out-1' }));
    expect(store.getState().outpainting.source?.url).toBe('outputs/picture.png');
    socket.ack({ jobId: 'out-1' });
    socket.ack({ jobId: 'pp-1' });
    await flush();
    expect(store.getState().outpainting.source?.url).toBe('outputs/grown.png');
    expect(store.getState().postprocessing.results['pp-1']?.url).toBe('outputs/upscaled.png');
    // Both still reach the gallery, as every window's results do.
    expect(store.getState().gallery.categories.result.images.map((i) => i.url)).toEqual(
      expect.arrayContaining(['outputs/grown.png', 'outputs/upscaled.png']),
    );
  });

  it("routes by the client request id when the server echoes it, before any acknowledgement", async () => {
    const { socket, store } = withTwoFeaturesSending();
    const requestId = Object.values(store.getState().jobs.byRequest).find((j) => j.owner === 'outpainting')?.requestId;
    socket.serve('generationResult', image('grown.png', { jobId: 'out-1', requestId } as Partial<ImageInfo>));
    expect(store.getState().outpainting.source?.url).toBe('outputs/grown.png');
  });

  it('ends a job the queue reports finished, so a job without a result never blocks its feature', async () => {
    const { socket, store } = withTwoFeaturesSending();
    socket.ack({ jobId: 'out-1' });
    socket.ack({ jobId: 'pp-1' });
    await flush();
    socket.serve('queueUpdate', { jobs: [{ id: 'out-1', status: 'failed', summary: '' }, { id: 'pp-1', status: 'running', summary: '' }] });
    expect(store.getState().outpainting.pending).toBeNull();
    expect(Object.values(store.getState().jobs.byRequest).map((j) => j.jobId)).toEqual(['pp-1']);
  });
});
