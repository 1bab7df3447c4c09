/** The protocol schema itself: our `generation_parameters.control` units are checked field by field. */
import { describe, expect, it } from 'vitest';

import { validateGenerateImageArgs, validateRequestControlMapArgs } from './protocolSchema';

const base = {
  prompt: 'a parrot', iterations: 1, steps: 4, cfg_scale: 7.5, threshold: 0, perlin: 0, height: 64, width: 64,
  sampler_name: 'k_euler', seed: 7, seamless: false, hires_fix: false, progress_images: false,
  progress_latents: false, save_intermediates: 0, variation_amount: 0,
};

describe('generation_parameters.control', () => {
  it('accepts units as the README describes them', () => {
    const control = [{ model: 'control_v11p_sd15_canny', image: 'outputs/init-images/edges.png',
      preprocessor: 'canny', settings: { low_threshold: 100 }, weight: 0.8, start: 0, end: 1,
      control_mode: 'balanced', resize_mode: 'crop' }];
    expect(validateGenerateImageArgs([{ ...base, control }, false, false])).toEqual([]);
  });

  it('refuses a unit without an image, with a weight above 2 or an unknown mode', () => {
    for (const unit of [{ model: 'm' }, { model: 'm', image: 'outputs/a.png', weight: 3 },
      { model: 'm', image: 'outputs/a.png', control_mode: 'loud' }, { model: 'm', image: 'x', settings: { a: 'b' } }]) {
      expect(validateGenerateImageArgs([{ ...base, control: [unit] }, false, false])).not.toEqual([]);
    }
  });
});

describe('requestControlMap', () => {
  it('accepts the object the README describes, with or without a request id', () => {
    const ask = { image: 'outputs/control-images/lincoln.png', preprocessor: 'canny',
      settings: { low_threshold: 50 }, resize_mode: 'fit', width: 512, height: 512 };
    expect(validateRequestControlMapArgs([ask])).toEqual([]);
    expect(validateRequestControlMapArgs([ask, 'preview-1'])).toEqual([]);
  });

  it('refuses one without an image, with an unknown resize mode or a bad request id', () => {
    expect(validateRequestControlMapArgs([{ preprocessor: 'canny' }])).not.toEqual([]);
    expect(validateRequestControlMapArgs([{ image: 'outputs/a.png', preprocessor: 'canny', resize_mode: 'tile' }]))
      .not.toEqual([]);
    expect(validateRequestControlMapArgs([{ image: 'outputs/a.png', preprocessor: 'canny' }, 'no spaces'])).not.toEqual([]);
  });
});
