/** Types of the Socket.IO payloads exchanged with the server, as the InvokeAI 2.1 protocol (and our additions) defines them. */

export type GalleryCategory = 'result' | 'user';

/** A sampler's id as `generation_parameters.sampler_name` carries it (e.g. 'k_euler_a'). */
export type SamplerName = string;

/** Ours, in `systemConfig.samplers`: a sampler this install can run, with its display and AUTOMATIC1111 names. */
export interface SamplerInfo {
  id: SamplerName;
  name: string;
  a1111?: string | null;
}

/** Ours, in `systemConfig.limits`: the range the server accepts for one numeric field. */
export interface FieldLimit {
  min: number;
  max: number;
  integer?: boolean;
  multiple_of?: number;
}

/** Ours: `systemConfig.limits`, one entry per validated field (and a few counts). */
export interface ServerLimits {
  [field: string]: FieldLimit | { max: number } | number[] | undefined;
  prompt_chars?: { max: number };
  with_variations?: { max: number };
  upscale_levels?: number[];
}

export type SeedWeightPair = [number, number];

/** A prompt as the 2.x metadata stores it: a list of weighted sub-prompts. */
export interface MetadataPrompt {
  prompt: string;
  weight: number;
}

export interface PostprocessingStep {
  type: string;
  scale?: number;
  strength?: number;
  fidelity?: number;
  /** Face steps: how many faces were found and restored (0: the image is unchanged). */
  faces?: number;
}

/** The `image` part of an `sd-metadata` chunk (InvokeAI 2.x shape); every field may be missing. */
export interface ImageMetadata {
  type?: string;
  prompt?: MetadataPrompt[] | string;
  sampler?: string;
  seed?: number;
  variations?: Array<{ seed: number; weight: number }>;
  steps?: number;
  cfg_scale?: number;
  threshold?: number;
  perlin?: number;
  width?: number;
  height?: number;
  seamless?: boolean;
  hires_fix?: boolean;
  hires_strength?: number | null;
  strength?: number;
  fit?: boolean;
  init_image_path?: string;
  /** Inpainting with a painted mask: the mask as the server stored it (white = regenerate). */
  mask_image_path?: string | null;
  bounding_box?: BoundingBox | null;
  inpaint_replace?: number;
  seam_size?: number;
  clip_skip?: number;
  postprocessing?: PostprocessingStep[] | null;
  precision?: string;
  device?: string;
  /** Ours: what the engine ignored for this image and why (a LoRA not found, an embedding refused). */
  warnings?: string[];
  [key: string]: unknown;
}

export interface Metadata {
  model?: string;
  model_id?: string;
  model_hash?: string;
  app_id?: string;
  app_version?: string;
  precision?: string;
  device?: string;
  image?: ImageMetadata;
  [key: string]: unknown;
}

export interface ImageInfo {
  url: string;
  mtime: number;
  metadata: Metadata;
  width: number;
  height: number;
  category: GalleryCategory;
  isBase64?: boolean;
  jobId?: string;
}

export interface ModelListEntry {
  status: 'active' | 'cached' | 'not loaded';
  description: string;
  /** Ours, beyond 2.1: how the model is stored and what it is. */
  format?: string;
  demo?: boolean;
  family?: string;
  width?: number;
  height?: number;
  /** Ours: the model loaded when the server starts. */
  default?: boolean;
}
export type ModelList = Record<string, ModelListEntry>;

export interface PostprocessorAvailability {
  available: boolean;
  reason?: string;
  scales?: number[];
}

export interface Postprocessors {
  esrgan?: PostprocessorAvailability;
  gfpgan?: PostprocessorAvailability;
  codeformer?: PostprocessorAvailability;
}

export interface SystemConfig {
  model: string;
  model_id: string;
  model_hash: string;
  app_id: string;
  app_version: string;
  model_list: ModelList;
  postprocessors?: Postprocessors;
  precision?: string;
  device?: string;
  /** Ours: what the server validates against, so the UI keeps no copies of its own. */
  limits?: ServerLimits;
  /** Ours: the samplers this install can run. */
  samplers?: SamplerInfo[];
  /** Ours: the largest upload the server accepts, in bytes (the UI checks before sending). */
  max_upload_bytes?: number;
  /** Ours: LoRA names and embedding trigger words in the model folders (the prompt box completes them). */
  loras?: string[];
  embeddings?: string[];
}

