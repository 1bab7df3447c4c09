/** The only code that sends protocol events: one function per client → server event of the protocol. */
import type {
  EsrganParameters,
  FacetoolParameters,
  GalleryCategory,
  GenerationParameters,
  ImageInfo,
  JobAck,
  PostprocessingParameters,
} from '../protocol';

/** Called with the server's acknowledgement of a queued job (nothing when it refused the request). */
export type AckHandler = (ack?: Partial<JobAck> | null) => void;

/** The part of a Socket.IO client the emitters use. */
export interface EmittingSocket {
  emit(event: string, ...args: unknown[]): unknown;
}

export function makeEmitters(socket: EmittingSocket) {
  return {
    requestSystemConfig: () => socket.emit('requestSystemConfig'),
    requestQueue: () => socket.emit('requestQueue'),
    requestModelChange: (modelName: string) => socket.emit('requestModelChange', modelName),
    /** The next page older than the oldest image held; the url breaks mtime ties without loss. */
    requestImages: (category: GalleryCategory, earliest?: ImageInfo) =>
      earliest
        ? socket.emit('requestImages', category, earliest.mtime, earliest.url)
        : socket.emit('requestImages', category),
    requestLatestImages: (category: GalleryCategory, latestMtime: number) =>
      socket.emit('requestLatestImages', category, latestMtime),
    generateImage: (
      generationParameters: GenerationParameters,
      esrganParameters: EsrganParameters | false,
      facetoolParameters: FacetoolParameters | false,
      onAck?: AckHandler,
    ) =>
      onAck
        ? socket.emit('generateImage', generationParameters, esrganParameters, facetoolParameters, onAck)
        : socket.emit('generateImage', generationParameters, esrganParameters, facetoolParameters),
    runPostprocessing: (image: ImageInfo, parameters: PostprocessingParameters, onAck?: AckHandler) =>
      onAck
        ? socket.emit('runPostprocessing', image, parameters, onAck)
        : socket.emit('runPostprocessing', image, parameters),
    cancel: (jobId?: string) => (jobId ? socket.emit('cancel', jobId) : socket.emit('cancel')),
    resumeQueue: () => socket.emit('resumeQueue'),
    deleteImage: (image: ImageInfo) => socket.emit('deleteImage', image.url, image.url, image.category),
    uploadImage: (bytes: ArrayBuffer, name: string, destination: string) =>
      socket.emit('uploadImage', bytes, name, destination),
    // Ours: model management. Each answers {jobId} when queued, nothing when refused.
    importModel: (path: string, name: string | null, makeDefault: boolean, ack: AckHandler) =>
      socket.emit('importModel', path, name, makeDefault, ack),
    scanModelFolder: (path: string, ack: AckHandler) => socket.emit('scanModelFolder', path, ack),
    deleteModel: (modelName: string, ack: AckHandler) => socket.emit('deleteModel', modelName, ack),
    setDefaultModel: (modelName: string, ack: AckHandler) => socket.emit('setDefaultModel', modelName, ack),
  };
}

export type Emitters = ReturnType<typeof makeEmitters>;
