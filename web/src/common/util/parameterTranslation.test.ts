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
      clip_skip: 0,
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
    expect(metadataToOptions({}).model).toBeNull();
    expect(metadataToOptions({ image: { sampler: 'not-a-sampler', steps: 'x' as unknown as number } }).options).toEqual({});
  });

  it('prints weighted prompts the way they are typed', () => {
    expect(promptToString([{ prompt: 'a cat', weight: 1 }])).toBe('a cat');
    expect(promptToString([{ prompt: 'cat', weight: 1.2 }, { prompt: 'dog', weight: 0.8 }])).toBe('cat:1.2 dog:0.8');
    expect(promptToString('plain')).toBe('plain');
  });

  it('maps stored image paths to served URLs, whichever input folder they are in', () => {
    expect(outputImageUrl('outputs/init-images/a.png')).toBe('outputs/init-images/a.png');
    expect(outputImageUrl('/home/u/out/init-images/a.png')).toBe('outputs/init-images/a.png');
    expect(outputImageUrl('C:\\out\\init-images\\a.png')).toBe('outputs/init-images/a.png');
    expect(outputImageUrl('outputs/canvas-images/outpaint-192x128.1a2b3c4d.png')).toBe('outputs/canvas-images/outpaint-192x128.1a2b3c4d.png');
    expect(outputImageUrl('/srv/out/canvas-images/canvas-region-x.png')).toBe('outputs/canvas-images/canvas-region-x.png');
    expect(outputImageUrl('D:\\out\\mask-images\\mask.0f.png')).toBe('outputs/mask-images/mask.0f.png');
    expect(outputImageUrl('mask-images/mask.0f.png')).toBe('outputs/mask-images/mask.0f.png');
    // A folder name inside a file name is not a folder.
    expect(outputImageUrl('/out/my-init-images.png')).toBe('/out/my-init-images.png');
  });

  it('text to image: opens Text to Image for one image, and names the model to switch to', () => {
    const recall = metadataToOptions(metadata);
    expect(recall.tab).toBe('txt2img');
    expect(recall.options.iterations).toBe(1);
    expect(recall.model).toBe('demo');
    expect(recall.inpainting).toBeNull();
    expect(recall.unsupported).toBeNull();
    const gen = buildGenerationRequest({ ...options({ iterations: 4 }), ...recall.options }, settings, 'txt2img').generationParameters;
    expect(gen.iterations).toBe(1);
  });

  it('image to image: an init image in the canvas folder is recalled as served, with strength and fit', () => {
    const i2i: Metadata = {
      image: {
        ...metadata.image,
        type: 'img2img',
        strength: 0.5,
        fit: false,
        width: 128,
        height: 128,
        init_image_path: 'outputs/canvas-images/canvas-region-ab.12345678.png',
      },
    };
    const recall = metadataToOptions(i2i);
    expect(recall.tab).toBe('img2img');
    expect(recall.inpainting).toBeNull();
    const gen = buildGenerationRequest({ ...options(), ...recall.options }, settings, 'img2img').generationParameters;
    expect(gen).toMatchObject({
      init_img: 'outputs/canvas-images/canvas-region-ab.12345678.png',
      strength: 0.5,
      fit: false,
      width: 128,
      height: 128,
      seed: 3025360737,
    });
    expect(validateGenerateImageArgs([gen, false, false])).toEqual([]);
  });

  it('inpainting with a painted mask: opens Inpainting with the picture, the mask, the region, seam size and replace', () => {
    const inpaint: Metadata = {
      image: {
        ...metadata.image,
        type: 'inpaint',
        strength: 0.8,
        fit: false,
        width: 128,
        height: 128,
        init_image_path: 'outputs/init-images/parrot.0a1b2c3d.png',
        mask_image_path: 'outputs/mask-images/mask.9f8e7d6c.png',
        bounding_box: { x: 0, y: 0, width: 128, height: 128 },
        inpaint_replace: 0.5,
        seam_size: 12,
      },
    };
    const recall = metadataToOptions(inpaint);
    expect(recall.tab).toBe('inpainting');
    expect(recall.inpainting).toEqual({
      initUrl: 'outputs/init-images/parrot.0a1b2c3d.png',
      maskUrl: 'outputs/mask-images/mask.9f8e7d6c.png',
      boundingBox: { x: 0, y: 0, width: 128, height: 128 },
      seamSize: 12,
      inpaintReplace: 0.5,
    });
    expect(recall.options).toMatchObject({ img2imgStrength: 0.8, seed: 3025360737, iterations: 1 });
    expect(recall.options.initialImage?.url).toBe('outputs/init-images/parrot.0a1b2c3d.png');
  });

  it('outpainting: a frame whose transparent pixels were the mask opens Inpainting with no mask file to fetch', () => {
    const outpaint: Metadata = {
      image: {
        ...metadata.image,
        type: 'inpaint',
        strength: 1,
        fit: false,
        width: 192,
        height: 128,
        init_image_path: 'outputs/canvas-images/outpaint-192x128.5e6f7a8b.png',
        mask_image_path: null,
        bounding_box: { x: 0, y: 0, width: 192, height: 128 },
        inpaint_replace: 0.25,
        seam_size: 16,
      },
    };
    const recall = metadataToOptions(outpaint);
    expect(recall.tab).toBe('inpainting');
    expect(recall.inpainting).toEqual({
      initUrl: 'outputs/canvas-images/outpaint-192x128.5e6f7a8b.png',
      maskUrl: null,
      boundingBox: { x: 0, y: 0, width: 192, height: 128 },
      seamSize: 16,
      inpaintReplace: 0.25,
    });
    expect(recall.options.img2imgStrength).toBe(1);
  });

  it('a unified canvas region with its mask opens Inpainting like a painted mask', () => {
    const region: Metadata = {
      image: {
        ...metadata.image,
        type: 'inpaint',
        strength: 0.75,
        fit: false,
        init_image_path: 'outputs/canvas-images/canvas-region-k2.aa11bb22.png',
        mask_image_path: 'outputs/mask-images/mask.cc33dd44.png',
        bounding_box: { x: 0, y: 0, width: 128, height: 128 },
        inpaint_replace: 0,
        seam_size: 8,
      },
    };
    const recall = metadataToOptions(region);
    expect(recall.tab).toBe('inpainting');
    expect(recall.inpainting?.initUrl).toBe('outputs/canvas-images/canvas-region-k2.aa11bb22.png');
    expect(recall.inpainting?.maskUrl).toBe('outputs/mask-images/mask.cc33dd44.png');
  });

  it('a transparent picture fitted to the output size stays in Image to Image, the one tab that fits', () => {
    const fitted: Metadata = {
      image: { ...metadata.image, type: 'inpaint', strength: 0.75, fit: true, init_image_path: 'outputs/init-images/parrot-transparent.png', seam_size: 8, inpaint_replace: 0 },
    };
    const recall = metadataToOptions(fitted);
    expect(recall.tab).toBe('img2img');
    expect(recall.inpainting).toBeNull();
    expect(recall.options.shouldFitToWidthHeight).toBe(true);
    expect(recall.unsupported).toBeNull();
    expect(metadataToOptions({ image: { ...fitted.image, seam_size: 20 } }).unsupported).toMatch(/seam size 20/);
  });

  it('variations: a variation of a variation replays its whole chain from the base seed', () => {
    const chained: Metadata = {
      image: { ...metadata.image, seed: 4321, variations: [{ seed: 77, weight: 0.1 }, { seed: 9001, weight: 0.3 }] },
    };
    const recall = metadataToOptions(chained);
    const gen = buildGenerationRequest(
      { ...options({ variationAmount: 0.5, iterations: 3 }), ...recall.options },
      settings,
      'txt2img',
    ).generationParameters;
    expect(gen).toMatchObject({ seed: 4321, variation_amount: 0, iterations: 1 });
    expect(gen.with_variations).toEqual([
      [77, 0.1],
      [9001, 0.3],
    ]);
  });

  it('hires fix: the fix and its strength come back and are sent', () => {
    const hires: Metadata = { image: { ...metadata.image, width: 576, height: 520, hires_fix: true, hires_strength: 0.6 } };
    const recall = metadataToOptions(hires);
    const gen = buildGenerationRequest({ ...options({ hiresStrength: 0.75 }), ...recall.options }, settings, 'txt2img').generationParameters;
    expect(gen).toMatchObject({ hires_fix: true, hires_strength: 0.6, width: 576, height: 520 });
    expect(metadataToOptions({ image: { ...metadata.image, hires_fix: false, hires_strength: null } }).options.hiresFix).toBe(false);
  });

  it('clip skip: Use All restores it and Invoke sends it; a recipe without one means none', () => {
    const recall = metadataToOptions({ image: { ...metadata.image, clip_skip: 2 } });
    expect(recall.options.clipSkip).toBe(2);
    expect(recall.unsupported).toBeNull();
    const gen = buildGenerationRequest({ ...options({ clipSkip: 5 }), ...recall.options }, settings, 'txt2img').generationParameters;
    expect(gen.clip_skip).toBe(2);
    expect(validateGenerateImageArgs([gen, false, false])).toEqual([]);
    const { clip_skip: _, ...older } = metadata.image ?? {};
    void _;
    expect(metadataToOptions({ image: older }).options.clipSkip).toBe(0);
  });

  it('warns when precision or device differ from now', () => {
    const m: Metadata = { image: { precision: 'float16', device: 'cuda:0' } };
    expect(reproducibilityWarning(m, { precision: 'float16', device: 'cuda' })).toBeNull();
    expect(reproducibilityWarning(m, { precision: 'float32', device: 'cpu' })).toMatch(/float16.*float32.*cuda:0.*cpu/);
    expect(reproducibilityWarning({ precision: 'float32' }, { precision: 'float16' })).toMatch(/precision/);
  });

  it('warns about the thread count only where it changes pixels: float32 made with another count', () => {
    const f32: Metadata = { image: { precision: 'float32', device: 'cpu', threads: 4 } };
    expect(reproducibilityWarning(f32, { precision: 'float32', device: 'cpu', threads: 4 })).toBeNull();
    expect(reproducibilityWarning(f32, { precision: 'float32', device: 'cpu', threads: 2 })).toMatch(/4 torch threads \(now 2; set OMP_NUM_THREADS=4/);
    const bf16: Metadata = { image: { precision: 'bfloat16-weights', device: 'cpu', threads: 4 } };
    expect(reproducibilityWarning(bf16, { precision: 'bfloat16-weights', device: 'cpu', threads: 2 })).toBeNull();
    expect(reproducibilityWarning({ image: { precision: 'float32' } }, { precision: 'float32', threads: 2 })).toBeNull();
  });

  it('warns when the image was made with another attention, an old one of ours (none recorded) being sdpa', () => {
    const here = { precision: 'bfloat16-weights', device: 'cpu', attention: 'sdpa', compiled: false };
    const sliced: Metadata = { image: { precision: 'bfloat16-weights', device: 'cpu', attention: 'sliced' } };
    expect(reproducibilityWarning(sliced, here)).toMatch(/sliced attention \(now sdpa; start the server with --attention sliced/);
    expect(reproducibilityWarning(sliced, { ...here, attention: 'sliced' })).toBeNull();
    const old: Metadata = { image: { precision: 'bfloat16-weights', device: 'cpu' } };
    expect(reproducibilityWarning(old, here)).toBeNull();
    expect(reproducibilityWarning(old, { ...here, attention: 'sliced' })).toMatch(/sdpa attention \(now sliced/);
    expect(reproducibilityWarning({ image: {} }, { ...here, attention: 'sliced' })).toBeNull(); // not one of ours
  });

  it('warns when the image was compiled and the server is not, or the other way round', () => {
    const here = { precision: 'bfloat16-weights', device: 'cpu', attention: 'sdpa', compiled: false };
    const compiled: Metadata = { image: { precision: 'bfloat16-weights', device: 'cpu', attention: 'sdpa', compiled: true } };
    expect(reproducibilityWarning(compiled, here)).toMatch(/--compile \(now an eager UNet\)/);
    expect(reproducibilityWarning(compiled, { ...here, compiled: true })).toBeNull();
    const eager: Metadata = { image: { precision: 'bfloat16-weights', device: 'cpu', attention: 'sdpa' } };
    expect(reproducibilityWarning(eager, { ...here, compiled: true })).toMatch(/an eager UNet \(now --compile\)/);
    expect(reproducibilityWarning(eager, { precision: 'bfloat16-weights' })).toBeNull(); // a server that does not say
  });
});

describe('prompt syntax (Settings) and the A1111 negative prompt', () => {
  it('sends nothing new with InvokeAI syntax, and prompt_syntax plus negative_prompt with A1111 syntax', () => {
    const invoke = buildGenerationRequest(options({ negativePrompt: 'left over' }), settings, 'txt2img').generationParameters;
    expect(invoke.prompt_syntax).toBeUndefined();
    expect(invoke.negative_prompt).toBeUndefined();
    const a1111 = buildGenerationRequest(
      options({ prompt: '[cat:dog:0.5], (fur:1.2)', promptSyntax: 'a1111', negativePrompt: '(blurry:1.3)' }),
      settings,
      'txt2img',
    );
    expect(a1111.generationParameters).toMatchObject({
      prompt: '[cat:dog:0.5], (fur:1.2)',
      prompt_syntax: 'a1111',
      negative_prompt: '(blurry:1.3)',
    });
    expect(validateGenerateImageArgs([a1111.generationParameters, false, false])).toEqual([]);
    const blank = buildGenerationRequest(options({ promptSyntax: 'a1111', negativePrompt: '  ' }), settings, 'txt2img');
    expect(blank.generationParameters.negative_prompt).toBeUndefined();
  });

  it('Use All restores the syntax and negative prompt an image was made with', () => {
    const a1111: Metadata = {
      image: { prompt: [{ prompt: '[cat|dog]', weight: 1 }], prompt_syntax: 'a1111', negative_prompt: 'fog', seed: 3 },
    };
    const recall = metadataToOptions(a1111);
    expect(recall.options).toMatchObject({ prompt: '[cat|dog]', promptSyntax: 'a1111', negativePrompt: 'fog' });
    expect(recall.unsupported).toBeNull();
    const old = metadataToOptions({ image: { prompt: [{ prompt: 'cat [fog]', weight: 1 }], seed: 3 } });
    expect(old.options).toMatchObject({ prompt: 'cat [fog]', promptSyntax: 'invoke', negativePrompt: '' });
    const gen = buildGenerationRequest({ ...options({ promptSyntax: 'invoke' }), ...recall.options }, settings, 'txt2img');
    expect(gen.generationParameters).toMatchObject({ prompt_syntax: 'a1111', negative_prompt: 'fog' });
  });
});