export interface ProgressUpdate {
  currentStep: number;
  totalSteps: number;
  currentIteration: number;
  totalIterations: number;
  currentStatus: string;
  isProcessing: boolean;
  currentStatusHasSteps: boolean;
  hasError: boolean;
  itPerSec?: number;
  eta?: number;
  jobId?: string;
}

export interface GalleryImagesPayload {
  images: ImageInfo[];
  areMoreImagesAvailable?: boolean;
  category: GalleryCategory;
}

export interface ModelChangePayload {
  model_name: string;
  model_list: ModelList;
}

export interface ImageDeletedPayload {
  url: string;
  uuid: string;
  category: GalleryCategory;
}

export interface ImageUploadedPayload {
  url: string;
  mtime: number;
  width: number;
  height: number;
  category: GalleryCategory;
  destination: string;
  metadata?: Metadata;
}

export type JobStatus = 'queued' | 'running' | 'paused' | 'done' | 'failed' | 'canceled';
export interface QueueJob {
  id: string;
  status: JobStatus;
  summary: string;
}
export interface QueueUpdate {
  jobs: QueueJob[];
}

export interface ErrorPayload {
  message: string;
  /** The failed job, when the error came from one (ours). */
  jobId?: string;
  /** The request field that was wrong, when the server names one (ours). */
  field?: string;
}

/** What `importModel` / `scanModelFolder` / `deleteModel` / `setDefaultModel` did (ours); `report` depends on
 * the operation. */
export type ModelOperation = 'import' | 'scan' | 'delete' | 'default';
export interface ModelScanSkip {
  path: string;
  reason: string;
}
export interface ModelOperationReport {
  added?: string[];
  known?: string[];
  deleted?: string[];
  default?: string;
  loras?: string[];
  embeddings?: string[];
  skipped?: ModelScanSkip[];
  /** Ours, scans: how many of the candidate files it checked, and whether a cancel stopped it there. */
  checked?: number;
  total?: number;
  canceled?: boolean;
}
export interface ModelListChangedPayload {
  operation: ModelOperation;
  report: ModelOperationReport;
  model_list: ModelList;
  jobId?: string;
}

/** What `generateImage` carries as its first argument. */
export interface GenerationParameters {
  prompt: string;
  iterations: number;
  steps: number;
  cfg_scale: number;
  threshold: number;
  perlin: number;
  height: number;
  width: number;
  sampler_name: SamplerName;
  seed: number;
  seamless: boolean;
  hires_fix: boolean;
  hires_strength?: number;
  progress_images: boolean;
  progress_latents: boolean;
  save_intermediates: number;
  variation_amount: number;
  with_variations?: SeedWeightPair[];
  init_img?: string;
  strength?: number;
  fit?: boolean;
  /** Inpainting: the painted mask as a PNG data URL (white = regenerate). */
  init_mask?: string;
  is_mask_empty?: boolean;
  bounding_box?: BoundingBox;
  inpaint_replace?: number;
  /** Ours: how far (px) outside the regenerated area new pixels are blended into the old (0–64, default 8). */
  seam_size?: number;
}

/** The region an inpainting or outpainting works on, in image pixels. */
export interface BoundingBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface EsrganParameters {
  level: 2 | 4;
  strength: number;
}

export type FacetoolType = 'gfpgan' | 'codeformer';
export interface FacetoolParameters {
  type: FacetoolType;
  strength: number;
  codeformer_fidelity: number;
}

export type PostprocessingType = 'esrgan' | 'gfpgan' | 'codeformer';
export interface PostprocessingParameters {
  type: PostprocessingType;
  upscale?: [number, number];
  facetool_strength?: number;
  codeformer_fidelity?: number;
  /** Ours, with type 'esrgan': restore faces after upscaling, in the same job and result. */
  facetool?: FacetoolParameters;
}

/** What the server acknowledges a queued job with. */
export interface JobAck {
  jobId: string;
}

/** The seam size the server uses when a request names none. */
export const SEAM_SIZE_DEFAULT = 8;

/** Seeds the engine accepts: numpy's 32-bit range. */
export const SEED_MIN = 0;
export const SEED_MAX = 4294967295;
