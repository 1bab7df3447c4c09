/** Choosing an init image: the desktop window's native dialog, else a browser file input. */
import { useCallback, useRef, type ReactNode } from 'react';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { hasDesktopBridge, openImageNative } from '../../app/desktopBridge';
import { uploadImage } from '../../app/socketio/actions';
import { imageAdded } from '../gallery/gallerySlice';
import { setInitialImage } from '../options/optionsSlice';
import { errorOccurred } from '../system/systemSlice';
import { tabSelected } from './tabsSlice';

export const ACCEPTED_TYPES = 'image/png,image/jpeg,image/webp';

/** Uploads dropped or chosen files as the init image (on Outpainting: the picture to extend); refuses what is not an image. */
export function useInitImageUpload() {
  const dispatch = useAppDispatch();
  const destination = useAppSelector((s) => (s.tabs.activeTab === 'outpainting' ? 'outpainting-source' : 'img2img'));
  return useCallback(
    (file: File) => {
      if (!file.type.startsWith('image/')) {
        dispatch(errorOccurred(`${file.name} is not an image: choose a PNG, JPEG or WebP file.`));
        return;
      }
      dispatch(uploadImage({ file, name: file.name, destination }));
    },
    [dispatch, destination],
  );
}

export function useImageChooser(): { choose: () => void; input: ReactNode } {
  const dispatch = useAppDispatch();
  const inputRef = useRef<HTMLInputElement>(null);
  const upload = useInitImageUpload();
  const choose = useCallback(() => {
    if (hasDesktopBridge()) {
      openImageNative().then(
        (image) => {
          if (!image) return;
          dispatch(imageAdded({ image, select: false }));
          dispatch(setInitialImage(image));
          dispatch(tabSelected('img2img'));
        },
        () => dispatch(errorOccurred('The file dialog could not be opened.')),
      );
    } else {
      inputRef.current?.click();
    }
  }, [dispatch]);
  const input = (
    <input
      ref={inputRef}
      type="file"
      accept={ACCEPTED_TYPES}
      hidden
      data-testid="init-image-input"
      onChange={(e) => {
        const file = e.target.files?.[0];
        if (file) upload(file);
        e.target.value = '';
      }}
    />
  );
  return { choose, input };
}
