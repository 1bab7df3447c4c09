/** What survives a reload (parameters, settings, theme, layout) and how it is kept in localStorage. */
import type { OptionsState } from '../features/options/optionsSlice';
import type { SystemSettings, Theme } from '../features/system/systemSlice';
import type { TabsState } from '../features/tabs/tabsSlice';
import type { GalleryCategory } from './protocol';

export const STATE_KEY = 'invokeai.state.v1';
export const THEME_KEY = 'invokeai.theme';

export interface PersistedState {
  options: Partial<OptionsState>;
  system: Partial<SystemSettings & { theme: Theme }>;
  tabs: Partial<TabsState>;
  gallery: { isOpen?: boolean; currentCategory?: GalleryCategory };
}

interface PersistableState {
  options: OptionsState;
  system: SystemSettings & { theme: Theme };
  tabs: TabsState;
  gallery: { isOpen: boolean; currentCategory: GalleryCategory };
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function loadPersistedState(storage: Storage): PersistedState | null {
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(storage.getItem(STATE_KEY) ?? 'null');
  } catch {
    parsed = null;
  }
  const theme = storage.getItem(THEME_KEY);
  const result: PersistedState = { options: {}, system: {}, tabs: {}, gallery: {} };
  if (isRecord(parsed)) {
    if (isRecord(parsed.options)) result.options = parsed.options as Partial<OptionsState>;
    if (isRecord(parsed.system)) result.system = parsed.system as PersistedState['system'];
    if (isRecord(parsed.tabs)) result.tabs = parsed.tabs as Partial<TabsState>;
    if (isRecord(parsed.gallery)) result.gallery = parsed.gallery as PersistedState['gallery'];
  }
  if (theme === 'dark' || theme === 'light') result.system.theme = theme;
  return result;
}

export function savePersistedState(storage: Storage, state: PersistableState): void {
  const { shouldConfirmOnDelete, previewStyle, saveIntermediatesInterval } = state.system;
  const persisted: PersistedState = {
    options: state.options,
    system: { shouldConfirmOnDelete, previewStyle, saveIntermediatesInterval },
    tabs: state.tabs,
    gallery: { isOpen: state.gallery.isOpen, currentCategory: state.gallery.currentCategory },
  };
  try {
    storage.setItem(STATE_KEY, JSON.stringify(persisted));
    storage.setItem(THEME_KEY, state.system.theme);
  } catch {
    // A full or disabled storage only costs persistence; the app keeps working.
  }
}
