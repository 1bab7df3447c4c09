import { describe, expect, it } from 'vitest';
import type { ModelList } from '../../app/protocol';
import { deleteModel, importModel, scanModelFolder } from './modelsThunks';
import { modelsDialogOpened } from './modelsSlice';
import { validateModelManagementArgs } from '../../../test/protocolSchema';
import { connectedStore, flush } from '../../../test/fakeSocket';
import { demoConfig } from '../../../test/demoConfig';

const models: ModelList = { demo: { status: 'active', description: 'demo' } };
const config = (list: ModelList) => demoConfig({ model: 'stable diffusion', model_list: list });

function setup() {
  const { socket, store } = connectedStore();
  socket.serve('systemConfig', config(models));
  return { socket, store };
}

describe('model management over the socket layer', () => {
  it('sends importModel(path, name, make_default) and toasts what was added', async () => {
    const { socket, store } = setup();
    store.dispatch(importModel({ path: '/m/tiny.safetensors', name: 'tiny', makeDefault: true }));
    expect(socket.sent).toHaveLength(1);
    expect(socket.sent[0].event).toBe('importModel');
    expect(socket.sent[0].args.slice(0, 3)).toEqual(['/m/tiny.safetensors', 'tiny', true]);
    expect(validateModelManagementArgs('importModel', socket.wireArgs().args)).toEqual([]);
    expect(store.getState().models.pending).toMatchObject({ operation: 'import', target: '/m/tiny.safetensors' });

    store.dispatch(scanModelFolder('/elsewhere')); // refused while one job runs
    expect(socket.sent).toHaveLength(1);

    socket.ack({ jobId: 'j1' });

    await flush();
    const after = { ...models, tiny: { status: 'not loaded' as const, description: 'SD 1.x' } };
    socket.serve('modelListChanged', { operation: 'import', report: { added: ['tiny'] }, model_list: after, jobId: 'j1' });
    socket.serve('systemConfig', config(after));
    const state = store.getState();
    expect(state.models.outcome).toMatchObject({ kind: 'success', added: ['tiny'] });
    expect(state.system.toasts.map((t) => [t.kind, t.message])).toContainEqual(['success', 'Added tiny to the model list.']);
    expect(Object.keys(state.system.config?.model_list ?? {})).toEqual(['demo', 'tiny']);
  });

  it("sends an empty name as null and shows the server's error for a bad path", async () => {
    const { socket, store } = setup();
    store.dispatch(importModel({ path: '/nope.safetensors', makeDefault: false }));
    expect(socket.sent[0].args.slice(0, 3)).toEqual(['/nope.safetensors', null, false]);
    expect(validateModelManagementArgs('importModel', socket.wireArgs().args)).toEqual([]);
    socket.ack({ jobId: 'j2' });
    await flush();
    socket.serve('error', { message: 'path: /nope.safetensors does not exist', jobId: 'j2' });
    expect(store.getState().models).toMatchObject({
      pending: null,
      outcome: { kind: 'error', message: 'path: /nope.safetensors does not exist' },
    });
    // The dialog was closed, so the error also comes as a toast.
    expect(store.getState().system.toasts.map((t) => t.kind)).toContain('error');
  });

  it('sends scanModelFolder(path) and deleteModel(name) with an acknowledgement callback', async () => {
    const { socket, store } = setup();
    store.dispatch(scanModelFolder('/a1111/models'));
    expect(socket.sent[0].event).toBe('scanModelFolder');
    expect(socket.sent[0].args[0]).toBe('/a1111/models');
    expect(socket.sent[0].args[1]).toMatch(/^models-/); // the request id the job's events will carry
    expect(typeof socket.sent[0].args[2]).toBe('function');
    expect(validateModelManagementArgs('scanModelFolder', socket.wireArgs().args)).toEqual([]);
    socket.ack(undefined);
    await flush();
    expect(store.getState().models.outcome?.kind).toBe('error');

    store.dispatch(deleteModel('old'));
    expect(socket.sent[1].event).toBe('deleteModel');
    expect(socket.sent[1].args[0]).toBe('old');
    expect(validateModelManagementArgs('deleteModel', socket.wireArgs().args)).toEqual([]);
  });

  it("settles on a result that beats the acknowledgement (by its request id) and toasts it once", async () => {
    const { socket, store } = setup();
    store.dispatch(scanModelFolder('/a1111/models'));
    const requestId = socket.wireArgs().args[1] as string;
    const after = { ...models, 'tiny-scanned': { status: 'not loaded' as const, description: 'SD 1.x' } };
    socket.serve('modelListChanged', { operation: 'scan', report: { added: ['tiny-scanned'] }, model_list: after, jobId: 'j9', requestId });
    expect(store.getState().models).toMatchObject({ pending: null, outcome: { kind: 'success', requestId } });
    socket.ack({ jobId: 'j9', requestId });
    await flush();
    socket.serve('queueUpdate', { jobs: [{ id: 'j9', status: 'done', summary: 'Models: scan', requestId }] });
    const toasts = store.getState().system.toasts.filter((t) => t.kind === 'success').map((t) => t.message);
    expect(toasts).toEqual(['The scan added 1 model: tiny-scanned.']);
    expect(store.getState().jobs.byRequest).toEqual({});
  });

  it("keeps a job's error in the open dialog instead of a toast over it", async () => {
    const { socket, store } = setup();
    store.dispatch(modelsDialogOpened());
    store.dispatch(importModel({ path: '/x.safetensors', makeDefault: false }));
    const requestId = socket.wireArgs().args[3] as string;
    socket.serve('error', { message: 'Invalid path: /x.safetensors does not exist.', jobId: 'j7', requestId });
    expect(store.getState().models.outcome).toMatchObject({ kind: 'error', message: 'Invalid path: /x.safetensors does not exist.' });
    expect(store.getState().system.toasts).toEqual([]);
  });

  it('has a schema that catches wrong model-management arguments', async () => {
    expect(validateModelManagementArgs('importModel', ['', 'n', 'yes'])).toEqual([
      'importModel.path should be 1 to 4096 characters long',
      'importModel.make_default should be boolean, got "yes"',
    ]);
    expect(validateModelManagementArgs('scanModelFolder', [7])).toEqual(['scanModelFolder.path should be string, got 7']);
    expect(validateModelManagementArgs('deleteModel', [])).toEqual(['deleteModel.model_name is missing']);
    expect(validateModelManagementArgs('deleteModel', ['old', 'two words'])).toEqual([
      'deleteModel.request_id should be 1 to 100 letters, digits or . _ : -, got "two words"',
    ]);
  });
});
