/** Builds the outpainting init image in the browser: the original placed on a larger, fully transparent canvas. */
import { planOutpaint, type Extension, type OutpaintPlan } from './geometry';

/**
 * Fetches the source image and returns a PNG with the source at the plan's (x, y) and every new
 * pixel fully transparent (the server regenerates transparent pixels), with the plan made from the
 * image's real size. Decoding skips colour management and premultiplication so the original's
 * pixels are copied unchanged.
 */
export async function composeOutpaintImage(
  sourceUrl: string,
  extension: Extension,
): Promise<{ blob: Blob; plan: OutpaintPlan }> {
  const response = await fetch(sourceUrl);
  if (!response.ok) throw new Error(`The image ${sourceUrl} could not be loaded (HTTP ${response.status}).`);
  const bitmap = await createImageBitmap(await response.blob(), {
    colorSpaceConversion: 'none',
    premultiplyAlpha: 'none',
  });
  try {
    const plan = planOutpaint(bitmap.width, bitmap.height, extension);
    const canvas = document.createElement('canvas');
    canvas.width = plan.width;
    canvas.height = plan.height;
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('This browser cannot draw on a canvas.');
    ctx.clearRect(0, 0, plan.width, plan.height);
    ctx.drawImage(bitmap, plan.x, plan.y);
    const blob = await new Promise<Blob>((resolve, reject) =>
      canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('The canvas could not be saved as a PNG.'))), 'image/png'),
    );
    return { blob, plan };
  } finally {
    bitmap.close();
  }
}
