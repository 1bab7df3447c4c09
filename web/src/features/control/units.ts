/** The Control section's facts (models, preprocessors, modes from systemConfig) and its translations:
 * units → `generation_parameters.control`, a recipe's `control[]` → units, and why a unit cannot run. */
import type {
  ChoiceInfo,
  ControlMapRequest,
  ControlMetadata,
  ControlMode,
  ControlPreprocessorInfo,
  ControlUnitParameters,
  FieldLimit,
  HiresPass,
  ImageInfo,
  ResizeMode,
  SystemConfig,
} from '../../app/protocol';
import { outputImageUrl } from '../../common/util/parameterTranslation';
import type { MaskOp } from '../canvas/mask';
import { activeModelName } from '../system/systemSlice';
import type { ActiveTab } from '../tabs/tabsSlice';
import { newUnit, type ControlState, type ControlUnit } from './controlSlice';

/** The preprocessor a server that lists none still runs: the picture is the map. */
export const FALLBACK_PREPROCESSORS: readonly ControlPreprocessorInfo[] = [
  { id: 'none', name: 'None (the image is already a map)', settings: {} },
];
/** The A1111 ControlNet extension's names of the modes, shown until the server lists its own. */
export const FALLBACK_CONTROL_MODES: readonly ChoiceInfo[] = [
  { id: 'balanced', name: 'Balanced' },
  { id: 'prompt', name: 'My prompt is more important' },
  { id: 'control', name: 'ControlNet is more important' },
];
export const FALLBACK_RESIZE_MODES: readonly ChoiceInfo[] = [
  { id: 'crop', name: 'Crop and Resize' },
  { id: 'fit', name: 'Resize and Fill' },
  { id: 'stretch', name: 'Just Resize' },
];
/** Which pass of hires fix a unit steers (request.HIRES_PASSES' ids); 'both' is the default, not sent. */
export const HIRES_PASSES: readonly { id: HiresPass; name: string }[] = [
  { id: 'both', name: 'Both passes' },
  { id: 'first', name: 'First pass only (low res)' },
  { id: 'second', name: 'Second pass only (high res)' },
];
export const DEFAULT_HIRES_PASS: HiresPass = 'both';
/** How many units a request may carry when the server does not say (its MAX_CONTROL_UNITS). */
export const FALLBACK_MAX_UNITS = 8;
export const FALLBACK_UNIT_LIMITS = {
  control_weight: { min: 0, max: 2 },
  control_start: { min: 0, max: 1 },
  control_end: { min: 0, max: 1 },
} satisfies Record<string, FieldLimit>;

/** The names users read for the model families systemConfig reports. */
const FAMILY_NAMES: Record<string, string> = { sd1: 'SD 1.x', sd2: 'SD 2.x', sdxl: 'SDXL' };
export const familyName = (family: string): string => FAMILY_NAMES[family] ?? family;

/** The names users read for the kinds of control model. */
const KIND_NAMES: Record<string, string> = { controlnet: 'ControlNet', t2i_adapter: 'T2I-Adapter' };
export const controlKindName = (kind: string | undefined): string => KIND_NAMES[kind ?? 'controlnet'] ?? kind ?? 'ControlNet';

export interface ControlModelChoice {
  name: string;
  family: string;
  /** What users read for its kind: ControlNet or T2I-Adapter. */
  kind: string;
  description: string;
  /** Why it cannot steer the loaded model (another family), or null. */
  unavailable: string | null;
}

export interface ControlFacts {
  models: ControlModelChoice[];
  preprocessors: readonly ControlPreprocessorInfo[];
  controlModes: readonly ChoiceInfo[];
  resizeModes: readonly ChoiceInfo[];
  maxUnits: number;
  limits: Record<keyof typeof FALLBACK_UNIT_LIMITS, FieldLimit>;
  /** The loaded model's family, when known. */
  family: string | null;
}

const isLimit = (v: unknown): v is FieldLimit =>
  typeof v === 'object' && v !== null && typeof (v as FieldLimit).min === 'number' && typeof (v as FieldLimit).max === 'number';

