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
  /** How many control units one request may carry. */
  control_units?: { max: number };
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
  /** Ours: how the prompt was read ("invoke" when missing); with "a1111" the negative prompt is apart. */
  prompt_syntax?: string;
  negative_prompt?: string;
  /** Ours: the control units the image was made with. */
  control?: ControlMetadata[];
  postprocessing?: PostprocessingStep[] | null;
  precision?: string;
  device?: string;
  /** Ours: torch's thread count the image was made with. */
  threads?: number;
  /** Ours: the attention the UNet ran ("sdpa" or "sliced"; none recorded means sdpa). */
  attention?: string;
  /** Ours: true when the UNet ran through torch.compile. */
  compiled?: boolean;
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
  /** Ours: the request id the client sent the job with, echoed in each of its events. */
  requestId?: string;
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
  /** Ours, for esrgan: each missing scale's weights file and the sentence naming it, keyed by the scale. */
  missing?: Record<string, { file: string; reason: string }>;
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
  /** Ours: torch's thread count where jobs run (float32 pixels differ in their last bits between counts). */
  threads?: number;
  /** Ours: the attention jobs run with ("sdpa" or "sliced") and whether the UNet is compiled. */
  attention?: string;
  compiled?: boolean;
  /** Ours: what the server validates against, so the UI keeps no copies of its own. */
  limits?: ServerLimits;
  /** Ours: the samplers this install can run. */
  samplers?: SamplerInfo[];
  /** Ours: the largest upload the server accepts, in bytes (the UI checks before sending). */
  max_upload_bytes?: number;
  /** Ours: LoRA names and embedding trigger words in the model folders (the prompt box completes them). */
  loras?: string[];
  embeddings?: string[];
  /** Ours: false while the server still loads its first model (the model list is empty until then). */
  model_loaded?: boolean;
  /** Ours: the ControlNets of models.yaml by name, with the model family each is made for. */
  control_models?: Record<string, ControlModelInfo>;
  /** Ours: the preprocessors a control unit may name, in the table's order. */
  control_preprocessors?: ControlPreprocessorInfo[];
  /** Ours: a unit's control modes and resize modes, by id with the name users read. */
  control_modes?: ChoiceInfo[];
  resize_modes?: ChoiceInfo[];
}

/** Ours: one control model of models.yaml (`systemConfig.control_models`): a ControlNet or a T2I-Adapter. */
export interface ControlModelInfo {
  family: string;
  /** `controlnet` or `t2i_adapter`; an older server sends none (a ControlNet). */
  kind?: string;
  description?: string;
}

/** Ours: one preprocessor (`systemConfig.control_preprocessors`): its settings with their limits and
 * defaults, the weight files its network needs and those missing from ROOT/models/annotators. */
export interface ControlPreprocessorInfo {
  id: string;
  a1111?: string;
  name: string;
  settings: Record<string, FieldLimit & { default: number }>;
  weights?: string[];
  missing?: string[];
  /** The upstream repo of each weight (by its name in models/annotators). */
  sources?: Record<string, string>;
  /** The weights that are folders (a transformers model), not single files. */
  folders?: string[];
  /** Its map keeps the picture's transparent part as the part to fill (Inpaint). */
  masks?: boolean;
}

/** Ours: an id the protocol sends and the name users read. */
export interface ChoiceInfo {
  id: string;
  name: string;
}

export type ControlMode = 'balanced' | 'prompt' | 'control';
export type ResizeMode = 'crop' | 'fit' | 'stretch';
/** Which pass of hires fix a unit steers (the A1111 extension's hr_option: Both, Low res only, High res only). */
export type HiresPass = 'both' | 'first' | 'second';

/** Ours: one control unit of `generation_parameters.control`. */
export interface ControlUnitParameters {
  model: string;
  /** The control picture as served (`outputs/...`); empty: the request's init picture (img2img, inpainting, the canvas). */
  image: string;
  preprocessor: string;
  settings: Record<string, number>;
  weight: number;
  start: number;
  end: number;
  control_mode: ControlMode;
  resize_mode: ResizeMode;
  /** Absent: both passes (and without hires fix there is one pass, which every unit steers). */
  hires_pass?: HiresPass;
}

