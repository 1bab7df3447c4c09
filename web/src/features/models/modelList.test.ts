import { describe, expect, it } from 'vitest';
import type { ModelList } from '../../app/protocol';
import { diffModelLists, formatLabel, outcomeMessage, pathProblem, removeBlocker, sortedModels, statusLabel } from './modelList';

const list: ModelList = {
  zeta: { status: 'not loaded', description: 'z' },
  demo: { status: 'active', description: 'The demo model', demo: true, format: 'demo' },
  alpha: { status: 'not loaded', description: 'a', format: 'checkpoint' },
  cachy: { status: 'cached', description: 'c', format: 'diffusers' },
};

describe('the model list', () => {
  it('puts the active model first, then cached ones, then the rest by name', () => {
    expect(sortedModels(list).map((r) => r.name)).toEqual(['demo', 'cachy', 'alpha', 'zeta']);
    expect(sortedModels(list)[0]).toMatchObject({ name: 'demo', status: 'active', description: 'The demo model' });
  });

  it('labels statuses and formats the way the dialog shows them', () => {
    expect(['active', 'cached', 'not loaded'].map((s) => statusLabel(s as 'active'))).toEqual(['Active', 'Cached', 'Not loaded']);
    expect(formatLabel(list.demo)).toBe('demo');
    expect(formatLabel(list.alpha)).toBe('checkpoint');
    expect(formatLabel(list.zeta)).toBeNull();
  });

  it('finds what a change added and removed', () => {
    const after: ModelList = { ...list, 'tiny-b': list.zeta, 'tiny-a': list.zeta };
    delete after.alpha;
    expect(diffModelLists(list, after)).toEqual({ added: ['tiny-a', 'tiny-b'], removed: ['alpha'] });
    expect(diffModelLists(list, list)).toEqual({ added: [], removed: [] });
  });

  it('refuses to remove the active model, with the reason', () => {
    expect(removeBlocker(list.demo)).toMatch(/active model cannot be removed/);
    expect(removeBlocker(list.cachy)).toBeNull();
    expect(removeBlocker(list.zeta)).toBeNull();
  });

  it('wants a path before sending', () => {
    expect(pathProblem('  ')).toMatch(/Enter the path/);
    expect(pathProblem('/models/a.safetensors')).toBeNull();
  });
});

describe('outcome messages', () => {
  it('says how far a canceled scan got and what it added until then', () => {
    expect(outcomeMessage('scan', { added: ['a'], removed: [] }, { canceled: true, checked: 37, total: 3001 })).toBe(
      'The scan was canceled after 37 of 3001 files. Until then it added 1 model: a.',
    );
    expect(outcomeMessage('scan', { added: [], removed: [] }, { canceled: true, checked: 0, total: 5 })).toBe(
      'The scan was canceled after 0 of 5 files. Until then it found no new models.',
    );
  });

  it('names what a scan added and counts what it already knew', () => {
    expect(outcomeMessage('scan', { added: ['a', 'b'], removed: [] }, { known: ['c'] })).toBe(
      'The scan added 2 models (1 already listed): a, b.',
    );
    expect(outcomeMessage('scan', { added: ['a'], removed: [] }, {})).toBe('The scan added 1 model: a.');
    expect(outcomeMessage('scan', { added: [], removed: [] }, { known: ['a', 'b'] })).toBe(
      'The scan found no new models (2 already listed).',
    );
  });

  it('says an import added the model, or that it was already listed', () => {
    expect(outcomeMessage('import', { added: ['mine'], removed: [] }, { added: ['mine'] })).toBe('Added mine to the model list.');
    expect(outcomeMessage('import', { added: [], removed: [] }, { added: ['mine'] })).toMatch(/mine was already in the model list/);
  });

  it('says a removal left the files alone', () => {
    expect(outcomeMessage('delete', { added: [], removed: ['old'] }, { deleted: ['old'] })).toBe(
      'Removed old from the model list; its files were not deleted.',
    );
  });

  it('names the new default model', () => {
    expect(outcomeMessage('default', { added: [], removed: [] }, { default: 'demo-alt' })).toBe(
      'demo-alt is now the default: the server loads it when it starts.',
    );
  });
});
