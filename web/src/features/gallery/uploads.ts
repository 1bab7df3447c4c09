/** Uploading a picture: its bytes go to the server, and the thunk resolves with the stored image or fails with the server's sentence. */
import type { UploadDestination } from '../../app/socketio/actions';
import type { ImageInfo } from '../../app/protocol';
import type { AppThunk } from '../../app/store';
import { oversizeMessage, uploadLimit } from '../../app/socketio/uploadLimit';

/** Destinations whose pictures are inputs of a generation (an outpainting frame, a canvas region, a control
 * picture): the server keeps them outside the gallery's folders, and the gallery never lists them. */
export const WORK_DESTINATIONS: ReadonlySet<string> = new Set<UploadDestination>(['outpainting', 'canvas-region', 'control']);

/** Uploads `file` as `name`; resolves with the ImageInfo the server stored, rejects with its reason. */
export const uploadFile =
  (file: Blob, name: string, destination: UploadDestination): AppThunk<Promise<ImageInfo>> =>
  async (_dispatch, getState, { emitters }) => {
    // A file over the server's limit never leaves: Engine.IO would drop the connection unanswered.
    const tooBig = oversizeMessage(name, file.size, uploadLimit(getState().system.config));
    if (tooBig) throw new Error(tooBig);
    let bytes: ArrayBuffer;
    try {
      bytes = await file.arrayBuffer();
    } catch {
      throw new Error(`Could not read the file ${name}.`);
    }
    const answer = await emitters.uploadImage(bytes, name, destination);
    if (answer.uploaded) return answer.uploaded;
    throw new Error(answer.error ?? `The server did not store ${name}.`);
  };