/** What the Control section offers, from systemConfig (or the fallbacks before it, or an older server, says). */
export function controlFacts(config: SystemConfig | null | undefined): ControlFacts {
  const active = config ? activeModelName(config) : null;
  const family = active ? (config?.model_list[active]?.family ?? 'sd1') : null;
  const models = Object.entries(config?.control_models ?? {}).map(([name, info]) => ({
    name,
    family: info.family,
    kind: controlKindName(info.kind),
    description: info.description ?? '',
    unavailable:
      family && info.family !== family
        ? `${name} is a ${controlKindName(info.kind)} for ${familyName(info.family)}; the loaded model is ${familyName(family)}.`
        : null,
  }));
  const sent = config?.limits;
  const limits = { ...FALLBACK_UNIT_LIMITS };
  for (const key of Object.keys(limits) as Array<keyof typeof limits>) {
    if (isLimit(sent?.[key])) limits[key] = sent[key] as FieldLimit;
  }
  const list = <T,>(value: T[] | undefined, fallback: readonly T[]) => (Array.isArray(value) && value.length > 0 ? value : fallback);
  return {
    models,
    preprocessors: list(config?.control_preprocessors, FALLBACK_PREPROCESSORS),
    controlModes: list(config?.control_modes, FALLBACK_CONTROL_MODES),
    resizeModes: list(config?.resize_modes, FALLBACK_RESIZE_MODES),
    maxUnits: typeof sent?.control_units?.max === 'number' ? sent.control_units.max : FALLBACK_MAX_UNITS,
    limits,
    family,
  };
}

/** Memoised per config object, so components get a stable value. */
const cache = new WeakMap<SystemConfig, ControlFacts>();
const noConfig = controlFacts(null);
export function selectControlFacts(state: { system: { config: SystemConfig | null } }): ControlFacts {
  const config = state.system.config;
  if (!config) return noConfig;
  let facts = cache.get(config);
  if (!facts) {
    facts = controlFacts(config);
    cache.set(config, facts);
  }
  return facts;
}

/** The ControlNet a new unit starts with: the first that suits the loaded model ('' when none does). */
export function defaultModel(facts: ControlFacts): string {
  return facts.models.find((m) => m.unavailable === null)?.name ?? '';
}

export function preprocessorOf(facts: ControlFacts, id: string): ControlPreprocessorInfo | undefined {
  return facts.preprocessors.find((p) => p.id === id);
}

/** A preprocessor's settings at their defaults. */
export function defaultSettings(preprocessor: ControlPreprocessorInfo | undefined): Record<string, number> {
  return Object.fromEntries(Object.entries(preprocessor?.settings ?? {}).map(([k, s]) => [k, s.default]));
}

/** Why a preprocessor cannot run here (its network's weights are missing), with the fix; null when it can. */
export function preprocessorProblem(preprocessor: ControlPreprocessorInfo | undefined): string | null {
  const missing = preprocessor?.missing ?? [];
  if (!preprocessor || missing.length === 0) return null;
  const folders = new Set(preprocessor.folders ?? []);
  const named = missing.map((name) => (folders.has(name) ? `the folder ${name}/` : name));
  const repos = [...new Set(missing.map((name) => preprocessor.sources?.[name] ?? 'lllyasviel/Annotators'))];
  const what = missing.length === 1 ? (folders.has(missing[0]) ? 'the folder' : 'the file') : 'them';
  return `${preprocessor.name} needs ${named.join(', ')} (${repos.join(', ')}) in the root dir's models/annotators folder: run invokeai-configure (it downloads those with a published checksum), or copy ${what} there.`;
}

/** A recorded unit in a line: model, preprocessor, weight, and the settings that are not the defaults. */
export function describeRecordedUnit(unit: ControlMetadata): string {
  const parts = [unit.model ?? '?', unit.preprocessor ?? 'none', `weight ${unit.weight ?? 1}`];
  const start = unit.start ?? 0;
  const end = unit.end ?? 1;
  if (start !== 0 || end !== 1) parts.push(`steps ${Math.round(start * 100)}–${Math.round(end * 100)} %`);
  const mode = FALLBACK_CONTROL_MODES.find((m) => m.id === unit.control_mode);
  if (mode && mode.id !== 'balanced') parts.push(mode.name);
  const pass = HIRES_PASSES.find((p) => p.id === unit.hires_pass);
  if (pass && pass.id !== DEFAULT_HIRES_PASS) parts.push(pass.name.toLowerCase());
  return parts.join(' · ');
}

/** What a unit without a picture of its own steers with on each tab that has one (the server takes the
 * request's init picture, and for Inpaint leaves the part being filled, painted or empty, transparent);
 * other tabs need a picture. */
export const INIT_PICTURE: Partial<Record<ActiveTab, string>> = {
  img2img: 'the initial image',
  inpainting: 'the picture being inpainted',
  outpainting: 'the picture being extended',
  canvas: 'the canvas under the box',
};

