import { describe, expect, it } from 'vitest';
import type { ImageInfo } from '../../app/protocol';
import { resultWarnings } from './ResultWarnings';

const image = (warnings: unknown): ImageInfo => ({
  url: 'outputs/img-samples/000001.1.png',
  mtime: 1,
  width: 64,
  height: 64,
  category: 'result',
  metadata: { image: { warnings } as Record<string, unknown> },
});

describe('the warnings shown on the current image', () => {
  it('are the sentences its metadata records', () => {
    expect(resultWarnings(image(["LoRA 'x' was not found in /r/loras; it was ignored"]))).toEqual(["LoRA 'x' was not found in /r/loras; it was ignored"]);
  });

  it('are none for an image without them, or with something else in their place', () => {
    expect(resultWarnings(null)).toEqual([]);
    expect(resultWarnings(image(undefined))).toEqual([]);
    expect(resultWarnings(image('not a list'))).toEqual([]);
    expect(resultWarnings(image([3, 'kept', null]))).toEqual(['kept']);
  });
});
