import { describe, expect, it } from 'vitest';
import { dragExtension, NO_EXTENSION, outwardTravel, planOutpaint, planProblem, snapExtension } from './geometry';

describe('outpainting geometry', () => {
  it('snaps every extension to a multiple of 8 within 0..512', () => {
    expect(snapExtension(61)).toBe(64);
    expect(snapExtension(3)).toBe(0);
    expect(snapExtension(-20)).toBe(0);
    expect(snapExtension(700)).toBe(512);
    expect(snapExtension(Number.NaN)).toBe(0);
  });

  it('turns a handle drag into pixels: outwards grows, inwards shrinks, at the display scale', () => {
    expect(outwardTravel('right', 30, 5)).toBe(30);
    expect(outwardTravel('left', 30, 5)).toBe(-30);
    expect(outwardTravel('top', 0, -40)).toBe(40);
    expect(outwardTravel('bottom', 0, -40)).toBe(-40);
    // 100 screen px at 2x is 50 image px, snapped to 48.
    expect(dragExtension(0, 100, 2)).toBe(48);
    expect(dragExtension(64, -300, 1)).toBe(0);
    expect(dragExtension(64, 20, 0.5)).toBe(104);
  });

  it('plans the grown picture with the original at (left, top)', () => {
    const plan = planOutpaint(128, 128, { top: 0, right: 64, bottom: 0, left: 0 });
    expect(plan).toMatchObject({ width: 192, height: 128, x: 0, y: 0 });
    const all = planOutpaint(192, 128, { top: 16, right: 8, bottom: 64, left: 32 });
    expect(all).toMatchObject({ width: 232, height: 208, x: 32, y: 16 });
  });

  it('pads a source that is not a multiple of 8 on the side being extended, keeping it pixel-aligned', () => {
    const plan = planOutpaint(100, 75, { top: 0, right: 64, bottom: 0, left: 0 });
    expect(plan.width % 8).toBe(0);
    expect(plan.height % 8).toBe(0);
    expect(plan).toMatchObject({ width: 168, height: 80, x: 0, y: 0 });
    const leftOnly = planOutpaint(100, 75, { top: 8, right: 0, bottom: 0, left: 64 });
    expect(leftOnly).toMatchObject({ width: 168, height: 88, x: 68, y: 13 });
  });

  it('explains what cannot be sent', () => {
    expect(planProblem(planOutpaint(128, 128, NO_EXTENSION), NO_EXTENSION)).toMatch(/at least one side/);
    const big = { top: 0, right: 512, bottom: 0, left: 512 };
    expect(planProblem(planOutpaint(1536, 128, big), big)).toMatch(/2560×128.*2048/);
    const ok = { top: 0, right: 64, bottom: 0, left: 0 };
    expect(planProblem(planOutpaint(128, 128, ok), ok)).toBeNull();
  });
});