/** Why unit `index` (0-based) cannot be sent on `tab`, naming it and the fix; null when it can. */
export function unitProblem(unit: ControlUnit, index: number, facts: ControlFacts, tab?: ActiveTab): string | null {
  const name = `Control unit ${index + 1}`;
  if (!unit.model) {
    return facts.models.length === 0
      ? `${name}: no ControlNet is installed. Add one to models.yaml (or scan a models/ControlNet folder in the Models dialog).`
      : `${name}: choose a control model.`;
  }
  const model = facts.models.find((m) => m.name === unit.model);
  if (!model && facts.models.length > 0) return `${name}: the control model ${unit.model} is not installed here; choose another.`;
  if (model?.unavailable) return `${name}: ${model.unavailable} Choose a ${familyName(facts.family ?? '')} ControlNet.`;
  if (!unit.image && !(tab && INIT_PICTURE[tab])) return `${name}: choose a control picture (upload, drop, the gallery or the current image).`;
  const pre = preprocessorOf(facts, unit.preprocessor);
  if (!pre) return `${name}: the preprocessor ${unit.preprocessor} is not available here; choose another.`;
  const missing = preprocessorProblem(pre);
  if (missing) return `${name}: ${missing}`;
  if (unit.start > unit.end) return `${name}: the start (${unit.start}) must not be after the end (${unit.end}).`;
  return null;
}

/** The tabs whose Invoke sends the Control section's units (Postprocessing sends none). */
export const CONTROL_TABS: ReadonlySet<ActiveTab> = new Set<ActiveTab>(['txt2img', 'img2img', 'inpainting', 'canvas', 'outpainting']);

/** Why the Control section keeps Invoke on `tab` from running, or null. */
export function controlBlockerFor(state: { control: ControlState; system: { config: SystemConfig | null } }, tab: ActiveTab): string | null {
  return CONTROL_TABS.has(tab) ? controlBlocker(state.control, selectControlFacts(state), tab) : null;
}

/** Why the Control section keeps Invoke on `tab` from running, or null (also when it is off or empty). */
export function controlBlocker(control: ControlState, facts: ControlFacts, tab?: ActiveTab): string | null {
  if (!control.enabled) return null;
  for (const [i, unit] of control.units.entries()) {
    const problem = unitProblem(unit, i, facts, tab);
    if (problem) return problem;
  }
  return null;
}

/** The settings the unit's preprocessor takes (a setting of a preprocessor chosen before is left out). */
function unitSettings(unit: ControlUnit, facts?: ControlFacts): Record<string, number> {
  const known = facts ? preprocessorOf(facts, unit.preprocessor)?.settings : undefined;
  if (!known) return { ...unit.settings };
  return Object.fromEntries(Object.entries(unit.settings).filter(([k]) => k in known));
}

/** One unit as the protocol carries it; `image` replaces the unit's picture (the canvas's region under the box).
 * `hires_pass` goes only when the unit steers one pass of hires fix (absent means both, as an older server reads it). */
export function unitParameters(unit: ControlUnit, facts?: ControlFacts, image?: string): ControlUnitParameters {
  const hiresPass = unit.hiresPass ?? DEFAULT_HIRES_PASS;
  return {
    model: unit.model,
    image: image ?? unit.image?.url ?? '',
    preprocessor: unit.preprocessor,
    settings: unitSettings(unit, facts),
    weight: unit.weight,
    start: unit.start,
    end: unit.end,
    control_mode: unit.controlMode,
    resize_mode: unit.resizeMode,
    ...(hiresPass !== DEFAULT_HIRES_PASS ? { hires_pass: hiresPass } : {}),
  };
}

/** `generation_parameters.control`, or undefined when the section is off or holds no unit. */
export function controlParameters(control: ControlState, facts?: ControlFacts): ControlUnitParameters[] | undefined {
  if (!control.enabled || control.units.length === 0) return undefined;
  return control.units.map((u) => unitParameters(u, facts));
}

/** The initial image a unit without a picture takes, as a map preview asks for it. */
export interface PreviewInit {
  url: string;
  fit: boolean;
  /** The Inpainting tab's painted mask, for a unit whose preprocessor fills (Inpaint): the part it fills. */
  mask?: readonly MaskOp[];
}

/** What a unit's map is previewed from on `tab` when it has no picture: the initial image on Image to Image and
 * Inpainting, with the painted mask for an Inpaint unit on Inpainting (Outpainting and the canvas make their
 * picture only when they run); null when there is none, or nothing painted for an Inpaint unit to fill. */
