/** The `generateImage` arguments of an outpainting: the control panel's settings on the composed picture. */
import type { ControlUnitParameters } from '../../app/protocol';
import type { GenerationRequest, GenerationSettings } from '../../common/util/parameterTranslation';
import { buildGenerationRequest } from '../../common/util/parameterTranslation';
import type { OptionsState } from '../options/optionsSlice';
import type { OutpaintingState } from './outpaintingSlice';

/**
 * Prompt, steps, sampler, seed and variations come from the control panel; the size is the grown
 * picture's; the init image is the uploaded composite whose transparent pixels are the mask (so no
 * init_mask is sent) and the bounding box is the whole picture. Upscaling, face restoration and the
 * high-resolution fix are left off: they would change the picture's size or its kept pixels, and the
 * result becomes the next outpainting's source. The Control section's units (`control`) go along: the
 * server fits each unit's map to the grown picture, as it does for an inpainting's whole picture.
 */
export function buildOutpaintingRequest(
  options: OptionsState,
  settings: GenerationSettings,
  outpainting: Pick<OutpaintingState, 'strength' | 'seamSize' | 'inpaintReplace'>,
  initImage: { url: string; width: number; height: number },
  rand: () => number = Math.random,
  control?: ControlUnitParameters[],
): GenerationRequest {
  const base = buildGenerationRequest({ ...options, hiresFix: false }, settings, 'txt2img', rand);
  return {
    generationParameters: {
      ...base.generationParameters,
      width: initImage.width,
      height: initImage.height,
      init_img: initImage.url,
      strength: outpainting.strength,
      fit: false,
      bounding_box: { x: 0, y: 0, width: initImage.width, height: initImage.height },
      inpaint_replace: outpainting.inpaintReplace,
      seam_size: outpainting.seamSize,
      ...(control ? { control } : {}),
    },
    esrganParameters: false,
    facetoolParameters: false,
  };
}
