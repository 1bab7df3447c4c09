/** The protocol's client → server payloads (and our server → client additions) as a schema, checked field
 * by field (names, types, ranges). */

type FieldType = 'string' | 'integer' | 'number' | 'boolean' | 'seedWeightList' | 'boundingBox' | 'requestId'
  | 'controlUnitList' | 'numberMap';

interface FieldSpec {
  type: FieldType;
  required: boolean;
  min?: number;
  max?: number;
  multipleOf?: number;
  oneOf?: ReadonlyArray<string | number>;
  /** null is a value it may take. */
  nullable?: boolean;
}

export type ObjectSchema = Record<string, FieldSpec>;

const SAMPLERS = [
  'ddim', 'plms', 'k_lms', 'k_dpm_2', 'k_dpm_2_a', 'k_euler', 'k_euler_a', 'k_heun',
  'k_dpmpp_2', 'k_dpmpp_2m', 'k_dpmpp_2m_karras', 'k_dpmpp_sde', 'unipc',
];

/** `generation_parameters`: txt2img fields, then image-to-image, then our optional `hires_strength`. */
export const GENERATION_PARAMETERS: ObjectSchema = {
  prompt: { type: 'string', required: true },
  iterations: { type: 'integer', required: true, min: 1 },
  steps: { type: 'integer', required: true, min: 1 },
  cfg_scale: { type: 'number', required: true, min: 1 },
  threshold: { type: 'number', required: true, min: 0 },
  perlin: { type: 'number', required: true, min: 0, max: 1 },
  // Multiples of 8 from 64 unless an init image (without fit) sets the size: see sizeErrors below.
  height: { type: 'integer', required: true, min: 8, max: 2048 },
  width: { type: 'integer', required: true, min: 8, max: 2048 },
  sampler_name: { type: 'string', required: true, oneOf: SAMPLERS },
  seed: { type: 'integer', required: true, min: 0, max: 4294967295 },
  seamless: { type: 'boolean', required: true },
  hires_fix: { type: 'boolean', required: true },
  hires_strength: { type: 'number', required: false, min: 0, max: 1 },
  progress_images: { type: 'boolean', required: true },
  progress_latents: { type: 'boolean', required: true },
  save_intermediates: { type: 'integer', required: true, min: 0 },
  variation_amount: { type: 'number', required: true, min: 0, max: 1 },
  with_variations: { type: 'seedWeightList', required: false },
  init_img: { type: 'string', required: false },
  strength: { type: 'number', required: false, min: 0, max: 1 },
  fit: { type: 'boolean', required: false },
  init_mask: { type: 'string', required: false },
  is_mask_empty: { type: 'boolean', required: false },
  bounding_box: { type: 'boundingBox', required: false },
  inpaint_replace: { type: 'number', required: false, min: 0, max: 1 },
  seam_size: { type: 'integer', required: false, min: 0, max: 64 },
  clip_skip: { type: 'integer', required: false, min: 0, max: 48 },
  prompt_syntax: { type: 'string', required: false, oneOf: ['invoke', 'a1111'] },
  negative_prompt: { type: 'string', required: false },
  control: { type: 'controlUnitList', required: false },
};

/** One of our ControlNet units in `generation_parameters.control` (see the README's Control section). */
export const CONTROL_UNIT: ObjectSchema = {
  model: { type: 'string', required: true },
  image: { type: 'string', required: true },
  preprocessor: { type: 'string', required: false },
  settings: { type: 'numberMap', required: false },
  weight: { type: 'number', required: false, min: 0, max: 2 },
  start: { type: 'number', required: false, min: 0, max: 1 },
  end: { type: 'number', required: false, min: 0, max: 1 },
  control_mode: { type: 'string', required: false, oneOf: ['balanced', 'prompt', 'control'] },
  resize_mode: { type: 'string', required: false, oneOf: ['crop', 'fit', 'stretch'] },
  hires_pass: { type: 'string', required: false, oneOf: ['both', 'first', 'second'] },
};

/** Ours: a client request id, 1–100 letters, digits or `. _ : -` (the server refuses others by name). */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,100}$/;

