import { describe, expect, it } from 'vitest';
import { initialOptionsState, type OptionsState } from '../../features/options/optionsSlice';
import type { ImageInfo, Metadata } from '../../app/protocol';
import { validateGenerateImageArgs } from '../../../test/protocolSchema';
import {
  buildGenerationRequest,
  outputImageUrl,
  invokeBlocker,
  metadataToOptions,
  parseSeedWeights,
  promptToString,
  randomSeed,
  reproducibilityWarning,
  seedWeightsToString,
  type GenerationSettings,
} from './parameterTranslation';

const settings: GenerationSettings = { previewStyle: 'latents', saveIntermediatesInterval: 5 };
const options = (patch: Partial<OptionsState> = {}): OptionsState => ({
  ...initialOptionsState,
  prompt: 'strawberry sushi',
  ...patch,
});
const initImage: ImageInfo = {
  url: 'outputs/init-images/parrot.png',
  mtime: 1,
  metadata: {},
  width: 128,
  height: 128,
  category: 'user',
};

describe('UI state → generation_parameters', () => {
  it('sends exactly the protocol fields for text to image', () => {
    const req = buildGenerationRequest(options({ shouldRandomizeSeed: false, seed: 42 }), settings, 'txt2img');
    expect(req.generationParameters).toEqual({
      prompt: 'strawberry sushi',
      iterations: 1,
      steps: 50,
      cfg_scale: 7.5,
      threshold: 0,
      perlin: 0,
      height: 512,
      width: 512,
      sampler_name: 'k_lms',
      seed: 42,
      seamless: false,
      hires_fix: false,
      progress_images: false,
      progress_latents: true,
      save_intermediates: 0,
      variation_amount: 0,
    });
    expect(req.esrganParameters).toBe(false);
    expect(req.facetoolParameters).toBe(false);
    expect(validateGenerateImageArgs([req.generationParameters, req.esrganParameters, req.facetoolParameters])).toEqual([]);
  });

  it('draws a random seed in range when Randomize Seed is on', () => {
    const low = buildGenerationRequest(options({ shouldRandomizeSeed: true }), settings, 'txt2img', () => 0);
    const high = buildGenerationRequest(options({ shouldRandomizeSeed: true }), settings, 'txt2img', () => 0.9999999999);
    expect(low.generationParameters.seed).toBe(0);
    expect(high.generationParameters.seed).toBe(4294967295);
    expect(randomSeed(() => 0.5)).toBe(2147483648);
  });

  it('sends variations as a list of [seed, weight] pairs', () => {
    const req = buildGenerationRequest(
      options({ shouldGenerateVariations: true, variationAmount: 0.2, seedWeights: '123:0.1, 456:0.25' }),
      settings,
      'txt2img',
    );
    expect(req.generationParameters.variation_amount).toBe(0.2);
    expect(req.generationParameters.with_variations).toEqual([
      [123, 0.1],
      [456, 0.25],
    ]);
    expect(validateGenerateImageArgs([req.generationParameters, false, false])).toEqual([]);
  });

  it('sends no variation when the switch is off, whatever the fields hold', () => {
    const req = buildGenerationRequest(
      options({ shouldGenerateVariations: false, variationAmount: 0.3, seedWeights: '1:0.5' }),
      settings,
      'txt2img',
    );
    expect(req.generationParameters.variation_amount).toBe(0);
    expect('with_variations' in req.generationParameters).toBe(false);
  });

  it('adds init_img, strength and fit on Image to Image only', () => {
    const opts = options({ initialImage: initImage, img2imgStrength: 0.6, shouldFitToWidthHeight: false });
    const i2i = buildGenerationRequest(opts, settings, 'img2img').generationParameters;
    expect(i2i.init_img).toBe('outputs/init-images/parrot.png');
    expect(i2i.strength).toBe(0.6);
    expect(i2i.fit).toBe(false);
    const t2i = buildGenerationRequest(opts, settings, 'txt2img').generationParameters;
    expect('init_img' in t2i || 'strength' in t2i || 'fit' in t2i).toBe(false);
    expect(validateGenerateImageArgs([i2i, false, false])).toEqual([]);
  });

  it('sends hires_strength only with hires fix on', () => {
    const on = buildGenerationRequest(options({ hiresFix: true, hiresStrength: 0.6 }), settings, 'txt2img');
    expect(on.generationParameters.hires_fix).toBe(true);
    expect(on.generationParameters.hires_strength).toBe(0.6);
    const off = buildGenerationRequest(options({ hiresFix: false }), settings, 'txt2img');
    expect('hires_strength' in off.generationParameters).toBe(false);
  });

  it('maps the preview style onto progress_latents / progress_images / save_intermediates', () => {
    const full = buildGenerationRequest(options(), { previewStyle: 'full', saveIntermediatesInterval: 3 }, 'txt2img');
    expect(full.generationParameters).toMatchObject({ progress_images: true, progress_latents: false, save_intermediates: 3 });
    const none = buildGenerationRequest(options(), { previewStyle: 'none', saveIntermediatesInterval: 3 }, 'txt2img');
    expect(none.generationParameters).toMatchObject({ progress_images: false, progress_latents: false, save_intermediates: 0 });
  });

  it('sends postprocessing parameters only when enabled in Advanced Options', () => {
    const opts = options({
      shouldRunESRGAN: true,
      upscalingLevel: 2,
      upscalingStrength: 0.5,
      shouldRunFacetool: true,
      facetoolType: 'codeformer',
      facetoolStrength: 0.7,
      codeformerFidelity: 0.4,
    });
    const req = buildGenerationRequest(opts, settings, 'txt2img');
    expect(req.esrganParameters).toEqual({ level: 2, strength: 0.5 });
    expect(req.facetoolParameters).toEqual({ type: 'codeformer', strength: 0.7, codeformer_fidelity: 0.4 });
    expect(validateGenerateImageArgs([req.generationParameters, req.esrganParameters, req.facetoolParameters])).toEqual([]);
    const hidden = buildGenerationRequest({ ...opts, showAdvancedOptions: false }, settings, 'txt2img');
    expect(hidden.esrganParameters).toBe(false);
    expect(hidden.facetoolParameters).toBe(false);
  });

  it('blocks Invoke with a reason when the request cannot work', () => {
    expect(invokeBlocker(options({ prompt: '  ' }), 'txt2img')).toMatch(/prompt/);
    expect(invokeBlocker(options(), 'img2img')).toMatch(/initial image/);
    expect(invokeBlocker(options({ shouldGenerateVariations: true, seedWeights: 'abc' }), 'txt2img')).toMatch(/seed weights/);
    expect(invokeBlocker(options(), 'txt2img')).toBeNull();
    expect(invokeBlocker(options(), 'inpainting')).toMatch(/image to inpaint/);
    expect(invokeBlocker(options(), 'canvas')).toBeNull();
  });
});

