/** Choosing a picture for a tab (Image to Image's init image, the picture to inpaint or to outpaint):
 * the desktop window's native dialog, else a browser file input; files are checked, then uploaded. */
import { useCallback, useRef, type ReactNode } from 'react';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { hasDesktopBridge, openImageNative } from '../../app/desktopBridge';
import type { AppThunk } from '../../app/store';
import { uploadFile } from '../gallery/uploads';
import { sendToImageToImage, sendToTab } from '../currentImage/imageActions';
import { imageAdded } from '../gallery/gallerySlice';
import { errorOccurred } from '../system/systemSlice';

export const ACCEPTED_TYPES = 'image/png,image/jpeg,image/webp';

/** The tabs a chosen picture can be for, and the upload destination that brings it there. */
export type ChooserTarget = 'img2img' | 'inpainting' | 'outpainting';
const DESTINATION = { img2img: 'img2img', inpainting: 'inpainting', outpainting: 'outpainting-source' } as const;

/** Why a file cannot be uploaded as a picture, or null when it can. */
export function notAnImage(file: File): string | null {
  return file.type.startsWith('image/') ? null : `${file.name} is not an image: choose a PNG, JPEG or WebP file.`;
}

/** Uploads a picture for a tab and, once the server has stored it, makes it that tab's picture. */
export const uploadPicture =
  (file: File, target: ChooserTarget): AppThunk<Promise<void>> =>
  async (dispatch) => {
    try {
      const image = await dispatch(uploadFile(file, file.name, DESTINATION[target]));
      dispatch(target === 'img2img' ? sendToImageToImage(image) : sendToTab(image, target));
    } catch (error: unknown) {
      dispatch(errorOccurred(error instanceof Error ? error.message : String(error)));
    }
  };

/** Uploads a dropped or chosen file as the `target` tab's picture; refuses what is not an image. */
export function useImageUpload(target: ChooserTarget) {
  const dispatch = useAppDispatch();
  return useCallback(
    (file: File) => {
      const problem = notAnImage(file);
      if (problem) {
        dispatch(errorOccurred(problem));
        return;
      }
      void dispatch(uploadPicture(file, target));
    },
    [dispatch, target],
  );
}

/** The page-wide drop: the init image, or on Outpainting the picture to extend. */
export function useInitImageUpload() {
  const outpainting = useAppSelector((s) => s.tabs.activeTab === 'outpainting');
  return useImageUpload(outpainting ? 'outpainting' : 'img2img');
}

export function useImageChooser(
  target: ChooserTarget = 'img2img',
  testId = 'init-image-input',
): { choose: () => void; input: ReactNode; upload: (file: File) => void } {
  const dispatch = useAppDispatch();
  const inputRef = useRef<HTMLInputElement>(null);
  const upload = useImageUpload(target);
  const choose = useCallback(() => {
    if (hasDesktopBridge()) {
      openImageNative().then(
        (image) => {
          if (!image) return;
          dispatch(imageAdded({ image, select: false }));
          dispatch(target === 'img2img' ? sendToImageToImage(image) : sendToTab(image, target));
        },
        () => dispatch(errorOccurred('The file dialog could not be opened.')),
      );
    } else {
      inputRef.current?.click();
    }
  }, [dispatch, target]);
  const input = (
    <input
      ref={inputRef}
      type="file"
      accept={ACCEPTED_TYPES}
      hidden
      data-testid={testId}
      onChange={(e) => {
        const file = e.target.files?.[0];
        if (file) upload(file);
        e.target.value = '';
      }}
    />
  );
  return { choose, input, upload };
}
