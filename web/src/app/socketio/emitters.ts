/**
 * The only code that sends protocol events: one function per client → server event, each returning a
 * promise of the server's answer (its Socket.IO acknowledgement, with the reply the handler sent).
 */
import type {
  ControlMapAck,
  ControlMapRequest,
  EsrganParameters,
  FacetoolParameters,
  GalleryCategory,
  GenerationParameters,
  ImageInfo,
  ImageUploadedPayload,
  JobAck,
  PostprocessingParameters,
} from '../protocol';

/**
 * What one request came back with. The server handles one client's events in the order sent and
 * acknowledges each when its handler returns, so the reply-only events that arrive between sending
 * and the acknowledgement (`imageUploaded`, an `error` naming no job) are that request's answer.
 */
export interface Answer<T = unknown> {
  /** The acknowledgement's payload: `{jobId}` for a queued job; null when the server sent none. */
  ack: T | null;
  /** The server's sentence when it refused the request (or the connection dropped first). */
  error: string | null;
  /** An upload's stored image: the ack when the server sends the ImageInfo there, else its `imageUploaded` reply. */
  uploaded: ImageInfo | null;
}

/** The part of a Socket.IO client the emitters use. */
export interface EmittingSocket {
  emit(event: string, ...args: unknown[]): unknown;
}

export const CONNECTION_LOST = 'The connection to the server was lost before it answered.';

interface InFlight {
  resolve: (answer: Answer) => void;
  error: string | null;
  uploaded: ImageInfo | null;
  /** The caller reports the error itself (else it goes out as a plain `error` event). */
  ownsErrors: boolean;
}

const isImageInfo = (v: unknown): v is ImageInfo =>
  typeof v === 'object' && v !== null && typeof (v as ImageInfo).url === 'string' && typeof (v as ImageInfo).width === 'number';

export function uploadedImage(payload: ImageUploadedPayload): ImageInfo {
  return {
    url: payload.url,
    mtime: payload.mtime,
    width: payload.width,
    height: payload.height,
    metadata: payload.metadata ?? {},
    category: payload.category ?? 'user',
  };
}

/**
 * A request id unique to this window (and, in practice, to every window). Each event that starts a job
 * ends with one (ours); the server echoes it as `requestId` in every event of that job.
 */
export function newRequestId(prefix = 'request'): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

/**
 * The emitters of one socket. `onUnclaimedError` receives the error of a request whose caller does not
 * report errors itself, so a refused `cancel` or `requestImages` is still shown.
 */
export function makeEmitters(socket: EmittingSocket, onUnclaimedError: (message: string) => void = () => {}) {
  const inFlight: InFlight[] = [];

  function request<T = unknown>(event: string, args: unknown[], ownsErrors = false): Promise<Answer<T>> {
    return new Promise((resolve) => {
      const entry: InFlight = { resolve: resolve as (a: Answer) => void, error: null, uploaded: null, ownsErrors };
      inFlight.push(entry);
      socket.emit(event, ...args, (ack?: unknown) => {
        const i = inFlight.indexOf(entry);
        if (i < 0) return; // settled already (the connection dropped)
        inFlight.splice(i, 1);
        const uploaded = isImageInfo(ack) ? ack : entry.uploaded;
        const ackError = (ack as { error?: unknown } | null)?.error;
        const error = entry.error ?? (typeof ackError === 'string' ? ackError : null);
        if (error && !ownsErrors) onUnclaimedError(error);
        resolve({ ack: (ack ?? null) as T | null, error, uploaded });
      });
    });
  }

  return {
    /**
     * A reply-only event (`imageUploaded`, or an `error` without a jobId) belongs to the oldest request
     * still awaiting its acknowledgement. Returns true when it was claimed so (an error then is that
     * request's answer, not a toast of its own).
     */
    claimReply(event: 'imageUploaded' | 'error', payload: unknown): boolean {
      const head = inFlight[0];
      if (!head) return false;
      if (event === 'imageUploaded') {
        head.uploaded = uploadedImage(payload as ImageUploadedPayload);
        return false; // the gallery still hears of it
      }
      head.error = (payload as { message?: string } | null)?.message ?? 'The server reported an error.';
      return true;
    },
    /** The socket dropped: nothing in flight will be acknowledged now. */
    connectionLost(): void {
      for (const entry of inFlight.splice(0)) entry.resolve({ ack: null, error: CONNECTION_LOST, uploaded: null });
    },
    requestSystemConfig: () => request('requestSystemConfig', []),
    requestQueue: () => request('requestQueue', []),
    // The job-starting events end with the request id (a fresh one unless the caller tracks its own).
    requestModelChange: (modelName: string, requestId = newRequestId()) =>
      request<JobAck>('requestModelChange', [modelName, requestId]),
    /** The next page older than the oldest image held; the url breaks mtime ties without loss. */
    requestImages: (category: GalleryCategory, earliest?: ImageInfo) =>
      request('requestImages', earliest ? [category, earliest.mtime, earliest.url] : [category]),
    requestLatestImages: (category: GalleryCategory, latestMtime: number) =>
      request('requestLatestImages', [category, latestMtime]),
    generateImage: (
      generationParameters: GenerationParameters,
      esrganParameters: EsrganParameters | false,
      facetoolParameters: FacetoolParameters | false,
      requestId = newRequestId(),
    ) => request<JobAck>('generateImage', [generationParameters, esrganParameters, facetoolParameters, requestId]),
    runPostprocessing: (image: ImageInfo, parameters: PostprocessingParameters, requestId = newRequestId()) =>
      request<JobAck>('runPostprocessing', [image, parameters, requestId]),
    cancel: (jobId?: string) => request('cancel', jobId ? [jobId] : []),
    resumeQueue: () => request('resumeQueue', []),
    deleteImage: (image: ImageInfo) => request('deleteImage', [image.url, image.url, image.category]),
    /** The caller reports a refused upload (its sentence is the answer's error). */
    uploadImage: (bytes: ArrayBuffer, name: string, destination: string) =>
      request('uploadImage', [bytes, name, destination], true),
    // Ours: a control unit's map, made by its preprocessor where jobs run (the caller reports a refusal),
    // and a map copied into the user's Uploads (the gallery hears of it as of an upload).
    requestControlMap: (map: ControlMapRequest, requestId = newRequestId('map')) =>
      request<ControlMapAck>('requestControlMap', [map, requestId], true),
    saveControlMap: (url: string) => request<ControlMapAck>('saveControlMap', [{ url }], true),
    // Ours: model management. Each answers {jobId} when queued; the caller reports a refusal.
    importModel: (path: string, name: string | null, makeDefault: boolean, requestId = newRequestId()) =>
      request<JobAck>('importModel', [path, name, makeDefault, requestId], true),
    scanModelFolder: (path: string, requestId = newRequestId()) =>
      request<JobAck>('scanModelFolder', [path, requestId], true),
    deleteModel: (modelName: string, requestId = newRequestId()) =>
      request<JobAck>('deleteModel', [modelName, requestId], true),
    setDefaultModel: (modelName: string, requestId = newRequestId()) =>
      request<JobAck>('setDefaultModel', [modelName, requestId], true),
  };
}

export type Emitters = ReturnType<typeof makeEmitters>;