/** Every problem with the request id a job-starting event ends with (ours; optional, a 2.1 client sends none). */
function requestIdErrors(event: string, value: unknown): string[] {
  if (value === undefined) return [];
  return typeof value === 'string' && REQUEST_ID.test(value)
    ? []
    : [`${event}.request_id should be 1 to 100 letters, digits or . _ : -, got ${JSON.stringify(value)}`];
}

/** The ids each event of a job carries (server → client): its jobId, and (ours) the request id it was sent with. */
export const JOB_EVENT_IDS: ObjectSchema = {
  jobId: { type: 'string', required: true },
  requestId: { type: 'requestId', required: false },
};

/** Every problem with a job event's ids; `sentWith` is the request id the job was sent with, if any. */
export function validateJobEventIds(event: string, payload: unknown, sentWith?: string): string[] {
  const p = (payload ?? {}) as Record<string, unknown>;
  const errors = validate({ jobId: p.jobId, requestId: p.requestId }, JOB_EVENT_IDS, event);
  if (p.requestId !== sentWith) errors.push(`${event}.requestId is ${JSON.stringify(p.requestId)}, not ${JSON.stringify(sentWith)}`);
  return errors;
}

export const ESRGAN_PARAMETERS: ObjectSchema = {
  level: { type: 'integer', required: true, oneOf: [2, 4] },
  strength: { type: 'number', required: true, min: 0, max: 1 },
};

export const FACETOOL_PARAMETERS: ObjectSchema = {
  type: { type: 'string', required: true, oneOf: ['gfpgan', 'codeformer'] },
  strength: { type: 'number', required: true, min: 0, max: 1 },
  codeformer_fidelity: { type: 'number', required: true, min: 0, max: 1 },
};

function checkType(value: unknown, spec: FieldSpec): boolean {
  switch (spec.type) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'seedWeightList':
      return (
        Array.isArray(value) &&
        value.every(
          (pair) =>
            Array.isArray(pair) &&
            pair.length === 2 &&
            Number.isInteger(pair[0]) &&
            pair[0] >= 0 &&
            typeof pair[1] === 'number' &&
            pair[1] >= 0 &&
            pair[1] <= 1,
        )
      );
    case 'boundingBox':
      return typeof value === 'object' && value !== null && ['x', 'y', 'width', 'height'].every((k) => k in value);
    case 'requestId':
      return typeof value === 'string' && REQUEST_ID.test(value);
    case 'numberMap':
      return (
        typeof value === 'object' && value !== null && !Array.isArray(value) &&
        Object.values(value).every((v) => typeof v === 'number' && Number.isFinite(v))
      );
    case 'controlUnitList':
      return Array.isArray(value) && value.every((unit, i) => validate(unit, CONTROL_UNIT, `control[${i}]`).length === 0);
  }
}

