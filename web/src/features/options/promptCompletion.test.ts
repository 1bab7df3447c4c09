import { describe, expect, it } from 'vitest';
import { applySuggestion, completionAt, MAX_SUGGESTIONS, type PromptNames } from './promptCompletion';

const names: PromptNames = { loras: ['tinylora', 'Tiny-Detail', 'otherTiny', 'style_x'], embeddings: ['easynegative', 'eastern-style', 'cat.v2'] };

function complete(text: string, pick = 0, caret = text.length) {
  const c = completionAt(text, caret, names);
  if (!c) throw new Error(`nothing to complete in ${text}`);
  return applySuggestion(text, caret, c, c.suggestions[pick]);
}

describe('prompt completion', () => {
  it('lists LoRA names after <lora:, prefix matches first, case-insensitively', () => {
    const c = completionAt('a cat <lora:tin', 15, names);
    expect(c?.suggestions.map((s) => s.label)).toEqual(['tinylora', 'Tiny-Detail', 'otherTiny']);
    expect(c?.start).toBe(6);
    expect(completionAt('a cat <lora:', 12, names)?.suggestions).toHaveLength(4);
  });

  it('completes a LoRA to a whole tag with a weight, the caret after it', () => {
    expect(complete('a cat <lora:tin')).toEqual({ text: 'a cat <lora:tinylora:1>', caret: 23 });
    expect(complete('<LYCO:sty')).toEqual({ text: '<lyco:style_x:1>', caret: 16 });
  });

  it('inside a closed tag it replaces the name and keeps the weight and the text after it', () => {
    const text = 'a <lora:ti:0.5> cat';
    expect(complete(text, 0, 10)).toEqual({ text: 'a <lora:tinylora:0.5> cat', caret: 21 });
  });

  it('lists embedding trigger words for a typed word of two characters or more', () => {
    expect(completionAt('photo, eas', 10, names)?.suggestions.map((s) => s.label)).toEqual(['easynegative', 'eastern-style']);
    expect(completionAt('photo, e', 8, names)).toBeNull();
    expect(complete('photo, eas, sharp', 1, 10)).toEqual({ text: 'photo, eastern-style, sharp', caret: 20 });
  });

  it('stays closed when nothing matches, the word is already complete, or the caret is in a weight', () => {
    expect(completionAt('a dog <lora:zzz', 15, names)).toBeNull();
    expect(completionAt('easynegative', 12, names)).toBeNull();
    expect(completionAt('<lora:tinylora:ea', 17, names)).toBeNull();
    expect(completionAt('a cat', 5, { loras: [], embeddings: [] })).toBeNull();
  });

  it('lists at most a screenful', () => {
    const many = { loras: Array.from({ length: 30 }, (_, i) => `l${i}`), embeddings: [] };
    expect(completionAt('<lora:l', 7, many)?.suggestions).toHaveLength(MAX_SUGGESTIONS);
  });
});
