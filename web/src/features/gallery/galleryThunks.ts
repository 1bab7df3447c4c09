/** What the gallery asks of the server: its first pages, the next page, and what is newer after a reconnect. */
import type { GalleryCategory } from '../../app/protocol';
import type { AppThunk } from '../../app/store';
import { pageRequested } from './gallerySlice';

const CATEGORIES: GalleryCategory[] = ['result', 'user'];

/** Asks for what the gallery lacks: the first page, or on a reconnect everything newer than held. */
export const refreshGallery = (): AppThunk => (dispatch, getState, { emitters }) => {
  for (const category of CATEGORIES) {
    const cat = getState().gallery.categories[category];
    if (cat.hasLoaded && cat.images.length > 0) {
      void emitters.requestLatestImages(category, cat.images[0].mtime);
    } else {
      dispatch(pageRequested(category));
      void emitters.requestImages(category);
    }
  }
};

/** The next page of a category, unless one is on its way or there is no more. */
export const requestMoreImages =
  (category: GalleryCategory): AppThunk =>
  (dispatch, getState, { emitters }) => {
    const cat = getState().gallery.categories[category];
    if (cat.isFetching || !cat.areMoreImagesAvailable) return;
    dispatch(pageRequested(category));
    void emitters.requestImages(category, cat.images[cat.images.length - 1]);
  };