/** Every problem with an object against a schema: unknown fields, missing ones, wrong types, out of range. */
export function validate(value: unknown, schema: ObjectSchema, where: string): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${where} is not an object`];
  const errors: string[] = [];
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!(key in schema)) errors.push(`${where}.${key} is not a protocol field`);
  }
  for (const [key, spec] of Object.entries(schema)) {
    if (!(key in record) || record[key] === undefined) {
      if (spec.required) errors.push(`${where}.${key} is missing`);
      continue;
    }
    const v = record[key];
    if (v === null && spec.nullable) continue;
    if (!checkType(v, spec)) {
      errors.push(`${where}.${key} should be ${spec.type}, got ${JSON.stringify(v)}`);
      continue;
    }
    if (typeof v === 'number') {
      if (spec.min !== undefined && v < spec.min) errors.push(`${where}.${key}=${v} is below ${spec.min}`);
      if (spec.max !== undefined && v > spec.max) errors.push(`${where}.${key}=${v} is above ${spec.max}`);
      if (spec.multipleOf !== undefined && v % spec.multipleOf !== 0) {
        errors.push(`${where}.${key}=${v} is not a multiple of ${spec.multipleOf}`);
      }
    }
    if (spec.oneOf && !spec.oneOf.includes(v as string | number)) {
      errors.push(`${where}.${key}=${JSON.stringify(v)} is not one of ${spec.oneOf.join(', ')}`);
    }
  }
  return errors;
}

/** Width and height shape the latents (multiples of 8, 64–2048) unless an init image without `fit`
 * brings its own size, which an inpaint keeps whatever it is. */
function sizeErrors(gen: unknown): string[] {
  if (typeof gen !== 'object' || gen === null) return [];
  const g = gen as Record<string, unknown>;
  if (typeof g.init_img === 'string' && g.fit !== true) return [];
  return (['width', 'height'] as const)
    .filter((k) => typeof g[k] === 'number' && ((g[k] as number) % 8 !== 0 || (g[k] as number) < 64))
    .map((k) => `generation_parameters.${k}=${String(g[k])} is not a multiple of 8 from 64`);
}

/** The three `generateImage` arguments, and our request id. */
export function validateGenerateImageArgs(args: unknown[]): string[] {
  if (args.length < 3 || args.length > 4) return [`generateImage takes 3 arguments and a request id, got ${args.length}`];
  const [gen, esrgan, facetool, requestId] = args;
  return [
    ...requestIdErrors('generateImage', requestId),
    ...validate(gen, GENERATION_PARAMETERS, 'generation_parameters'),
    ...sizeErrors(gen),
    ...(esrgan === false ? [] : validate(esrgan, ESRGAN_PARAMETERS, 'esrgan_parameters')),
    ...(facetool === false ? [] : validate(facetool, FACETOOL_PARAMETERS, 'facetool_parameters')),
  ];
}

export const POSTPROCESSING_PARAMETERS: ObjectSchema = {
  type: { type: 'string', required: true, oneOf: ['esrgan', 'gfpgan', 'codeformer'] },
  upscale: { type: 'seedWeightList', required: false },
  facetool_strength: { type: 'number', required: false, min: 0, max: 1 },
  codeformer_fidelity: { type: 'number', required: false, min: 0, max: 1 },
};

/** `runPostprocessing`: the original image (with a url) and `{type, upscale: [level, strength], ...}`;
 * with type 'esrgan' our optional `facetool` (a FACETOOL_PARAMETERS object) restores faces in the same job;
 * then our request id. */
export function validateRunPostprocessingArgs(args: unknown[]): string[] {
  if (args.length < 2 || args.length > 3) return [`runPostprocessing takes 2 arguments and a request id, got ${args.length}`];
  const [image, params, requestId] = args;
  const errors: string[] = requestIdErrors('runPostprocessing', requestId);
  if (typeof image !== 'object' || image === null || typeof (image as { url?: unknown }).url !== 'string') {
    errors.push('original_image has no url');
  }
  const p = params as Record<string, unknown>;
  const { upscale, facetool, ...rest } = p ?? {};
  errors.push(...validate(rest, { ...POSTPROCESSING_PARAMETERS, upscale: { type: 'string', required: false } }, 'postprocessing_parameters'));
  if (facetool !== undefined) {
    if (p.type !== 'esrgan') errors.push(`postprocessing_parameters.facetool goes only with type 'esrgan', not ${JSON.stringify(p.type)}`);
    errors.push(...validate(facetool, FACETOOL_PARAMETERS, 'postprocessing_parameters.facetool'));
  }
  if (upscale !== undefined) {
    const ok = Array.isArray(upscale) && upscale.length === 2 && (upscale[0] === 2 || upscale[0] === 4) && typeof upscale[1] === 'number';
    if (!ok) errors.push(`postprocessing_parameters.upscale should be [2|4, strength], got ${JSON.stringify(upscale)}`);
  }
  return errors;
}

/** Ours: `importModel(path, name?, make_default?)`, `scanModelFolder(path)`, `deleteModel(model_name)`,
 * `setDefaultModel(model_name)`, and InvokeAI 2.1's `requestModelChange(model_name)`; each may end with a request id. */
type ArgSpec = { name: string; optional: boolean; max: number; type: 'string' | 'boolean' };
const REQUEST_ID_ARG: ArgSpec = { name: 'request_id', optional: true, max: 100, type: 'string' };
export const MODEL_MANAGEMENT_ARGS: Record<string, ReadonlyArray<ArgSpec>> = {
  importModel: [
    { name: 'path', optional: false, max: 4096, type: 'string' },
    { name: 'name', optional: true, max: 300, type: 'string' },
    { name: 'make_default', optional: true, max: 0, type: 'boolean' },
    REQUEST_ID_ARG,
  ],
  scanModelFolder: [{ name: 'path', optional: false, max: 4096, type: 'string' }, REQUEST_ID_ARG],
  deleteModel: [{ name: 'model_name', optional: false, max: 300, type: 'string' }, REQUEST_ID_ARG],
  setDefaultModel: [{ name: 'model_name', optional: false, max: 300, type: 'string' }, REQUEST_ID_ARG],
};
const MODEL_CHANGE_ARGS: ReadonlyArray<ArgSpec> = [{ name: 'model_name', optional: false, max: 300, type: 'string' }, REQUEST_ID_ARG];

/** Every problem with a model-management event's arguments (the ack callback is not an argument). */
export function validateModelManagementArgs(event: string, args: unknown[]): string[] {
  const spec = event === 'requestModelChange' ? MODEL_CHANGE_ARGS : MODEL_MANAGEMENT_ARGS[event];
  if (!spec) return [`${event} is not a model-management event`];
  if (args.length > spec.length) return [`${event} takes at most ${spec.length} arguments, got ${args.length}`];
  const errors: string[] = [];
  spec.forEach((arg, i) => {
    const v = args[i];
    if (v === undefined || v === null) {
      if (!arg.optional) errors.push(`${event}.${arg.name} is missing`);
    } else if (typeof v !== arg.type) {
      errors.push(`${event}.${arg.name} should be ${arg.type}, got ${JSON.stringify(v)}`);
    } else if (typeof v === 'string' && (v.length < 1 || v.length > arg.max)) {
      errors.push(`${event}.${arg.name} should be 1 to ${arg.max} characters long`);
    } else if (arg === REQUEST_ID_ARG) {
      errors.push(...requestIdErrors(event, v));
    }
  });
  return errors;
}

/** Ours, server → client: one worker of `workersUpdate` (`{workers: [...]}`). */
export const WORKER_INFO: ObjectSchema = {
  id: { type: 'string', required: true },
  host: { type: 'string', required: true },
  device: { type: 'string', required: true, nullable: true },
  model: { type: 'string', required: true, nullable: true },
  job: { type: 'string', required: true, nullable: true },
  itsPerSecond: { type: 'number', required: true, min: 0 },
  alive: { type: 'boolean', required: true },
};

/** Every problem with a `workersUpdate` payload. */
export function validateWorkersUpdate(payload: unknown): string[] {
  const workers = (payload as { workers?: unknown } | null)?.workers;
  if (!Array.isArray(workers)) return ['workersUpdate.workers is not a list'];
  const extra = Object.keys(payload as object).filter((k) => k !== 'workers');
  return [
    ...extra.map((k) => `workersUpdate.${k} is not a protocol field`),
    ...workers.flatMap((w, i) => validate(w, WORKER_INFO, `workersUpdate.workers[${i}]`)),
  ];
}

/** Ours, client → server: `requestControlMap`'s one object (a map preview; see the README's Control section). */
export const CONTROL_MAP_REQUEST: ObjectSchema = {
  image: { type: 'string', required: true },
  preprocessor: { type: 'string', required: true },
  settings: { type: 'numberMap', required: false },
  resize_mode: { type: 'string', required: false, oneOf: ['crop', 'fit', 'stretch'] },
  width: { type: 'integer', required: false, min: 8, max: 4096 },
  height: { type: 'integer', required: false, min: 8, max: 4096 },
  /** With an empty image: the map of the init image a unit without a picture takes. */
  init_img: { type: 'string', required: false },
  init_mask: { type: 'string', required: false },
  fit: { type: 'boolean', required: false },
};

/** Every problem with `requestControlMap`'s arguments: the object, then an optional request id. */
export function validateRequestControlMapArgs(args: unknown[]): string[] {
  if (args.length < 1 || args.length > 2) return [`requestControlMap takes 1 or 2 arguments, got ${args.length}`];
  return [...validate(args[0], CONTROL_MAP_REQUEST, 'requestControlMap'), ...requestIdErrors('requestControlMap', args[1])];
}

/** Ours, client → server: `saveControlMap {url}` (a map of outputs/control-images/ into the Uploads). */
export const SAVE_CONTROL_MAP: ObjectSchema = {
  url: { type: 'string', required: true },
};
