import { describe, expect, it } from 'vitest';
import { applyClick, clickMode, EMPTY_SELECTION, followCurrent, pruneSelection } from './selection';

const order = ['a', 'b', 'c', 'd', 'e'];

describe('gallery multi-selection', () => {
  it('reads the mode from the modifier keys and the Select mode', () => {
    expect(clickMode({ ctrlKey: false, metaKey: false, shiftKey: false })).toBe('single');
    expect(clickMode({ ctrlKey: true, metaKey: false, shiftKey: false })).toBe('toggle');
    expect(clickMode({ ctrlKey: false, metaKey: true, shiftKey: false })).toBe('toggle');
    expect(clickMode({ ctrlKey: false, metaKey: false, shiftKey: true })).toBe('range');
    expect(clickMode({ ctrlKey: false, metaKey: false, shiftKey: false }, true)).toBe('toggle');
  });

  it('a plain click selects just that image and sets the anchor', () => {
    const s = applyClick({ urls: ['a', 'b'], anchor: 'a' }, 'c', 'single', order);
    expect(s).toEqual({ urls: ['c'], anchor: 'c' });
  });

  it('Ctrl-click adds and removes images one by one', () => {
    let s = applyClick(EMPTY_SELECTION, 'b', 'single', order);
    s = applyClick(s, 'd', 'toggle', order);
    expect(s.urls).toEqual(['b', 'd']);
    s = applyClick(s, 'b', 'toggle', order);
    expect(s.urls).toEqual(['d']);
    expect(s.anchor).toBe('b');
  });

  it('Shift-click after Ctrl-clicks extends the selection with the range from the last one', () => {
    let s = applyClick(EMPTY_SELECTION, 'a', 'single', order);
    s = applyClick(s, 'c', 'toggle', order);
    s = applyClick(s, 'e', 'range', order);
    expect(s.urls).toEqual(['a', 'c', 'd', 'e']);
    // Shift-clicking again moves the range's end; what was Ctrl-clicked stays.
    s = applyClick(s, 'd', 'range', order);
    expect(s.urls).toEqual(['a', 'c', 'd']);
  });

  it('Shift-click selects the range from the anchor, in either direction, replacing the rest', () => {
    let s = applyClick(EMPTY_SELECTION, 'b', 'single', order);
    s = applyClick(s, 'd', 'range', order);
    expect(s).toEqual({ urls: ['b', 'c', 'd'], anchor: 'b' });
    // A second Shift-click re-spans from the same anchor.
    s = applyClick(s, 'a', 'range', order);
    expect(s).toEqual({ urls: ['a', 'b'], anchor: 'b' });
  });

  it('Shift-click with no anchor on show starts at the clicked image', () => {
    expect(applyClick(EMPTY_SELECTION, 'c', 'range', order)).toEqual({ urls: ['c'], anchor: 'c' });
    expect(applyClick({ urls: ['x'], anchor: 'x' }, 'c', 'range', order)).toEqual({ urls: ['c'], anchor: 'c' });
  });

  it('forgets deleted images and keeps a lone selection on the current image', () => {
    expect(pruneSelection({ urls: ['a', 'b'], anchor: 'b' }, 'b')).toEqual({ urls: ['a'], anchor: null });
    const multi = { urls: ['a', 'b'], anchor: 'a' };
    expect(followCurrent(multi, 'c')).toBe(multi);
    expect(followCurrent({ urls: ['a'], anchor: 'a' }, 'c')).toEqual({ urls: ['c'], anchor: 'c' });
    expect(followCurrent({ urls: ['a'], anchor: 'a' }, null)).toEqual(EMPTY_SELECTION);
  });
});
