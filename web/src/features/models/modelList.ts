/** Pure helpers for the Models dialog: list order, labels, before/after differences and outcome messages. */
import type { ModelList, ModelListEntry, ModelOperation, ModelOperationReport } from '../../app/protocol';

export interface ModelRow extends ModelListEntry {
  name: string;
}

export interface ModelListDiff {
  added: string[];
  removed: string[];
}

/** The active model first, then cached ones, then the rest, each group by name. */
export function sortedModels(list: ModelList): ModelRow[] {
  const rank = (e: ModelListEntry) => (e.status === 'active' ? 0 : e.status === 'cached' ? 1 : 2);
  return Object.entries(list)
    .map(([name, entry]) => ({ ...entry, name }))
    .sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
}

export function statusLabel(status: ModelListEntry['status']): string {
  return status === 'active' ? 'Active' : status === 'cached' ? 'Cached' : 'Not loaded';
}

/** A short tag for how the model is stored ("checkpoint", "diffusers", "demo"); null when unknown. */
export function formatLabel(entry: ModelListEntry): string | null {
  if (entry.demo) return 'demo';
  return entry.format ? entry.format : null;
}

/** Which names a change of the list added and removed (each sorted). */
export function diffModelLists(before: ModelList, after: ModelList): ModelListDiff {
  const added = Object.keys(after).filter((name) => !(name in before));
  const removed = Object.keys(before).filter((name) => !(name in after));
  return { added: added.sort(), removed: removed.sort() };
}

function names(list: string[]): string {
  return list.join(', ');
}

/** The sentence the dialog and the toast show when an operation succeeded. */
export function outcomeMessage(
  operation: ModelOperation,
  diff: ModelListDiff,
  report: ModelOperationReport,
): string {
  if (operation === 'default') {
    return `${report.default ?? 'The model'} is now the default: the server loads it when it starts.`;
  }
  if (operation === 'delete') {
    const gone = diff.removed.length > 0 ? diff.removed : (report.deleted ?? []);
    return `Removed ${names(gone)} from the model list; its files were not deleted.`;
  }
  if (operation === 'import') {
    if (diff.added.length > 0) return `Added ${names(diff.added)} to the model list.`;
    const named = report.added ?? [];
    return named.length > 0
      ? `${names(named)} was already in the model list; its entry is updated.`
      : 'The model list did not change.';
  }
  const known = report.known?.length ?? 0;
  const alsoKnown = known > 0 ? ` (${known} already listed)` : '';
  const stopped = report.canceled ? `The scan was canceled after ${report.checked ?? 0} of ${report.total ?? 0} files. ` : '';
  const subject = report.canceled ? 'Until then it' : 'The scan';
  if (diff.added.length === 0) return `${stopped}${subject} found no new models${alsoKnown}.`;
  const noun = diff.added.length === 1 ? 'model' : 'models';
  return `${stopped}${subject} added ${diff.added.length} ${noun}${alsoKnown}: ${names(diff.added)}.`;
}

/** What a Remove button must say instead of removing, or null when the model may be removed. */
export function removeBlocker(entry: ModelListEntry): string | null {
  return entry.status === 'active'
    ? 'The active model cannot be removed; load another model first.'
    : null;
}

/** Checks a form's path before sending; whether it exists only the server (whose machine it is on) can say. */
export function pathProblem(path: string): string | null {
  const trimmed = path.trim();
  if (trimmed === '') return 'Enter the path of a model on the server machine.';
  return null;
}
