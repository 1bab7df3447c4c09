/** State of the gallery: the images of each category (newest first, one entry per url) and the selection. */
import { createSlice, type PayloadAction } from '@reduxjs/toolkit';
import type { GalleryCategory, GalleryImagesPayload, ImageDeletedPayload, ImageInfo } from '../../app/protocol';

export interface CategoryState {
  images: ImageInfo[];
  areMoreImagesAvailable: boolean;
  /** A page request is in flight; no second one is sent until it is answered. */
  isFetching: boolean;
  /** The first page has arrived, so an empty list really means "no images". */
  hasLoaded: boolean;
}

export interface GalleryState {
  categories: Record<GalleryCategory, CategoryState>;
  currentCategory: GalleryCategory;
  currentImage: ImageInfo | null;
  isOpen: boolean;
}

const emptyCategory = (): CategoryState => ({
  images: [],
  areMoreImagesAvailable: true,
  isFetching: false,
  hasLoaded: false,
});

export const initialGalleryState: GalleryState = {
  categories: { result: emptyCategory(), user: emptyCategory() },
  currentCategory: 'result',
  currentImage: null,
  isOpen: true,
};

/** Newest first; ties on mtime broken by file name, newest (larger) name first, as the server pages. */
export function compareImages(a: ImageInfo, b: ImageInfo): number {
  if (a.mtime !== b.mtime) return b.mtime - a.mtime;
  const an = a.url.split('/').pop() ?? a.url;
  const bn = b.url.split('/').pop() ?? b.url;
  return an < bn ? 1 : an > bn ? -1 : 0;
}

/** Adds images to a list, replacing any already there with the same url, keeping the order. */
export function mergeImages(existing: ImageInfo[], incoming: ImageInfo[]): ImageInfo[] {
  const byUrl = new Map<string, ImageInfo>();
  for (const image of existing) byUrl.set(image.url, image);
  for (const image of incoming) byUrl.set(image.url, image);
  return [...byUrl.values()].sort(compareImages);
}

const gallerySlice = createSlice({
  name: 'gallery',
  initialState: initialGalleryState,
  reducers: {
    pageRequested: (state, action: PayloadAction<GalleryCategory>) => {
      state.categories[action.payload].isFetching = true;
    },
    galleryImagesReceived: (state, action: PayloadAction<GalleryImagesPayload>) => {
      const { images, areMoreImagesAvailable, category } = action.payload;
      const cat = state.categories[category];
      cat.images = mergeImages(cat.images, images);
      cat.isFetching = false;
      cat.hasLoaded = true;
      if (typeof areMoreImagesAvailable === 'boolean') cat.areMoreImagesAvailable = areMoreImagesAvailable;
      if (!state.currentImage && category === 'result' && cat.images.length > 0) {
        state.currentImage = cat.images[0];
      }
    },
    /** A new image from a generation, a postprocessing run or an upload: add it and show it. */
    imageAdded: (state, action: PayloadAction<{ image: ImageInfo; select: boolean }>) => {
      const { image, select } = action.payload;
      const cat = state.categories[image.category] ?? state.categories.result;
      cat.images = mergeImages(cat.images, [image]);
      if (select) state.currentImage = image;
    },
    imageDeleted: (state, action: PayloadAction<ImageDeletedPayload>) => {
      const { url } = action.payload;
      for (const category of ['result', 'user'] as const) {
        const cat = state.categories[category];
        const index = cat.images.findIndex((img) => img.url === url);
        if (index < 0) continue;
        cat.images.splice(index, 1);
        if (state.currentImage?.url === url) {
          // Select the neighbour the user would expect: the next older image, else the newer one.
          state.currentImage = cat.images[index] ?? cat.images[index - 1] ?? null;
        }
      }
      if (state.currentImage?.url === url) state.currentImage = null;
    },
    imageSelected: (state, action: PayloadAction<ImageInfo | null>) => {
      state.currentImage = action.payload;
    },
    /** Arrow keys: move the selection within the shown category. */
    selectionMoved: (state, action: PayloadAction<1 | -1>) => {
      const images = state.categories[state.currentCategory].images;
      if (images.length === 0) return;
      const index = images.findIndex((img) => img.url === state.currentImage?.url);
      const next = index < 0 ? 0 : Math.min(images.length - 1, Math.max(0, index + action.payload));
      state.currentImage = images[next];
    },
    categoryShown: (state, action: PayloadAction<GalleryCategory>) => {
      state.currentCategory = action.payload;
    },
    galleryToggled: (state, action: PayloadAction<boolean | undefined>) => {
      state.isOpen = action.payload ?? !state.isOpen;
    },
    /** The output folder changed: forget everything so the next pages come from the new one. */
    galleryCleared: (state) => {
      state.categories = { result: emptyCategory(), user: emptyCategory() };
      state.currentImage = null;
    },
  },
});

export const {
  pageRequested,
  galleryImagesReceived,
  imageAdded,
  imageDeleted,
  imageSelected,
  selectionMoved,
  categoryShown,
  galleryToggled,
  galleryCleared,
} = gallerySlice.actions;
export default gallerySlice.reducer;
