import { describe, expect, it } from 'vitest';
import type { ModelList, ModelListChangedPayload } from '../../app/protocol';
import { disconnected } from '../system/systemSlice';
import { jobEventReceived } from '../jobs/jobTracker';
import reducer, {
  CANCELED_BEFORE_START_MESSAGE,
  CONNECTION_LOST_MESSAGE,
  REFUSED_MESSAGE,
  initialModelsState,
  modelOperationAccepted,
  modelOperationRefused,
  modelOperationRequested,
  modelsDialogClosed,
  modelsDialogOpened,
  type ModelsState,
} from './modelsSlice';

const before: ModelList = { demo: { status: 'active', description: 'demo' } };
const after: ModelList = { ...before, 'tiny-scanned': { status: 'not loaded', description: 'SD 1.x' } };
const changed = (operation: ModelListChangedPayload['operation'] = 'scan'): ModelListChangedPayload => ({
  operation,
  report: { added: ['tiny-scanned'], known: [], skipped: [{ path: '/x/notes.ckpt', reason: 'not a model' }] },
  model_list: after,
  jobId: 'j1',
});
/** What the job tracker hands a feature: one event of a job it sent. */
const jobEvent = (event: string, payload: unknown, requestId = 'models-1', owner: 'models' | 'canvas' = 'models') =>
  jobEventReceived({ owner, requestId, jobId: 'j1', event, payload });

function requested(requestId = 'models-1'): ModelsState {
  return reducer(initialModelsState, modelOperationRequested({ operation: 'scan', target: '/a1111/models', before, requestId }));
}

describe('a model job from request to outcome', () => {
  it('a scan canceled while it runs shows its report; one canceled while it waited says the list did not change', () => {
    const finished = (requestId: string) =>
      jobEventReceived({ owner: 'models', requestId, jobId: 'j', event: 'finished', payload: { status: 'canceled' } });
    let s = reducer(requested(), modelOperationAccepted({ requestId: 'models-1', jobId: 'j1' }));
    expect(s.pending?.jobId).toBe('j1'); // what its Cancel button cancels
    const partial = { ...changed(), report: { added: ['tiny-scanned'], canceled: true, checked: 3, total: 50 } };
    s = reducer(s, jobEvent('modelListChanged', partial));
    s = reducer(s, finished('models-1'));
    expect(s.outcome).toMatchObject({ kind: 'success', message: 'The scan was canceled after 3 of 50 files. Until then it added 1 model: tiny-scanned.' });

    s = reducer(s, modelOperationRequested({ operation: 'scan', target: '/b', before, requestId: 'models-2' }));
    s = reducer(s, modelOperationAccepted({ requestId: 'models-2', jobId: 'j2' }));
    s = reducer(s, finished('models-2'));
    expect(s.outcome).toMatchObject({ kind: 'error', message: CANCELED_BEFORE_START_MESSAGE });
    expect(s.pending).toBeNull();
  });

  it('is pending until its own modelListChanged, then shows what was added', () => {
    let s = requested();
    expect(s.pending).toMatchObject({ operation: 'scan', target: '/a1111/models', requestId: 'models-1' });
    s = reducer(s, jobEvent('modelListChanged', changed(), 'models-0')); // an earlier request of this window
    s = reducer(s, jobEvent('modelListChanged', changed(), 'models-1', 'canvas'));
    expect(s.pending).not.toBeNull();
    s = reducer(s, jobEvent('modelListChanged', changed()));
    expect(s.pending).toBeNull();
    expect(s.outcome).toMatchObject({
      kind: 'success',
      operation: 'scan',
      added: ['tiny-scanned'],
      skipped: [{ path: '/x/notes.ckpt', reason: 'not a model' }],
      message: 'The scan added 1 model: tiny-scanned.',
      requestId: 'models-1',
    });
  });

  it("shows its job's error, and a job that ends without a new list as a failure", () => {
    let s = reducer(requested(), jobEvent('error', { message: 'path: /x is not a folder', jobId: 'j1' }));
    expect(s.outcome).toMatchObject({ kind: 'error', operation: 'scan', message: 'path: /x is not a folder' });
    s = reducer(requested(), jobEvent('finished', { status: 'failed' }));
    expect(s.outcome).toMatchObject({ kind: 'error', message: 'The job ended without changing the list.' });
  });

  it('shows a refusal with the sentence the server gave, or a plain one', () => {
    let s = reducer(requested(), modelOperationRefused({ requestId: 'models-1', message: 'scanModelFolder: path must be a string' }));
    expect(s.outcome).toMatchObject({ kind: 'error', message: 'scanModelFolder: path must be a string' });
    s = reducer(requested(), modelOperationRefused({ requestId: 'models-1', message: null }));
    expect(s).toMatchObject({ pending: null, outcome: { kind: 'error', message: REFUSED_MESSAGE } });
    expect(reducer(requested(), modelOperationRefused({ requestId: 'other', message: 'no' })).pending).not.toBeNull();
  });

  it('runs one job at a time and gives up on a lost connection', () => {
    let s = requested();
    s = reducer(s, modelOperationRequested({ operation: 'delete', target: 'demo', before, requestId: 'models-2' }));
    expect(s.pending?.operation).toBe('scan');
    s = reducer(s, disconnected());
    expect(s).toMatchObject({ pending: null, outcome: { kind: 'error', message: CONNECTION_LOST_MESSAGE } });
  });

  it('opens with a clean slate unless a job is still running', () => {
    let s = reducer(reducer(requested(), modelOperationRefused({ requestId: 'models-1', message: null })), modelsDialogClosed());
    s = reducer(s, modelsDialogOpened());
    expect(s).toMatchObject({ isOpen: true, outcome: null });
    s = reducer(reducer(s, modelOperationRequested({ operation: 'scan', target: '/x', before, requestId: 'models-3' })), modelsDialogClosed());
    s = reducer(s, modelsDialogOpened());
    expect(s.pending?.target).toBe('/x');
  });
});
