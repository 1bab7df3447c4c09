/** Translation between the control panel's state and the protocol: UI → generation_parameters, metadata → UI. */
import {
  SEAM_SIZE_DEFAULT,
  SEED_MAX,
  type BoundingBox,
  type EsrganParameters,
  type FacetoolParameters,
  type GenerationParameters,
  type ImageMetadata,
  type Metadata,
  type MetadataPrompt,
  type SamplerInfo,
  type SystemConfig,
  type SeedWeightPair,
} from '../../app/protocol';
import type { OptionsState } from '../../features/options/optionsSlice';
import type { ActiveTab } from '../../features/tabs/tabsSlice';
import { FALLBACK_SAMPLERS } from '../../features/system/limits';

export type PreviewStyle = 'latents' | 'full' | 'none';

/** The settings-dialog values that shape a request. */
export interface GenerationSettings {
  previewStyle: PreviewStyle;
  saveIntermediatesInterval: number;
}

export interface GenerationRequest {
  generationParameters: GenerationParameters;
  esrganParameters: EsrganParameters | false;
  facetoolParameters: FacetoolParameters | false;
}

/** What Use All may change in the options state. */
export type MetadataOptions = Partial<OptionsState>;

export function randomSeed(rand: () => number = Math.random): number {
  return Math.floor(rand() * (SEED_MAX + 1));
}

/** Parses `seed:weight,seed:weight`; returns null when any part is not a valid pair. */
export function parseSeedWeights(text: string): SeedWeightPair[] | null {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  const pairs: SeedWeightPair[] = [];
  for (const part of trimmed.split(',')) {
    const match = /^\s*(\d+)\s*:\s*(\d*\.?\d+)\s*$/.exec(part);
    if (!match) return null;
    const seed = Number(match[1]);
    const weight = Number(match[2]);
    if (!Number.isSafeInteger(seed) || seed > SEED_MAX || weight < 0 || weight > 1) return null;
    pairs.push([seed, weight]);
  }
  return pairs;
}

export function seedWeightsToString(pairs: ReadonlyArray<{ seed: number; weight: number } | SeedWeightPair>): string {
  return pairs
    .map((pair) => (Array.isArray(pair) ? `${pair[0]}:${pair[1]}` : `${pair.seed}:${pair.weight}`))
    .join(',');
}

/** A 2.x metadata prompt list back to the text a user would type (`a:1.2 b:0.8` for weighted parts). */
export function promptToString(prompt: MetadataPrompt[] | string | undefined): string {
  if (prompt === undefined) return '';
  if (typeof prompt === 'string') return prompt;
  if (prompt.length === 1) return prompt[0].prompt;
  return prompt.map((p) => `${p.prompt}:${p.weight}`).join(' ');
}

/** Why Invoke cannot run now, as a sentence for the user, or null when it can. */
export function invokeBlocker(options: OptionsState, tab: ActiveTab): string | null {
  if (options.prompt.trim() === '') return 'Type a prompt first.';
  if (tab === 'img2img' && !options.initialImage) return 'Choose an initial image first.';
  if (tab === 'inpainting' && !options.initialImage) return 'Choose an image to inpaint first.';
  if (options.shouldGenerateVariations && parseSeedWeights(options.seedWeights) === null) {
    return 'The seed weights must look like 1234:0.1,5678:0.2.';
  }
  return null;
}

