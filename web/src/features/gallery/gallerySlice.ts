/** State of the gallery: the images of each category (newest first, one entry per url) and the selection. */
import { createSelector, createSlice, type PayloadAction } from '@reduxjs/toolkit';
import type { GalleryCategory, GalleryImagesPayload, ImageDeletedPayload, ImageInfo } from '../../app/protocol';
import { applyClick, EMPTY_SELECTION, followCurrent, pruneSelection, type Selection, type SelectionMode } from './selection';

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
  /** The images picked for batch work (Postprocessing): Ctrl/Cmd-click, Shift-click or Select mode. */
  selection: Selection;
  /** Touch-friendly selecting: every tap toggles a thumbnail's checkbox. */
  isSelectMode: boolean;
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
  selection: EMPTY_SELECTION,
  isSelectMode: false,
};

/** Every image the gallery holds with this url, whichever category it is in. */
export function findImage(state: Pick<GalleryState, 'categories'>, url: string): ImageInfo | undefined {
  return state.categories.result.images.find((i) => i.url === url) ?? state.categories.user.images.find((i) => i.url === url);
}

/** The selected images in the order they were picked (those still in the gallery). */
export function selectedImages(state: Pick<GalleryState, 'selection' | 'categories'>): ImageInfo[] {
  return state.selection.urls
    .map((url) => findImage(state, url))
    .filter((i): i is ImageInfo => i !== undefined);
}

/** `selectedImages` for components: the same array until the selection or the images change. */
export const selectSelectedImages = createSelector(
  [(s: { gallery: GalleryState }) => s.gallery.selection, (s: { gallery: GalleryState }) => s.gallery.categories],
  (selection, categories) => selectedImages({ selection, categories }),
);

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
        state.selection = followCurrent(state.selection, state.currentImage.url);
      }
    },
    /** A new image from a generation, a postprocessing run or an upload: add it and show it. */
    /** `keepSelection`: a postprocessing result must not change the images that run is working on. */
    imageAdded: (state, action: PayloadAction<{ image: ImageInfo; select: boolean; keepSelection?: boolean }>) => {
      const { image, select, keepSelection } = action.payload;
      const cat = state.categories[image.category] ?? state.categories.result;
      cat.images = mergeImages(cat.images, [image]);
      if (select) {
        state.currentImage = image;
        if (!image.isBase64 && !keepSelection) state.selection = followCurrent(state.selection, image.url);
      }
    },
    imageDeleted: (state, action: PayloadAction<ImageDeletedPayload>) => {
      const { url } = action.payload;
      state.selection = pruneSelection(state.selection, url);
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
      state.selection = followCurrent(state.selection, action.payload?.url ?? null);
    },
    /** A thumbnail click: a plain one shows the image; Ctrl/Cmd, Shift or Select mode change the selection. */
    thumbnailClicked: (state, action: PayloadAction<{ image: ImageInfo; mode: SelectionMode }>) => {
      const { image, mode } = action.payload;
      const order = state.categories[image.category]?.images.map((i) => i.url) ?? [];
      state.selection = applyClick(state.selection, image.url, mode, order);
      if (mode === 'single') state.currentImage = image;
    },
    selectionCleared: (state) => {
      state.selection = EMPTY_SELECTION;
      state.isSelectMode = false;
    },
    selectModeToggled: (state, action: PayloadAction<boolean | undefined>) => {
      state.isSelectMode = action.payload ?? !state.isSelectMode;
    },
    /** Arrow keys: move the selection within the shown category. */
    selectionMoved: (state, action: PayloadAction<1 | -1>) => {
      const images = state.categories[state.currentCategory].images;
      if (images.length === 0) return;
      const index = images.findIndex((img) => img.url === state.currentImage?.url);
      const next = index < 0 ? 0 : Math.min(images.length - 1, Math.max(0, index + action.payload));
      state.currentImage = images[next];
      state.selection = followCurrent(state.selection, images[next].url);
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
      state.selection = EMPTY_SELECTION;
    },
  },
});

export const {
  pageRequested,
  galleryImagesReceived,
  imageAdded,
  imageDeleted,
  imageSelected,
  thumbnailClicked,
  selectionCleared,
  selectModeToggled,
  selectionMoved,
  categoryShown,
  galleryToggled,
  galleryCleared,
} = gallerySlice.actions;
export default gallerySlice.reducer;
