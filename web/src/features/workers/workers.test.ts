import { describe, expect, it } from 'vitest';
import { createElement, type ReactNode } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { Provider } from 'react-redux';
import { connectedStore } from '../../../test/fakeSocket';
import { validateWorkersUpdate } from '../../../test/protocolSchema';
import { browserClientId, CLIENT_ID_KEY } from '../../app/persistence';
import { createSocket } from '../../app/socketio/middleware';
import { QueuePanel } from '../queue/QueuePanel';
import { WorkersPanel } from './WorkersPanel';

const worker = (id: string, job: string | null, alive = true) => ({
  id, host: 'studio-host', device: 'cpu', model: job ? 'demo' : null, job, itsPerSecond: job ? 0 : 3.25, alive,
});

const progress = (jobId: string, worker: string, step: number) => ({
  currentStep: step, totalSteps: 12, currentIteration: 1, totalIterations: 2, currentStatus: 'Generating',
  isProcessing: true, currentStatusHasSteps: true, hasError: false, itPerSec: 2, eta: 3, jobId, worker,
});

function render(store: ReturnType<typeof connectedStore>['store'], panel: () => ReactNode) {
  return renderToStaticMarkup(createElement(Provider, { store, children: createElement(panel) }));
}

describe('the Workers panel and the queue on a pool of workers', () => {
  it('lists each worker with its host, device, model, job progress, speed and whether it is alive', () => {
    const { socket, store } = connectedStore();
    const update = { workers: [worker('worker-0', 'job-a'), worker('worker-1', null), worker('worker-2', null, false)] };
    expect(validateWorkersUpdate(update)).toEqual([]);
    socket.serve('queueUpdate', { jobs: [{ id: 'job-a', status: 'running', summary: 'txt2img: “a”', worker: 'worker-0' }] });
    socket.serve('workersUpdate', update);
    socket.serve('progressUpdate', progress('job-a', 'worker-0', 5));
    const html = render(store, WorkersPanel);
    expect(html.match(/data-testid="worker"/g)).toHaveLength(3);
    expect(html).toContain('Workers · 1/3 busy');
    expect(html).toContain('studio-host · cpu');
    expect(html).toContain('demo');
    expect(html).toContain('step 5/12');
    expect(html).toContain('3.3 it/s');
    expect(html).toContain('data-alive="false"');
    expect(html).toContain('restarting…');
  });

  it('shows nothing for the one in-process worker (the progress bar shows it)', () => {
    const { socket, store } = connectedStore();
    socket.serve('workersUpdate', { workers: [worker('worker-0', null)] });
    expect(render(store, WorkersPanel)).toBe('');
  });

  it('gives each running queue entry its own worker, progress and preview', () => {
    const { socket, store } = connectedStore();
    socket.serve('queueUpdate', {
      jobs: [
        { id: 'job-a', status: 'running', summary: 'txt2img: “a”', worker: 'worker-0' },
        { id: 'job-b', status: 'running', summary: 'txt2img: “b”', worker: 'worker-1' },
        { id: 'job-c', status: 'queued', summary: 'txt2img: “c”' },
      ],
    });
    socket.serve('progressUpdate', progress('job-a', 'worker-0', 3));
    socket.serve('progressUpdate', progress('job-b', 'worker-1', 9));
    socket.serve('intermediateResult', { url: 'data:image/png;base64,AAAA', mtime: 0, metadata: {}, width: 64, height: 64, jobId: 'job-b' });
    const html = render(store, QueuePanel);
    expect(html.match(/data-testid="queue-job-progress"/g)).toHaveLength(2);
    expect(html).toContain('worker-0');
    expect(html).toContain('worker-1');
    expect(html).toContain('3/12');
    expect(html).toContain('9/12');
    expect(html.match(/data-testid="queue-job-preview"/g)).toHaveLength(1);
    // A job that ends loses its progress; the other keeps its own.
    socket.serve('progressUpdate', { ...progress('job-a', 'worker-0', 0), isProcessing: false });
    expect(store.getState().workers.progress['job-a']).toBeUndefined();
    expect(store.getState().workers.progress['job-b']?.step).toBe(9);
  });

  it('rejects a workersUpdate with a field the protocol does not have', () => {
    expect(validateWorkersUpdate({ workers: [{ ...worker('w', null), gpu: 1 }] })).toEqual([
      'workersUpdate.workers[0].gpu is not a protocol field',
    ]);
  });
});

describe("the browser's client id", () => {
  it('is made once, kept in storage and sent in the Socket.IO handshake', () => {
    const kept = new Map<string, string>();
    const storage = {
      getItem: (k: string) => kept.get(k) ?? null,
      setItem: (k: string, v: string) => void kept.set(k, v),
    } as unknown as Storage;
    const id = browserClientId(storage);
    expect(id.length).toBeGreaterThan(8);
    expect(kept.get(CLIENT_ID_KEY)).toBe(id);
    expect(browserClientId(storage)).toBe(id);
    expect(browserClientId(null)).not.toBe(id);
    expect(createSocket(id).auth).toEqual({ clientId: id });
  });
});