export function previewInit(
  unit: ControlUnit,
  tab: ActiveTab,
  options: { initialImage: ImageInfo | null; shouldFitToWidthHeight: boolean },
  facts?: ControlFacts,
  painted: readonly MaskOp[] = [],
): PreviewInit | null {
  if (unit.image || !options.initialImage || (tab !== 'img2img' && tab !== 'inpainting')) return null;
  const init = { url: options.initialImage.url, fit: tab === 'img2img' && options.shouldFitToWidthHeight };
  if (tab !== 'inpainting' || !(facts && preprocessorOf(facts, unit.preprocessor)?.masks)) return init;
  return painted.length > 0 ? { ...init, mask: painted } : null;
}

/** `requestControlMap`'s request for a unit's map at the size being generated (from `init` without a picture;
 * its painted mask, when it has one, goes as `init_mask`, which the caller renders). */
export function mapRequest(unit: ControlUnit, size: { width: number; height: number }, facts?: ControlFacts, init?: PreviewInit | null): ControlMapRequest {
  return {
    image: unit.image?.url ?? '',
    preprocessor: unit.preprocessor,
    settings: unitSettings(unit, facts),
    resize_mode: unit.resizeMode,
    width: size.width,
    height: size.height,
    ...(!unit.image && init ? { init_img: init.url, fit: init.fit } : {}),
  };
}

/** A mask history's digest, computed once per history (a stroke or an undo makes a new one). */
const maskDigests = new WeakMap<readonly MaskOp[], string>();
function maskDigest(ops: readonly MaskOp[]): string {
  let digest = maskDigests.get(ops);
  if (digest === undefined) {
    let h = 0x811c9dc5; // FNV-1a over the history's JSON
    for (const c of JSON.stringify(ops)) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
    digest = h.toString(16);
    maskDigests.set(ops, digest);
  }
  return digest;
}

/** What a map is made from: a shown map whose inputs differ is stale (a painted mask counts by its digest). */
export const mapInputs = (request: ControlMapRequest, init?: PreviewInit | null): string =>
  JSON.stringify(request) + (init?.mask && !request.image ? `|mask ${maskDigest(init.mask)}` : '');

const CONTROL_MODE_IDS: readonly string[] = ['balanced', 'prompt', 'control'] satisfies ControlMode[];
const RESIZE_MODE_IDS: readonly string[] = ['crop', 'fit', 'stretch'] satisfies ResizeMode[];
const HIRES_PASS_IDS: readonly string[] = HIRES_PASSES.map((p) => p.id);
const num = (value: unknown, fallback: number): number =>
  typeof value === 'number' && Number.isFinite(value) ? value : fallback;

/** Use All: a recipe's units (`image.control[]`) as the section's, each with its recorded picture and
 * settings (the map is made again from the picture, so none is carried). Ids come from `makeId`. */
export function unitsFromMetadata(recorded: unknown, makeId: (index: number) => string): ControlUnit[] {
  if (!Array.isArray(recorded)) return [];
  return recorded
    .filter((u): u is ControlMetadata => typeof u === 'object' && u !== null)
    .map((u, i) => {
      const base = newUnit(makeId(i), typeof u.model === 'string' ? u.model : '');
      const path = typeof u.image_path === 'string' && u.image_path !== '' ? u.image_path : null;
      const settings =
        typeof u.settings === 'object' && u.settings !== null
          ? Object.fromEntries(Object.entries(u.settings).filter(([, v]) => typeof v === 'number' && Number.isFinite(v)))
          : {};
      return {
        ...base,
        image: path ? { url: outputImageUrl(path), width: 0, height: 0 } : null,
        preprocessor: typeof u.preprocessor === 'string' ? u.preprocessor : 'none',
        settings,
        weight: num(u.weight, base.weight),
        start: num(u.start, base.start),
        end: num(u.end, base.end),
        controlMode: (CONTROL_MODE_IDS.includes(u.control_mode ?? '') ? u.control_mode : base.controlMode) as ControlMode,
        resizeMode: (RESIZE_MODE_IDS.includes(u.resize_mode ?? '') ? u.resize_mode : base.resizeMode) as ResizeMode,
        hiresPass: (HIRES_PASS_IDS.includes(u.hires_pass ?? '') ? u.hires_pass : DEFAULT_HIRES_PASS) as HiresPass,
      };
    });
}

/** The control units of an image's recipe, as the Control section's (ids fresh for this recall). */
export function recallUnits(image: ImageInfo): ControlUnit[] {
  const stamp = Date.now().toString(36);
  return unitsFromMetadata(image.metadata.image?.control, (i) => `unit-${stamp}-${i}`);
}