/** Builds the three `generateImage` arguments from the control panel, exactly as the protocol names them. */
export function buildGenerationRequest(
  options: OptionsState,
  settings: GenerationSettings,
  tab: ActiveTab,
  rand: () => number = Math.random,
): GenerationRequest {
  const generationParameters: GenerationParameters = {
    prompt: options.prompt,
    iterations: options.iterations,
    steps: options.steps,
    cfg_scale: options.cfgScale,
    threshold: options.threshold,
    perlin: options.perlin,
    height: options.height,
    width: options.width,
    sampler_name: options.sampler,
    seed: options.shouldRandomizeSeed ? randomSeed(rand) : options.seed,
    seamless: options.seamless,
    hires_fix: options.hiresFix,
    progress_images: settings.previewStyle === 'full',
    progress_latents: settings.previewStyle === 'latents',
    save_intermediates: settings.previewStyle === 'full' ? settings.saveIntermediatesInterval : 0,
    variation_amount: options.shouldGenerateVariations ? options.variationAmount : 0,
    clip_skip: options.clipSkip,
  };
  if (options.promptSyntax === 'a1111') {
    generationParameters.prompt_syntax = 'a1111';
    if (options.negativePrompt.trim() !== '') generationParameters.negative_prompt = options.negativePrompt;
  }
  if (options.hiresFix) generationParameters.hires_strength = options.hiresStrength;
  if (options.shouldGenerateVariations) {
    const pairs = parseSeedWeights(options.seedWeights);
    if (pairs && pairs.length > 0) generationParameters.with_variations = pairs;
  }
  if (tab === 'img2img' && options.initialImage) {
    generationParameters.init_img = options.initialImage.url;
    generationParameters.strength = options.img2imgStrength;
    generationParameters.fit = options.shouldFitToWidthHeight;
  }
  const showAdvanced = options.showAdvancedOptions;
  const esrganParameters: EsrganParameters | false =
    showAdvanced && options.shouldRunESRGAN
      ? { level: options.upscalingLevel, strength: options.upscalingStrength }
      : false;
  const facetoolParameters: FacetoolParameters | false =
    showAdvanced && options.shouldRunFacetool
      ? {
          type: options.facetoolType,
          strength: options.facetoolStrength,
          codeformer_fidelity: options.codeformerFidelity,
        }
      : false;
  return { generationParameters, esrganParameters, facetoolParameters };
}

const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const isBoolean = (value: unknown): value is boolean => typeof value === 'boolean';

/** Folders of the output tree whose images a recipe may name (uploads, painted masks, composed frames,
 * control pictures). */
const INPUT_FOLDERS = ['init-images', 'mask-images', 'canvas-images', 'control-images'] as const;

/** The URL of an image a recipe names: `outputs/...` as served, whatever path form was stored (an older
 * server or the CLI records file paths; an image under a known input folder is served from there). */
export function outputImageUrl(path: string): string {
  const normalized = path.replace(/\\/g, '/');
  if (/^(https?:|data:|blob:|\/?outputs\/)/.test(normalized)) return normalized;
  const at = Math.max(...INPUT_FOLDERS.map((folder) => folderIndex(normalized, folder)));
  return at >= 0 ? `outputs/${normalized.slice(at)}` : normalized;
}

/** Where `folder/` starts as a whole path segment of `path` (its last occurrence), or -1. */
const folderIndex = (path: string, folder: string): number => `/${path}`.lastIndexOf(`/${folder}/`);

/** What the Inpainting tab needs, besides the control panel's values, to regenerate an inpainted image. */
export interface InpaintingRecall {
  /** The picture that was inpainted, as served. */
  initUrl: string;
  /** The painted mask as served (white = regenerate), or null: the picture's transparent pixels were the mask. */
  maskUrl: string | null;
  /** The region worked on, when the recipe names one (null: the whole picture). */
  boundingBox: BoundingBox | null;
  seamSize: number | null;
  inpaintReplace: number | null;
}

/** Use All: the control panel's values, the tab to open and what else the image's recipe needs. */
export interface Recall {
  options: MetadataOptions;
  tab: ActiveTab | null;
  /** Set when the image regenerated only part of its picture: it reopens in the Inpainting tab. */
  inpainting: InpaintingRecall | null;
  /** The model (its models.yaml name) the image was made with, when recorded. */
  model: string | null;
  /** Recorded settings this UI cannot send, as a sentence for the user, or null. */
  unsupported: string | null;
}

const nonEmpty = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);

function isBoundingBox(value: unknown): value is BoundingBox {
  if (typeof value !== 'object' || value === null) return false;
  const box = value as Record<string, unknown>;
  return ['x', 'y', 'width', 'height'].every((k) => isNumber(box[k]));
}

/**
 * Which tab regenerates an image made from an init picture. An image whose recipe regenerated only
 * part of the picture (a painted mask; or, without fit, the picture's transparent pixels: an
 * outpainting frame, a transparent upload) reopens in Inpainting with that part as the mask. Image to
 * Image is the only tab that fits the picture to the output size, so it keeps what was fitted.
 */
