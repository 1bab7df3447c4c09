/** The ranges and samplers the server accepts, as `systemConfig` reports them; today's values until it arrives. */
import { SEED_MAX, SEED_MIN, type FieldLimit, type SamplerInfo, type SystemConfig } from '../../app/protocol';

/** The numeric fields the UI bounds, with the server's ranges of InvokeAI Desktop 2.2 as the fallback. */
export const FALLBACK_LIMITS = {
  iterations: { min: 1, max: 1000, integer: true },
  steps: { min: 1, max: 1000, integer: true },
  cfg_scale: { min: 1, max: 200 },
  threshold: { min: 0, max: 1000 },
  perlin: { min: 0, max: 1 },
  width: { min: 64, max: 2048, integer: true, multiple_of: 8 },
  height: { min: 64, max: 2048, integer: true, multiple_of: 8 },
  seed: { min: SEED_MIN, max: SEED_MAX, integer: true },
  variation_amount: { min: 0, max: 1 },
  strength: { min: 0, max: 1 },
  hires_strength: { min: 0, max: 1 },
  inpaint_replace: { min: 0, max: 1 },
  seam_size: { min: 0, max: 64, integer: true },
  clip_skip: { min: 0, max: 48, integer: true },
  facetool_strength: { min: 0, max: 1 },
  codeformer_fidelity: { min: 0, max: 1 },
  upscale_strength: { min: 0, max: 1 },
} satisfies Record<string, FieldLimit>;

export type LimitedField = keyof typeof FALLBACK_LIMITS;
export type Limits = Record<LimitedField, FieldLimit> & { promptChars: number };

/** The samplers of InvokeAI 2.1 (ids as the protocol sends them), shown until the server lists its own. */
export const FALLBACK_SAMPLERS: readonly SamplerInfo[] = [
  'ddim',
  'plms',
  'k_lms',
  'k_dpm_2',
  'k_dpm_2_a',
  'k_euler',
  'k_euler_a',
  'k_heun',
  'k_dpmpp_2',
  'k_dpmpp_2m',
  'k_dpmpp_2m_karras',
  'k_dpmpp_sde',
  'unipc',
].map((id) => ({ id, name: id }));

export const FALLBACK_LIMITS_WITH_PROMPT: Limits = { ...FALLBACK_LIMITS, promptChars: 20000 };

const isFieldLimit = (v: unknown): v is FieldLimit =>
  typeof v === 'object' && v !== null && typeof (v as FieldLimit).min === 'number' && typeof (v as FieldLimit).max === 'number';

/** The server's limits laid over the fallback (a field it does not name keeps today's range). */
export function limitsOf(config: SystemConfig | null | undefined): Limits {
  const sent = config?.limits;
  if (!sent) return FALLBACK_LIMITS_WITH_PROMPT;
  const limits = { ...FALLBACK_LIMITS_WITH_PROMPT };
  for (const field of Object.keys(FALLBACK_LIMITS) as LimitedField[]) {
    const limit = sent[field];
    if (isFieldLimit(limit)) limits[field] = limit;
  }
  const prompt = sent.prompt_chars;
  if (prompt && typeof prompt.max === 'number') limits.promptChars = prompt.max;
  return limits;
}

/** The samplers to offer: the server's list, or the fallback before it (or an older server) says. */
export function samplersOf(config: SystemConfig | null | undefined): readonly SamplerInfo[] {
  const sent = config?.samplers;
  return Array.isArray(sent) && sent.length > 0 ? sent : FALLBACK_SAMPLERS;
}

/** Memoised per config object, so selectors hand components a stable value. */
const cache = new WeakMap<SystemConfig, Limits>();
export function selectLimits(state: { system: { config: SystemConfig | null } }): Limits {
  const config = state.system.config;
  if (!config) return FALLBACK_LIMITS_WITH_PROMPT;
  let limits = cache.get(config);
  if (!limits) {
    limits = limitsOf(config);
    cache.set(config, limits);
  }
  return limits;
}

export const selectSamplers = (state: { system: { config: SystemConfig | null } }): readonly SamplerInfo[] =>
  samplersOf(state.system.config);
