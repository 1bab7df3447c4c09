import { describe, expect, it } from 'vitest';
import type { ImageInfo } from '../../app/protocol';
import { connectedStore, flush } from '../../../test/fakeSocket';
import { imageAdded } from '../gallery/gallerySlice';
import { outpaintGenerationSent, outpaintSourceSet } from '../outpainting/outpaintingSlice';
import { generate } from '../options/generate';
import { runPostprocessingOnSelection } from '../postprocessing/postprocessingThunks';
import { jobView } from '../postprocessing/jobs';
import { validateJobEventIds } from '../../../test/protocolSchema';

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
  store.dispatch(outpaintGenerationSent('outpainting-1'));
  void store.dispatch(generate({ owner: 'outpainting', requestId: 'outpainting-1' }));
  void store.dispatch(runPostprocessingOnSelection());
  const [generation, postprocessing] = socket.wire();
  expect([generation.event, postprocessing.event]).toEqual(['generateImage', 'runPostprocessing']);
  // Each job-starting event ends with the request id its feature tracks the job by.
  const outId = generation.args[3] as string;
  expect(outId).toBe('outpainting-1');
  const ppId = postprocessing.args[2] as string;
  const owners = Object.values(store.getState().jobs.byRequest).map((j) => [j.requestId, j.owner]);
  expect(owners).toEqual(expect.arrayContaining([[outId, 'outpainting'], [ppId, 'postprocessing']]));
  return { socket, store, outId, ppId };
}

/** A server event of a job, checked against the protocol's ids first. */
function serveJobEvent(socket: ReturnType<typeof connectedStore>['socket'], event: string, payload: { jobId?: string; requestId?: string }) {
  expect(validateJobEventIds(event, payload, payload.requestId)).toEqual([]);
  socket.serve(event, payload);
}

describe('the job tracker', () => {
  it('hands the events of two interleaved jobs to the feature that sent each, by request id before any acknowledgement', async () => {
    const { socket, store, outId, ppId } = withTwoFeaturesSending();
    // The worker is quicker than the acknowledgements: the jobs' events come first, interleaved.
    serveJobEvent(socket, 'progressUpdate', { ...progress('pp-1', 'Upscaling'), requestId: ppId });
    serveJobEvent(socket, 'progressUpdate', { ...progress('out-1', 'Generating'), requestId: outId });
    serveJobEvent(socket, 'postprocessingResult', image('upscaled.png', { jobId: 'pp-1', requestId: ppId, width: 128, height: 128 }));
    expect(store.getState().outpainting.source?.url).toBe('outputs/picture.png'); // not the upscale
    serveJobEvent(socket, 'generationResult', image('grown.png', { jobId: 'out-1', requestId: outId, width: 128, height: 64 }));

    const { outpainting, postprocessing } = store.getState();
    expect(outpainting.source?.url).toBe('outputs/grown.png');
    expect(outpainting.pending).toBeNull();
    expect(postprocessing.progress).toEqual({ [ppId]: 'Upscaling' });
    expect(postprocessing.results[ppId]?.url).toBe('outputs/upscaled.png');
    expect(Object.keys(postprocessing.results)).toEqual([ppId]);

    socket.ack({ jobId: 'out-1', requestId: outId });
    socket.ack({ jobId: 'pp-1', requestId: ppId });
    await flush();
    socket.serve('queueUpdate', { jobs: [{ id: 'pp-1', status: 'done', summary: '', requestId: ppId }] });
    const after = store.getState();
    expect(jobView(after.postprocessing.jobs[0], after.queue.jobs, after.postprocessing.progress, after.postprocessing.results).state).toBe('done');
    // Both still reach the gallery, as every window's results do.
    expect(after.gallery.categories.result.images.map((i) => i.url)).toEqual(
      expect.arrayContaining(['outputs/grown.png', 'outputs/upscaled.png']),
    );
  });

  it('falls back to the job id once the acknowledgement names the job (a server that echoes no request id)', async () => {
    const { socket, store, ppId } = withTwoFeaturesSending();
    socket.ack({ jobId: 'out-1' });
    socket.ack({ jobId: 'pp-1' });
    await flush();
    serveJobEvent(socket, 'postprocessingResult', image('upscaled.png', { jobId: 'pp-1' }));
    serveJobEvent(socket, 'generationResult', image('grown.png', { jobId: 'out-1' }));
    expect(store.getState().outpainting.source?.url).toBe('outputs/grown.png');
    expect(store.getState().postprocessing.results[ppId]?.url).toBe('outputs/upscaled.png');
  });

  it("leaves another window's jobs alone, even one whose events come while ours wait for their acknowledgement", () => {
    const { socket, store } = withTwoFeaturesSending();
    serveJobEvent(socket, 'generationResult', image('theirs.png', { jobId: 'other-1', requestId: 'canvas-zz-other' }));
    serveJobEvent(socket, 'generationResult', image('theirs2.png', { jobId: 'other-2' }));
    expect(store.getState().outpainting.source?.url).toBe('outputs/picture.png');
    expect(store.getState().postprocessing.results).toEqual({});
    expect(Object.values(store.getState().jobs.byRequest).map((j) => j.jobId)).toEqual([null, null]);
  });

  it('ends a job the queue reports finished, found by its request id before the acknowledgement', async () => {
    const { socket, store, outId, ppId } = withTwoFeaturesSending();
    socket.serve('queueUpdate', {
      jobs: [
        { id: 'out-1', status: 'failed', summary: '', requestId: outId },
        { id: 'pp-1', status: 'running', summary: '', requestId: ppId },
      ],
    });
    expect(store.getState().outpainting.pending).toBeNull();
    expect(Object.values(store.getState().jobs.byRequest)).toEqual([{ owner: 'postprocessing', requestId: ppId, jobId: 'pp-1' }]);
    socket.ack({ jobId: 'out-1', requestId: outId }); // the late acknowledgement of a forgotten job changes nothing
    await flush();
    expect(Object.keys(store.getState().jobs.byRequest)).toEqual([ppId]);
  });
});
