/** Postprocessing requests and their jobs: the parameters sent, and each job's state joined from the server's events. */
import type {
  FacetoolType,
  ImageInfo,
  PostprocessingParameters,
  JobStatus,
  PostprocessingStep,
  Postprocessors,
  QueueJob,
} from '../../app/protocol';

export interface PostprocessingSettings {
  upscale: boolean;
  level: 2 | 4;
  upscaleStrength: number;
  faces: boolean;
  facetoolType: FacetoolType;
  faceStrength: number;
  codeformerFidelity: number;
}

/** One image sent for postprocessing; `jobId` arrives with the server's acknowledgement. */
export interface TrackedJob {
  requestId: string;
  sourceUrl: string;
  /** What was asked, e.g. "Upscale 2× + GFPGAN". */
  summary: string;
  jobId: string | null;
  /** The server answered without a job id: it refused the request (its error event says why). */
  refused: boolean;
}

export interface JobResult {
  url: string;
  width: number;
  height: number;
  steps: PostprocessingStep[];
}

export type JobState = 'sending' | 'queued' | 'running' | 'done' | 'failed' | 'canceled' | 'refused';

export interface JobView {
  state: JobState;
  /** A short line for the user: "Queued", "Upscaling", "Done: 256×256", ... */
  text: string;
  result: JobResult | null;
  /** Something the user should know about the result, e.g. no face was found. */
  note: string | null;
}

const isAvailable = (p: Postprocessors | undefined, kind: keyof Postprocessors) => p?.[kind]?.available ?? true;

/** Why Run cannot start, as a sentence, or null when it can. */
export function settingsProblem(s: PostprocessingSettings, postprocessors: Postprocessors | undefined): string | null {
  if (!s.upscale && !s.faces) return 'Turn on Upscale, Restore Faces or both.';
  if (s.upscale && !isAvailable(postprocessors, 'esrgan')) return 'Upscaling is unavailable on this server.';
  if (s.faces && !isAvailable(postprocessors, s.facetoolType)) {
    return `${s.facetoolType === 'gfpgan' ? 'GFPGAN' : 'CodeFormer'} is unavailable on this server.`;
  }
  return null;
}

/**
 * The `runPostprocessing` parameters: upscale only → type 'esrgan'; faces only → the face tool's
 * type; both → type 'esrgan' with our `facetool` field, so one job upscales and then restores faces.
 */
export function buildPostprocessingParameters(s: PostprocessingSettings): PostprocessingParameters {
  if (s.upscale) {
    const params: PostprocessingParameters = { type: 'esrgan', upscale: [s.level, s.upscaleStrength] };
    if (s.faces) {
      params.facetool = { type: s.facetoolType, strength: s.faceStrength, codeformer_fidelity: s.codeformerFidelity };
    }
    return params;
  }
  return { type: s.facetoolType, facetool_strength: s.faceStrength, codeformer_fidelity: s.codeformerFidelity };
}

export function describeSettings(s: PostprocessingSettings): string {
  const parts: string[] = [];
  if (s.upscale) parts.push(`Upscale ${s.level}×`);
  if (s.faces) parts.push(s.facetoolType === 'gfpgan' ? 'GFPGAN' : 'CodeFormer');
  return parts.join(' + ');
}

/** The postprocessing steps an image's metadata lists (the last ones are this job's). */
export function postprocessingSteps(image: Pick<ImageInfo, 'metadata'>): PostprocessingStep[] {
  const steps = image.metadata.image?.postprocessing;
  return Array.isArray(steps) ? steps : [];
}

/** A face step that found no face left the image unchanged: say so rather than let it look like a success. */
export function resultNote(steps: readonly PostprocessingStep[]): string | null {
  const last = steps.at(-1);
  if (last && (last.type === 'gfpgan' || last.type === 'codeformer') && last.faces === 0) {
    return 'No face was found, so face restoration left the image unchanged.';
  }
  return null;
}

export function resultFromImage(image: ImageInfo): JobResult {
  return { url: image.url, width: image.width, height: image.height, steps: postprocessingSteps(image) };
}

const STATE_TEXT: Record<JobState, string> = {
  sending: 'Sending…',
  queued: 'Queued',
  running: 'Running',
  done: 'Done',
  failed: 'Failed',
  canceled: 'Canceled',
  refused: 'Refused by the server',
};

/**
 * Where one tracked job stands: its result (which may arrive before the queue says done, or even before
 * the acknowledgement), else how it ended (the job tracker's outcome), else the queue's word on it with
 * its latest progress status. Everything is keyed by the job's request id.
 */
export function jobView(
  job: TrackedJob,
  queue: readonly QueueJob[],
  progress: Readonly<Record<string, string>>,
  results: Readonly<Record<string, JobResult>>,
  finished: Readonly<Record<string, JobStatus>> = {},
): JobView {
  if (job.refused) return { state: 'refused', text: STATE_TEXT.refused, result: null, note: null };
  const result = results[job.requestId] ?? null;
  if (result) {
    return { state: 'done', text: `Done: ${result.width}×${result.height}`, result, note: resultNote(result.steps) };
  }
  const status =
    finished[job.requestId] ?? queue.find((q) => q.requestId === job.requestId || (job.jobId && q.id === job.jobId))?.status;
  if (!status && !job.jobId) return { state: 'sending', text: STATE_TEXT.sending, result: null, note: null };
  switch (status) {
    case 'running':
      return { state: 'running', text: progress[job.requestId] ?? STATE_TEXT.running, result: null, note: null };
    case 'failed':
    case 'canceled':
    case 'done':
      // Done without a result here means the result went to another window before this one tracked it.
      return { state: status, text: STATE_TEXT[status], result: null, note: null };
    case 'paused':
    case 'queued':
    default:
      return { state: 'queued', text: STATE_TEXT.queued, result: null, note: null };
  }
}

/** How many jobs of a batch are still waiting or running. */
export function activeCount(views: readonly JobView[]): number {
  return views.filter((v) => v.state === 'sending' || v.state === 'queued' || v.state === 'running').length;
}