/** Ours: `requestControlMap`'s request: the map a preprocessor makes of a control picture. */
export interface ControlMapRequest {
  /** Empty: the map of `init_img`, the picture a unit without one takes. */
  image: string;
  preprocessor: string;
  settings: Record<string, number>;
  resize_mode?: ResizeMode;
  width?: number;
  height?: number;
  init_img?: string;
  /** With `init_img`: the painted mask (a data URL, as `generation_parameters.init_mask`), the part an Inpaint unit fills. */
  init_mask?: string;
  /** As `generation_parameters.fit`: the init image scaled to width × height first. */
  fit?: boolean;
}

/** Ours: `requestControlMap`'s and `saveControlMap`'s ack: a stored map, or what was wrong. */
export interface ControlMapAck {
  url?: string;
  width?: number;
  height?: number;
  preprocessor?: string;
  error?: string;
  field?: string;
}

/** Ours: one unit as a result's recipe records it (`sd-metadata` image.control[i]). */
export interface ControlMetadata {
  model?: string;
  model_hash?: string;
  preprocessor?: string;
  settings?: Record<string, number>;
  image_path?: string;
  image_hash?: string;
  map_path?: string;
  weight?: number;
  start?: number;
  end?: number;
  control_mode?: string;
  resize_mode?: string;
  /** Recorded only when the unit steers one pass of hires fix (`first` or `second`). */
  hires_pass?: string;
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
  /** Ours: the request id the client sent the job with, echoed in each of its events. */
  requestId?: string;
  /** Ours: the worker running the job. */
  worker?: string;
}

export interface GalleryImagesPayload {
  images: ImageInfo[];
  areMoreImagesAvailable?: boolean;
  category: GalleryCategory;
}

export interface ModelChangePayload {
  model_name: string;
  model_list: ModelList;
  jobId?: string;
  /** Ours: the request id the client sent the job with, echoed in each of its events. */
  requestId?: string;
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
  /** Ours: the worker running it (running jobs only). */
  worker?: string;
  /** Ours: the request id the client sent the job with, echoed in each of its events. */
  requestId?: string;
}

/** Ours (`workersUpdate`): one worker of the studio (the in-process one, or one of a `--cluster` pool). */
export interface WorkerInfo {
  id: string;
  host: string;
  device: string | null;
  /** The model it has loaded. */
  model: string | null;
  /** The job it runs now. */
  job: string | null;
  /** The speed of the last job it finished. */
  itsPerSecond: number;
  alive: boolean;
}
export interface WorkersUpdate {
  workers: WorkerInfo[];
}
export interface QueueUpdate {
  jobs: QueueJob[];
}

export interface ErrorPayload {
  message: string;
  /** The failed job, when the error came from one (ours). */
  jobId?: string;
  /** Ours: the request id the client sent the job with, echoed in each of its events. */
  requestId?: string;
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
  /** Ours: the request id the client sent the job with, echoed in each of its events. */
  requestId?: string;
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
  /** Ours: text-encoder layers skipped from the end (0: none). */
  clip_skip?: number;
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
  /** Ours: read the prompt as InvokeAI 2.x's syntax (the default) or AUTOMATIC1111's. */
  prompt_syntax?: PromptSyntax;
  /** Ours: the negative prompt, in its own field (A1111 syntax; InvokeAI's joins it to the [bracketed] words). */
  negative_prompt?: string;
  /** Ours: ControlNet units, each steering the composition with its control picture. */
  control?: ControlUnitParameters[];
}

/** How a prompt is read: InvokeAI 2.x's `a:1.2 b [negative]` or AUTOMATIC1111's `(a:1.2) [less] [from:to:when]`. */
export type PromptSyntax = 'invoke' | 'a1111';
export const PROMPT_SYNTAXES: readonly PromptSyntax[] = ['invoke', 'a1111'];

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
  /** Ours: the request id the job was sent with, when it was sent with one. */
  requestId?: string;
}

/** The seam size the server uses when a request names none. */
export const SEAM_SIZE_DEFAULT = 8;

/** Seeds the engine accepts: numpy's 32-bit range. */
export const SEED_MIN = 0;
export const SEED_MAX = 4294967295;
