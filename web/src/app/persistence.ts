/** What survives a reload (parameters, control units, settings, theme, layout, the canvases) and how it is kept in localStorage. */
import type { CanvasState } from '../features/canvas/canvasSlice';
import type { ControlState } from '../features/control/controlSlice';
import type { OptionsState } from '../features/options/optionsSlice';
import type { SystemSettings, Theme } from '../features/system/systemSlice';
import type { TabsState } from '../features/tabs/tabsSlice';
import type { GalleryCategory } from './protocol';

export const STATE_KEY = 'invokeai.state.v1';
export const THEME_KEY = 'invokeai.theme';
/** The canvases under their own key: a canvas too large for the storage costs only itself. */
export const CANVAS_KEY = 'invokeai.canvas.v1';
/** This browser's client id (sent in the Socket.IO handshake: its jobs take turns with other clients'). */
export const CLIENT_ID_KEY = 'invokeai.clientId';

/** The browser's client id, made once and kept; without storage, one for this page only. */
export function browserClientId(storage: Storage | null): string {
  const kept = storage?.getItem(CLIENT_ID_KEY);
  if (kept) return kept;
  const made = globalThis.crypto?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  try {
    storage?.setItem(CLIENT_ID_KEY, made);
  } catch {
    // Storage full or refused: the id lasts as long as the page.
  }
  return made;
}

/** The work on the Inpainting and Unified Canvas tabs: images placed, the boxes, masks, brush settings.
 * Undo history, staged results and uploads in flight are of the session and start empty. */
export type PersistedCanvas = Partial<
  Pick<
    CanvasState,
    'layer' | 'box' | 'brushSize' | 'hardness' | 'seamSize' | 'inpaintReplace' | 'inpaintingSize' | 'inpaintingBox'
  >
> & { masks?: Partial<Record<keyof CanvasState['masks'], CanvasState['masks']['canvas']['past']>> };

export interface PersistedState {
  options: Partial<OptionsState>;
  system: Partial<SystemSettings & { theme: Theme }>;
  tabs: Partial<TabsState>;
  gallery: { isOpen?: boolean; currentCategory?: GalleryCategory };
  canvas: PersistedCanvas;
  control: Partial<ControlState>;
}

interface PersistableState {
  options: OptionsState;
  control: ControlState;
  system: SystemSettings & { theme: Theme };
  tabs: TabsState;
  gallery: { isOpen: boolean; currentCategory: GalleryCategory };
  canvas: CanvasState;
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
  const result: PersistedState = { options: {}, system: {}, tabs: {}, gallery: {}, canvas: loadCanvas(storage), control: {} };
  if (isRecord(parsed)) {
    if (isRecord(parsed.options)) result.options = parsed.options as Partial<OptionsState>;
    if (isRecord(parsed.system)) result.system = parsed.system as PersistedState['system'];
    if (isRecord(parsed.tabs)) result.tabs = parsed.tabs as Partial<TabsState>;
    if (isRecord(parsed.gallery)) result.gallery = parsed.gallery as PersistedState['gallery'];
    if (isRecord(parsed.control)) result.control = loadControl(parsed.control);
  }
  if (theme === 'dark' || theme === 'light') result.system.theme = theme;
  return result;
}

/** The Control section as saved: its switch, the units (objects only) and the layer's visibility. */
function loadControl(saved: Record<string, unknown>): Partial<ControlState> {
  const out: Partial<ControlState> = {};
  if (typeof saved.enabled === 'boolean') out.enabled = saved.enabled;
  if (typeof saved.isLayerVisible === 'boolean') out.isLayerVisible = saved.isLayerVisible;
  if (Array.isArray(saved.units)) out.units = saved.units.filter(isRecord) as unknown as ControlState['units'];
  return out;
}

function loadCanvas(storage: Storage): PersistedCanvas {
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(storage.getItem(CANVAS_KEY) ?? 'null');
  } catch {
    return {};
  }
  if (!isRecord(parsed)) return {};
  const out: PersistedCanvas = {};
  if (Array.isArray(parsed.layer)) out.layer = parsed.layer.filter(isRecord) as unknown as CanvasState['layer'];
  if (isRecord(parsed.box)) out.box = parsed.box as unknown as CanvasState['box'];
  for (const key of ['brushSize', 'hardness', 'seamSize', 'inpaintReplace'] as const) {
    if (typeof parsed[key] === 'number') out[key] = parsed[key] as number;
  }
  if (isRecord(parsed.inpaintingSize)) out.inpaintingSize = parsed.inpaintingSize as unknown as CanvasState['inpaintingSize'];
  if (isRecord(parsed.inpaintingBox)) out.inpaintingBox = parsed.inpaintingBox as unknown as CanvasState['inpaintingBox'];
  if (isRecord(parsed.masks)) {
    const masks = parsed.masks;
    out.masks = {};
    for (const tab of ['inpainting', 'canvas'] as const) {
      const ops = masks[tab];
      if (Array.isArray(ops)) out.masks[tab] = ops.filter(isRecord) as unknown as CanvasState['masks']['canvas']['past'];
    }
  }
  return out;
}

export function persistedCanvasOf(canvas: CanvasState): PersistedCanvas {
  const { layer, box, brushSize, hardness, seamSize, inpaintReplace, inpaintingSize, inpaintingBox, masks } = canvas;
  return {
    layer,
    box,
    brushSize,
    hardness,
    seamSize,
    inpaintReplace,
    inpaintingSize,
    inpaintingBox,
    masks: { inpainting: masks.inpainting.past, canvas: masks.canvas.past },
  };
}

/** Writes the canvases; returns false when the storage refused them (full or disabled). */
export function savePersistedCanvas(storage: Storage, canvas: CanvasState): boolean {
  try {
    storage.setItem(CANVAS_KEY, JSON.stringify(persistedCanvasOf(canvas)));
    return true;
  } catch {
    return false;
  }
}

export function savePersistedState(storage: Storage, state: PersistableState): void {
  const { shouldConfirmOnDelete, previewStyle, saveIntermediatesInterval } = state.system;
  const persisted: PersistedState = {
    options: state.options,
    system: { shouldConfirmOnDelete, previewStyle, saveIntermediatesInterval },
    tabs: state.tabs,
    gallery: { isOpen: state.gallery.isOpen, currentCategory: state.gallery.currentCategory },
    canvas: {},
    control: state.control,
  };
  try {
    storage.setItem(STATE_KEY, JSON.stringify(persisted));
    storage.setItem(THEME_KEY, state.system.theme);
  } catch {
    // A full or disabled storage only costs persistence; the app keeps working.
  }
}