function initImageTab(image: ImageMetadata): 'img2img' | 'inpainting' {
  if (nonEmpty(image.mask_image_path)) return 'inpainting';
  return image.type === 'inpaint' && image.fit !== true ? 'inpainting' : 'img2img';
}

/** Use All: every parameter an image's metadata records, as control-panel values, its tab and inputs. */
export function metadataToOptions(metadata: Metadata, samplers: readonly SamplerInfo[] = FALLBACK_SAMPLERS): Recall {
  const image = metadata.image ?? {};
  const options: MetadataOptions = {};
  let tab: ActiveTab | null = null;
  let inpainting: InpaintingRecall | null = null;
  if (image.prompt !== undefined) {
    options.prompt = promptToString(image.prompt);
    // An image recorded before the setting existed was read as InvokeAI syntax.
    options.promptSyntax = image.prompt_syntax === 'a1111' ? 'a1111' : 'invoke';
    options.negativePrompt = options.promptSyntax === 'a1111' ? (image.negative_prompt ?? '') : '';
  }
  if (typeof image.sampler === 'string' && samplers.some((s) => s.id === image.sampler)) {
    options.sampler = image.sampler;
  }
  if (isNumber(image.seed)) {
    options.seed = image.seed;
    options.shouldRandomizeSeed = false;
    // The recipe is of one image: Invoke makes that image, not a new batch around it.
    options.iterations = 1;
  }
  if (isNumber(image.steps)) options.steps = image.steps;
  if (isNumber(image.cfg_scale)) options.cfgScale = image.cfg_scale;
  if (isNumber(image.threshold)) options.threshold = image.threshold;
  if (isNumber(image.perlin)) options.perlin = image.perlin;
  if (isNumber(image.width)) options.width = image.width;
  if (isNumber(image.height)) options.height = image.height;
  if (isBoolean(image.seamless)) options.seamless = image.seamless;
  if (isBoolean(image.hires_fix)) options.hiresFix = image.hires_fix;
  if (isNumber(image.hires_strength)) options.hiresStrength = image.hires_strength;
  // Absent from a recipe of before clip skip existed: those were made with none.
  if (image.seed !== undefined) options.clipSkip = isNumber(image.clip_skip) ? image.clip_skip : 0;
  // A variation is the base seed plus its list of (seed, weight): replaying the list with no
  // extra variation reproduces it exactly.
  if (Array.isArray(image.variations) && image.variations.length > 0) {
    options.seedWeights = seedWeightsToString(image.variations);
    options.shouldGenerateVariations = true;
    options.variationAmount = 0;
  } else if (image.seed !== undefined) {
    options.shouldGenerateVariations = false;
    options.seedWeights = '';
  }
  if (isNumber(image.strength)) options.img2imgStrength = image.strength;
  if (isBoolean(image.fit)) options.shouldFitToWidthHeight = image.fit;
  const initPath = nonEmpty(image.init_image_path);
  if (initPath) {
    const url = outputImageUrl(initPath);
    options.initialImage = { url, mtime: 0, metadata: {}, width: options.width ?? 0, height: options.height ?? 0, category: 'user' };
    tab = initImageTab(image);
    if (tab === 'inpainting') inpainting = inpaintingRecall(image, url);
  } else if (image.type === 'txt2img') {
    tab = 'txt2img';
  }
  Object.assign(options, postprocessingOptions(image));
  return { options, tab, inpainting, model: nonEmpty(metadata.model_id), unsupported: unsupportedSettings(image) };
}

function inpaintingRecall(image: ImageMetadata, initUrl: string): InpaintingRecall {
  const maskPath = nonEmpty(image.mask_image_path);
  return {
    initUrl,
    maskUrl: maskPath ? outputImageUrl(maskPath) : null,
    boundingBox: isBoundingBox(image.bounding_box) ? image.bounding_box : null,
    seamSize: isNumber(image.seam_size) ? image.seam_size : null,
    inpaintReplace: isNumber(image.inpaint_replace) ? image.inpaint_replace : null,
  };
}

