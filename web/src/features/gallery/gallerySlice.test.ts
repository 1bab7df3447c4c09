import { describe, expect, it } from 'vitest';
import type { ImageInfo } from '../../app/protocol';
import reducer, {
  galleryCleared,
  galleryImagesReceived,
  imageAdded,
  imageDeleted,
  initialGalleryState,
  mergeImages,
  selectedImages,
  selectionCleared,
  selectionMoved,
  selectModeToggled,
  thumbnailClicked,
} from './gallerySlice';

const img = (name: string, mtime: number, category: 'result' | 'user' = 'result'): ImageInfo => ({
  url: `outputs/${name}`,
  mtime,
  metadata: {},
  width: 64,
  height: 64,
  category,
});

describe('gallery reducers', () => {
  it('keeps images newest first, one per url, ties broken by file name', () => {
    const merged = mergeImages([img('000001.1.png', 5), img('000002.2.png', 5)], [img('000001.1.png', 5), img('000003.3.png', 9)]);
    expect(merged.map((i) => i.url)).toEqual(['outputs/000003.3.png', 'outputs/000002.2.png', 'outputs/000001.1.png']);
  });

  it('appends pages, selects the newest first image and records whether more exist', () => {
    let s = reducer(initialGalleryState, galleryImagesReceived({ images: [img('b.png', 2), img('a.png', 1)], areMoreImagesAvailable: true, category: 'result' }));
    expect(s.currentImage?.url).toBe('outputs/b.png');
    s = reducer(s, galleryImagesReceived({ images: [img('a.png', 1), img('0.png', 0)], areMoreImagesAvailable: false, category: 'result' }));
    expect(s.categories.result.images.map((i) => i.url)).toEqual(['outputs/b.png', 'outputs/a.png', 'outputs/0.png']);
    expect(s.categories.result.areMoreImagesAvailable).toBe(false);
    // A requestLatestImages answer has no areMoreImagesAvailable: it must not reset paging.
    s = reducer(s, galleryImagesReceived({ images: [img('c.png', 3)], category: 'result' }));
    expect(s.categories.result.areMoreImagesAvailable).toBe(false);
    expect(s.categories.result.images[0].url).toBe('outputs/c.png');
  });

  it('adds live results at the front and selects them', () => {
    let s = reducer(initialGalleryState, galleryImagesReceived({ images: [img('a.png', 1)], areMoreImagesAvailable: false, category: 'result' }));
    s = reducer(s, imageAdded({ image: img('new.png', 10), select: true }));
    expect(s.categories.result.images[0].url).toBe('outputs/new.png');
    expect(s.currentImage?.url).toBe('outputs/new.png');
    s = reducer(s, imageAdded({ image: img('up.png', 11, 'user'), select: false }));
    expect(s.categories.user.images).toHaveLength(1);
    expect(s.currentImage?.url).toBe('outputs/new.png');
  });

  it('removes a deleted image and selects its neighbour', () => {
    let s = reducer(initialGalleryState, galleryImagesReceived({ images: [img('c.png', 3), img('b.png', 2), img('a.png', 1)], areMoreImagesAvailable: false, category: 'result' }));
    s = reducer(s, selectionMoved(1));
    expect(s.currentImage?.url).toBe('outputs/b.png');
    s = reducer(s, imageDeleted({ url: 'outputs/b.png', uuid: 'outputs/b.png', category: 'result' }));
    expect(s.categories.result.images.map((i) => i.url)).toEqual(['outputs/c.png', 'outputs/a.png']);
    expect(s.currentImage?.url).toBe('outputs/a.png');
    s = reducer(s, imageDeleted({ url: 'outputs/a.png', uuid: '', category: 'result' }));
    expect(s.currentImage?.url).toBe('outputs/c.png');
  });

  it('forgets everything when the output folder changes', () => {
    let s = reducer(initialGalleryState, galleryImagesReceived({ images: [img('a.png', 1)], areMoreImagesAvailable: false, category: 'result' }));
    s = reducer(s, galleryCleared());
    expect(s.categories.result).toMatchObject({ images: [], hasLoaded: false, areMoreImagesAvailable: true });
    expect(s.currentImage).toBeNull();
  });

  it('merges 10,000 images quickly enough for live updates', () => {
    const many = Array.from({ length: 10000 }, (_, i) => img(`${String(i).padStart(6, '0')}.png`, i));
    const start = performance.now();
    const merged = mergeImages(many, [img('new.png', 20000)]);
    expect(merged[0].url).toBe('outputs/new.png');
    expect(performance.now() - start).toBeLessThan(250);
  });
});

describe('gallery multi-selection in the slice', () => {
  const three = () =>
    reducer(
      initialGalleryState,
      galleryImagesReceived({ images: [img('c.png', 3), img('b.png', 2), img('a.png', 1)], areMoreImagesAvailable: false, category: 'result' }),
    );

  it('Ctrl-click and Shift-click pick several images without changing the shown one', () => {
    let s = three();
    s = reducer(s, thumbnailClicked({ image: img('c.png', 3), mode: 'single' }));
    s = reducer(s, thumbnailClicked({ image: img('a.png', 1), mode: 'range' }));
    expect(selectedImages(s).map((i) => i.url)).toEqual(['outputs/c.png', 'outputs/b.png', 'outputs/a.png']);
    expect(s.currentImage?.url).toBe('outputs/c.png');
    s = reducer(s, thumbnailClicked({ image: img('b.png', 2), mode: 'toggle' }));
    expect(s.selection.urls).toEqual(['outputs/c.png', 'outputs/a.png']);
  });

  it('a new result does not break a multi-selection, a deletion and Clear do', () => {
    let s = three();
    // The shown image counts as selected, so Ctrl-click adds to it.
    s = reducer(s, thumbnailClicked({ image: img('b.png', 2), mode: 'toggle' }));
    s = reducer(s, imageAdded({ image: img('d.png', 4), select: true }));
    expect(s.selection.urls).toEqual(['outputs/c.png', 'outputs/b.png']);
    s = reducer(s, imageDeleted({ url: 'outputs/b.png', uuid: 'outputs/b.png', category: 'result' }));
    expect(s.selection.urls).toEqual(['outputs/c.png']);
    s = reducer(s, selectModeToggled(true));
    s = reducer(s, selectionCleared());
    expect(s.selection.urls).toEqual([]);
    expect(s.isSelectMode).toBe(false);
  });

  it('a lone selection follows the arrow keys and new generations, not postprocessing results', () => {
    let s = three();
    expect(s.selection.urls).toEqual(['outputs/c.png']);
    s = reducer(s, selectionMoved(1));
    expect(s.selection.urls).toEqual(['outputs/b.png']);
    // A new generation is shown and selected; a postprocessing result is shown but leaves the selection.
    s = reducer(s, imageAdded({ image: img('d.png', 4), select: true }));
    expect(s.selection.urls).toEqual(['outputs/d.png']);
    s = reducer(s, imageAdded({ image: img('e.png', 5), select: true, keepSelection: true }));
    expect(s.currentImage?.url).toBe('outputs/e.png');
    expect(s.selection.urls).toEqual(['outputs/d.png']);
  });
});
