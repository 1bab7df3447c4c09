import { describe, expect, it } from 'vitest';
import { demoConfig } from '../../../test/demoConfig';
import type { SystemConfig } from '../../app/protocol';
import { planOutpaint, planProblem } from '../outpainting/geometry';
import { snapBox } from '../canvas/geometry';
import { FALLBACK_LIMITS, FALLBACK_SAMPLERS, limitsOf, samplersOf } from './limits';

const config = (extra: Partial<SystemConfig>) => demoConfig({ model_list: {}, ...extra });

describe('the limits and samplers come from systemConfig', () => {
  it("uses today's values until systemConfig (or an older server) says otherwise", () => {
    expect(limitsOf(null).width).toEqual(FALLBACK_LIMITS.width);
    expect(samplersOf(config({}))).toBe(FALLBACK_SAMPLERS);
  });

  it("takes the server's ranges and its installed samplers", () => {
    const c = config({
      limits: { width: { min: 64, max: 1024, integer: true, multiple_of: 8 }, steps: { min: 1, max: 150, integer: true }, prompt_chars: { max: 500 } },
      samplers: [{ id: 'k_euler_a', name: 'Euler a', a1111: 'Euler a' }],
    });
    const limits = limitsOf(c);
    expect([limits.width.max, limits.steps.max, limits.promptChars, limits.height.max]).toEqual([1024, 150, 500, 2048]);
    expect(samplersOf(c).map((s) => s.id)).toEqual(['k_euler_a']);
    // The canvas box and the outpainted picture obey them.
    const size = { width: limits.width, height: limits.height };
    expect(snapBox({ x: 0, y: 0, width: 1600, height: 1600 }, 2048, 2048, size)).toMatchObject({ width: 1024, height: 1600 });
    const ext = { top: 0, right: 512, bottom: 0, left: 0 };
    expect(planProblem(planOutpaint(768, 256, ext), ext, size)).toMatch(/1280×256; at most 1024×2048/);
  });
});