/** The Restore Face and Upscale settings from the recorded postprocessing steps (off when none ran). */
function postprocessingOptions(image: ImageMetadata): MetadataOptions {
  if (image.postprocessing === undefined) return {};
  const options: MetadataOptions = {};
  const steps = image.postprocessing ?? [];
  const upscale = steps.find((s) => s.type === 'esrgan');
  const face = steps.find((s) => s.type === 'gfpgan' || s.type === 'codeformer');
  options.shouldRunESRGAN = upscale !== undefined;
  if (upscale) {
    if (upscale.scale === 2 || upscale.scale === 4) options.upscalingLevel = upscale.scale;
    if (isNumber(upscale.strength)) options.upscalingStrength = upscale.strength;
  }
  options.shouldRunFacetool = face !== undefined;
  if (face) {
    options.facetoolType = face.type === 'codeformer' ? 'codeformer' : 'gfpgan';
    if (isNumber(face.strength)) options.facetoolStrength = face.strength;
    if (isNumber(face.fidelity)) options.codeformerFidelity = face.fidelity;
  }
  if (upscale || face) options.showAdvancedOptions = true;
  return options;
}

/** What the image's recipe holds that this UI cannot send (so Invoke may give other pixels). */
function unsupportedSettings(image: ImageMetadata): string | null {
  const problems: string[] = [];
  if (image.prompt_syntax !== 'a1111' && nonEmpty(image.negative_prompt)) problems.push('a separate negative prompt');
  if (nonEmpty(image.mask_image_path) && image.fit === true) problems.push('a mask on a picture fitted to the output size');
  if (initImageTab(image) === 'img2img' && image.type === 'inpaint') {
    if (isNumber(image.seam_size) && image.seam_size !== SEAM_SIZE_DEFAULT) problems.push(`seam size ${image.seam_size}`);
    if (isNumber(image.inpaint_replace) && image.inpaint_replace !== 0) problems.push(`inpaint replace ${image.inpaint_replace}`);
    if (isBoundingBox(image.bounding_box)) problems.push('a bounding box');
  }
  if (problems.length === 0) return null;
  return `This image was made with ${problems.join(' and ')}, which this UI cannot set; regenerating it may not give identical pixels.`;
}

/** The seed an image was made with, when its metadata records one. */
export function metadataSeed(metadata: Metadata): number | null {
  const seed = metadata.image?.seed;
  return isNumber(seed) ? seed : null;
}

/** What a server's jobs run with, of the facts that change a seed's pixels (systemConfig's fields). */
export type EngineFacts = Partial<Pick<SystemConfig, 'precision' | 'device' | 'threads' | 'attention' | 'compiled'>>;

/** Precision/device (and, for float32, torch's thread count), the attention and --compile of the image vs.
 * now: a warning sentence when they differ, else null. An image of ours (it records a precision) without an
 * attention was made with sdpa, and without `compiled`, eagerly. */
export function reproducibilityWarning(metadata: Metadata, current: EngineFacts): string | null {
  const precision = metadata.image?.precision ?? metadata.precision;
  const device = metadata.image?.device ?? metadata.device;
  const threads = metadata.image?.threads;
  const diffs: string[] = [];
  if (precision && current.precision && precision !== current.precision) {
    diffs.push(`precision ${precision} (now ${current.precision})`);
  } else if (precision === 'float32' && isNumber(threads) && isNumber(current.threads) && threads !== current.threads) {
    diffs.push(`${threads} torch threads (now ${current.threads}; set OMP_NUM_THREADS=${threads} to match)`);
  }
  if (device && current.device && deviceKind(device) !== deviceKind(current.device)) {
    diffs.push(`device ${device} (now ${current.device})`);
  }
  const attention = metadata.image?.attention ?? (precision ? 'sdpa' : undefined);
  if (attention && current.attention && attention !== current.attention) {
    diffs.push(`${attention} attention (now ${current.attention}; start the server with --attention ${attention} to match)`);
  }
  if (precision && typeof current.compiled === 'boolean' && (metadata.image?.compiled === true) !== current.compiled) {
    diffs.push(current.compiled ? 'an eager UNet (now --compile)' : '--compile (now an eager UNet)');
  }
  if (diffs.length === 0) return null;
  return `This image was made with ${diffs.join(' and ')}; regenerating it here may not give identical pixels.`;
}

/** `cuda:0` and `cuda` are the same kind of device for reproducibility. */
function deviceKind(device: string): string {
  return device.split(':')[0];
}
