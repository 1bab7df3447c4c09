import { describe, expect, it } from 'vitest';
import type { ModelList, ModelListChangedPayload } from '../../app/protocol';
import { disconnected } from '../system/systemSlice';
import { jobEventReceived } from '../jobs/jobTracker';
import reducer, {
  CANCELED_BEFORE_START_MESSAGE,
  CONNECTION_LOST_MESSAGE,
  REFUSED_MESSAGE,
  initialModelsState,
  modelErrorReceived,
  modelListChangedReceived,
  modelOperationAcknowledged,
  modelOperationRequested,
  modelsDialogClosed,
  modelsDialogOpened,
  errorShownInDialog,
  outcomeToast,
  type ModelsState,
} from './modelsSlice';

const before: ModelList = { demo: { status: 'active', description: 'demo' } };
const after: ModelList = { ...before, 'tiny-scanned': { status: 'not loaded', description: 'SD 1.x' } };
const changed = (jobId: string, operation: ModelListChangedPayload['operation'] = 'scan'): ModelListChangedPayload => ({
  operation,
  report: { added: ['tiny-scanned'], known: [], skipped: [{ path: '/x/notes.ckpt', reason: 'not a model' }] },
  model_list: after,
  jobId,
});

function requested(): ModelsState {
  return reducer(initialModelsState, modelOperationRequested({ operation: 'scan', target: '/a1111/models', before }));
}

describe('a model job from request to outcome', () => {
  it('a scan canceled while it runs shows its report; one canceled while it waited says the list did not change', () => {
    const finished = (jobId: string) => jobEventReceived({ owner: 'models', requestId: 'r', jobId, event: 'finished', payload: { status: 'canceled' } });
    let s = reducer(requested(), modelOperationAcknowledged({ jobId: 'j1' }));
    const partial = { ...changed('j1'), report: { added: ['tiny-scanned'], canceled: true, checked: 3, total: 50 } };
    s = reducer(s, jobEventReceived({ owner: 'models', requestId: 'r', jobId: 'j1', event: 'modelListChanged', payload: partial }));
    s = reducer(s, finished('j1'));
    expect(s.outcome).toMatchObject({ kind: 'success', message: 'The scan was canceled after 3 of 50 files. Until then it added 1 model: tiny-scanned.' });

    s = reducer(reducer(s, modelOperationRequested({ operation: 'scan', target: '/b', before })), modelOperationAcknowledged({ jobId: 'j2' }));
    s = reducer(s, finished('j2'));
    expect(s.outcome).toMatchObject({ kind: 'error', message: CANCELED_BEFORE_START_MESSAGE });
    expect(s.pending).toBeNull();
  });

  it('is pending until its own modelListChanged, then shows what was added', () => {
    let s = requested();
    expect(s.pending).toMatchObject({ operation: 'scan', target: '/a1111/models', jobId: null });
    s = reducer(s, modelOperationAcknowledged({ jobId: 'j1' }));
    expect(s.pending?.jobId).toBe('j1');
    s = reducer(s, modelListChangedReceived(changed('other')));
    expect(s.pending).not.toBeNull(); // another window's job
    s = reducer(s, modelListChangedReceived(changed('j1')));
    expect(s.pending).toBeNull();
    expect(s.outcome).toMatchObject({
      kind: 'success',
      operation: 'scan',
      added: ['tiny-scanned'],
      skipped: [{ path: '/x/notes.ckpt', reason: 'not a model' }],
      message: 'The scan added 1 model: tiny-scanned.',
    });
  });

  it('settles a job whose result came before its acknowledgement', () => {
    let s = requested();
    s = reducer(s, modelListChangedReceived(changed('j2')));
    expect(s.pending).not.toBeNull();
    s = reducer(s, modelOperationAcknowledged({ jobId: 'j2' }));
    expect(s.pending).toBeNull();
    expect(s.outcome?.kind).toBe('success');
    expect(s.early).toEqual([]);

    s = reducer(requested(), modelErrorReceived({ message: '/nope does not exist', jobId: 'j3' }));
    s = reducer(s, modelOperationAcknowledged({ jobId: 'j3' }));
    expect(s.outcome).toMatchObject({ kind: 'error', message: '/nope does not exist' });
  });

  it("shows a failed job's error, and ignores other jobs' errors", () => {
    let s = reducer(requested(), modelOperationAcknowledged({ jobId: 'j4' }));
    s = reducer(s, modelErrorReceived({ message: 'a generation failed', jobId: 'gen' }));
    expect(s.pending).not.toBeNull();
    s = reducer(s, modelErrorReceived({ message: 'path: /x is not a folder', jobId: 'j4' }));
    expect(s.pending).toBeNull();
    expect(s.outcome).toMatchObject({ kind: 'error', operation: 'scan', message: 'path: /x is not a folder' });
  });

  it('shows a refusal: its error comes first, then an empty acknowledgement', () => {
    let s = reducer(requested(), modelErrorReceived({ message: 'scanModelFolder: path must be a string' }));
    expect(s.outcome).toMatchObject({ kind: 'error', message: 'scanModelFolder: path must be a string' });
    s = reducer(s, modelOperationAcknowledged(undefined));
    expect(s.outcome?.message).toBe('scanModelFolder: path must be a string');
    // An empty acknowledgement with no error before it still ends the wait.
    s = reducer(requested(), modelOperationAcknowledged(undefined));
    expect(s).toMatchObject({ pending: null, outcome: { kind: 'error', message: REFUSED_MESSAGE } });
  });

  it('runs one job at a time and gives up on a lost connection', () => {
    let s = requested();
    s = reducer(s, modelOperationRequested({ operation: 'delete', target: 'demo', before }));
    expect(s.pending?.operation).toBe('scan');
    s = reducer(s, disconnected());
    expect(s).toMatchObject({ pending: null, outcome: { kind: 'error', message: CONNECTION_LOST_MESSAGE } });
  });

  it('opens with a clean slate unless a job is still running', () => {
    let s = reducer(reducer(requested(), modelOperationAcknowledged(undefined)), modelsDialogClosed());
    s = reducer(s, modelsDialogOpened());
    expect(s).toMatchObject({ isOpen: true, outcome: null });
    s = reducer(reducer(s, modelOperationRequested({ operation: 'scan', target: '/x', before })), modelsDialogClosed());
    s = reducer(s, modelsDialogOpened());
    expect(s.pending?.target).toBe('/x');
  });

  it('toasts a new success once, never an error', () => {
    const pending = reducer(requested(), modelOperationAcknowledged({ jobId: 'j5' }));
    const done = reducer(pending, modelListChangedReceived(changed('j5')));
    expect(outcomeToast(pending, done)).toBe('The scan added 1 model: tiny-scanned.');
    expect(outcomeToast(done, done)).toBeNull();
    const failed = reducer(pending, modelErrorReceived({ message: 'no', jobId: 'j5' }));
    expect(outcomeToast(pending, failed)).toBeNull();
  });

  it("keeps a job's error in the open dialog instead of a toast over it", () => {
    const open = reducer(reducer(initialModelsState, modelsDialogOpened()), modelOperationRequested({ operation: 'import', target: '/x', before }));
    const failed = reducer(open, modelErrorReceived({ message: 'Invalid path: /x does not exist.' }));
    expect(errorShownInDialog(open, failed)).toBe(true);
    const closed = reducer(open, modelsDialogClosed());
    expect(errorShownInDialog(closed, reducer(closed, modelErrorReceived({ message: 'no' })))).toBe(false);
    expect(errorShownInDialog(failed, reducer(failed, modelErrorReceived({ message: 'other' })))).toBe(false);
  });
});