describe('seed weights', () => {
  it('parses and prints seed:weight lists', () => {
    expect(parseSeedWeights('')).toEqual([]);
    expect(parseSeedWeights('1:0.5,2:.25')).toEqual([
      [1, 0.5],
      [2, 0.25],
    ]);
    expect(parseSeedWeights('1:0.5,')).toBeNull();
    expect(parseSeedWeights('1:2')).toBeNull();
    expect(parseSeedWeights('99999999999:0.1')).toBeNull();
    expect(seedWeightsToString([{ seed: 7, weight: 0.1 }, [8, 0.2]])).toBe('7:0.1,8:0.2');
  });
});

describe('metadata → UI state (Use All)', () => {
  const metadata: Metadata = {
    model: 'stable diffusion',
    model_id: 'demo',
    app_id: 'invoke-ai/InvokeAI',
    app_version: '2.2.0',
    image: {
      type: 'txt2img',
      prompt: [{ prompt: 'strawberry sushi', weight: 1 }],
      sampler: 'k_euler_a',
      seed: 3025360737,
      variations: [],
      steps: 6,
      cfg_scale: 10,
      threshold: 0,
      perlin: 0.5,
      width: 128,
      height: 64,
      seamless: true,
      hires_fix: false,
      postprocessing: null,
    },
  };

  it('restores every parameter the image records', () => {
    const { options: o, tab } = metadataToOptions(metadata);
    expect(o).toMatchObject({
      prompt: 'strawberry sushi',
      sampler: 'k_euler_a',
      seed: 3025360737,
      shouldRandomizeSeed: false,
      steps: 6,
      cfgScale: 10,
      threshold: 0,
      perlin: 0.5,
      width: 128,
      height: 64,
      seamless: true,
      hiresFix: false,
      shouldGenerateVariations: false,
      shouldRunESRGAN: false,
      shouldRunFacetool: false,
    });
    expect(tab).toBe('txt2img');
  });

  it('round-trips: Use All then Invoke sends what made the image', () => {
    const { options: o } = metadataToOptions(metadata);
    const gen = buildGenerationRequest({ ...options(), ...o }, settings, 'txt2img').generationParameters;
    expect(gen).toMatchObject({
      prompt: 'strawberry sushi',
      sampler_name: 'k_euler_a',
      seed: 3025360737,
      steps: 6,
      cfg_scale: 10,
      perlin: 0.5,
      width: 128,
      height: 64,
      seamless: true,
      variation_amount: 0,
    });
  });

  it('replays a variation from its base seed and variation list with no new variation', () => {
    const variation: Metadata = {
      image: { ...metadata.image, seed: 100, variations: [{ seed: 555, weight: 0.2 }] },
    };
    const { options: o } = metadataToOptions(variation);
    expect(o).toMatchObject({ seed: 100, shouldGenerateVariations: true, variationAmount: 0, seedWeights: '555:0.2' });
    const gen = buildGenerationRequest({ ...options(), ...o }, settings, 'txt2img').generationParameters;
    expect(gen.seed).toBe(100);
    expect(gen.variation_amount).toBe(0);
    expect(gen.with_variations).toEqual([[555, 0.2]]);
  });

  it('restores an image-to-image recipe with its init image and switches tab', () => {
    const i2i: Metadata = {
      image: { ...metadata.image, type: 'img2img', strength: 0.6, fit: true, init_image_path: 'outputs/init-images/parrot.png' },
    };
    const { options: o, tab } = metadataToOptions(i2i);
    expect(tab).toBe('img2img');
    expect(o.initialImage?.url).toBe('outputs/init-images/parrot.png');
    expect(o.img2imgStrength).toBe(0.6);
    expect(o.shouldFitToWidthHeight).toBe(true);
  });

  it('turns postprocessing steps into the Restore Face and Upscale settings', () => {
    const pp: Metadata = {
      image: {
        ...metadata.image,
        postprocessing: [
          { type: 'esrgan', scale: 2, strength: 0.5 },
          { type: 'codeformer', strength: 0.7, fidelity: 0.3 },
        ],
      },
    };
    const { options: o } = metadataToOptions(pp);
    expect(o).toMatchObject({
      shouldRunESRGAN: true,
      upscalingLevel: 2,
      upscalingStrength: 0.5,
      shouldRunFacetool: true,
      facetoolType: 'codeformer',
      facetoolStrength: 0.7,
      codeformerFidelity: 0.3,
    });
  });

  it('ignores what it does not understand and finds nothing in empty metadata', () => {
    expect(metadataToOptions({}).options).toEqual({});
    expect(metadataToOptions({ image: { sampler: 'not-a-sampler', steps: 'x' as unknown as number } }).options).toEqual({});
  });

  it('prints weighted prompts the way they are typed', () => {
    expect(promptToString([{ prompt: 'a cat', weight: 1 }])).toBe('a cat');
    expect(promptToString([{ prompt: 'cat', weight: 1.2 }, { prompt: 'dog', weight: 0.8 }])).toBe('cat:1.2 dog:0.8');
    expect(promptToString('plain')).toBe('plain');
  });

  it('maps stored init image paths to served URLs', () => {
    expect(outputImageUrl('outputs/init-images/a.png')).toBe('outputs/init-images/a.png');
    expect(outputImageUrl('/home/u/out/init-images/a.png')).toBe('outputs/init-images/a.png');
    expect(outputImageUrl('C:\\out\\init-images\\a.png')).toBe('outputs/init-images/a.png');
  });

  it('warns when precision or device differ from now', () => {
    const m: Metadata = { image: { precision: 'float16', device: 'cuda:0' } };
    expect(reproducibilityWarning(m, { precision: 'float16', device: 'cuda' })).toBeNull();
    expect(reproducibilityWarning(m, { precision: 'float32', device: 'cpu' })).toMatch(/float16.*float32.*cuda:0.*cpu/);
    expect(reproducibilityWarning({ precision: 'float32' }, { precision: 'float16' })).toMatch(/precision/);
  });
});
