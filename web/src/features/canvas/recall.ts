/** Use All into the Inpainting tab: the recorded picture and its mask, read from the server pixel for pixel. */
import type { ImageInfo } from '../../app/protocol';
import type { InpaintingRecall } from '../../common/util/parameterTranslation';
import type { InpaintingRecalled } from './canvasSlice';
import { maskFromPixels, maskFromTransparency, rasterOp } from './mask';
import { pngHasAlphaChannel } from './png';

interface Decoded {
  width: number;
  height: number;
  rgba: Uint8ClampedArray;
}

async function fetchBytes(url: string, what: string): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch {
    throw new Error(`Use All could not load ${what} ${url}: the server did not answer.`);
  }
  if (!response.ok) {
    const reason = response.status === 404 ? 'it is no longer on the server (deleted?)' : `HTTP ${response.status}`;
    throw new Error(`Use All could not load ${what} ${url}: ${reason}.`);
  }
  return new Uint8Array(await response.arrayBuffer());
}

/** The file's pixels exactly as stored: no colour conversion, no premultiplication. */
async function decode(bytes: Uint8Array, what: string, url: string): Promise<Decoded> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(new Blob([bytes as BlobPart]), { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch {
    throw new Error(`Use All could not read ${what} ${url}: it is not an image this browser can decode.`);
  }
  try {
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('This browser cannot draw on an offscreen canvas.');
    ctx.drawImage(bitmap, 0, 0);
    return { width: bitmap.width, height: bitmap.height, rgba: ctx.getImageData(0, 0, bitmap.width, bitmap.height).data };
  } finally {
    bitmap.close();
  }
}

/**
 * Loads what the Inpainting tab needs to regenerate an inpainted image: the picture (for its size)
 * and the mask, either the painted one the server stored (read as the server reads it) or, when
 * none was sent, the picture's transparent pixels, which is what the server regenerated then.
 */
export async function loadInpaintingRecall(recall: InpaintingRecall): Promise<{ image: ImageInfo; recalled: InpaintingRecalled }> {
  const picture = await decode(await fetchBytes(recall.initUrl, 'the picture'), 'the picture', recall.initUrl);
  const size = { width: picture.width, height: picture.height };
  let mask;
  if (recall.maskUrl) {
    const bytes = await fetchBytes(recall.maskUrl, 'the mask');
    const painted = await decode(bytes, 'the mask', recall.maskUrl);
    mask = maskFromPixels(painted.rgba, painted.width, painted.height, pngHasAlphaChannel(bytes), size);
  } else {
    mask = maskFromTransparency(picture.rgba, picture.width, picture.height);
  }
  const image: ImageInfo = { url: recall.initUrl, mtime: 0, metadata: {}, width: size.width, height: size.height, category: 'user' };
  return {
    image,
    recalled: {
      url: recall.initUrl,
      size,
      mask: rasterOp(mask),
      box: recall.boundingBox,
      seamSize: recall.seamSize,
      inpaintReplace: recall.inpaintReplace,
    },
  };
}
