/** The page: header, tabs, control panel, current image and gallery, with shortcuts and drag-and-drop. */
import { useCallback, useEffect, useState, type DragEvent } from 'react';
import { useAppDispatch, useAppSelector } from './hooks';
import { deleteImage } from './socketio/actions';
import { handleFileDrop, toUploadedImage } from './desktopBridge';
import type { ImageInfo } from './protocol';
import { SiteHeader } from '../features/system/SiteHeader';
import { Toasts } from '../features/system/Toasts';
import { TabBar } from '../features/tabs/TabBar';
import { OptionsPanel } from '../features/options/OptionsPanel';
import { CurrentImagePanel, type PopoverSignals } from '../features/currentImage/CurrentImagePanel';
import { Gallery } from '../features/gallery/Gallery';
import { InpaintingPanel } from '../features/canvas/InpaintingPanel';
import { UnifiedCanvasPanel } from '../features/canvas/UnifiedCanvasPanel';
import { galleryToggled, imageAdded } from '../features/gallery/gallerySlice';
import { deleteConfirmationShown } from '../features/currentImage/currentImageSlice';
import { SEND_TARGETS, sendToTab } from '../features/currentImage/imageActions';
import { findHotkey } from '../features/tabs/hotkeys';
import { runHotkey } from '../features/tabs/hotkeyActions';
import { settingChanged } from '../features/system/systemSlice';
import { tabSelected } from '../features/tabs/tabsSlice';
import { setInitialImage } from '../features/options/optionsSlice';
import { useInitImageUpload } from '../features/tabs/useImageChooser';
import { OutpaintingWorkspace } from '../features/outpainting/OutpaintingWorkspace';
import { PostprocessingPanel } from '../features/postprocessing/PostprocessingPanel';
import { PostprocessingWorkspace } from '../features/postprocessing/PostprocessingWorkspace';
import { Modal } from '../common/components/Modal';
import { GalleryIcon, UploadIcon } from '../common/components/Icons';
import { Tooltip } from '../common/components/Tooltip';

const NARROW_QUERY = '(max-width: 900px)';

function useIsNarrow(): boolean {
  const [narrow, setNarrow] = useState(() => window.matchMedia(NARROW_QUERY).matches);
  useEffect(() => {
    const mq = window.matchMedia(NARROW_QUERY);
    const onChange = () => setNarrow(mq.matches);
    mq.addEventListener('change', onChange);
    return () => mq.removeEventListener('change', onChange);
  }, []);
  return narrow;
}

function DeleteConfirmation() {
  const dispatch = useAppDispatch();
  const image = useAppSelector((s) => s.currentImage.imageToDelete);
  const close = useCallback(() => dispatch(deleteConfirmationShown(null)), [dispatch]);
  const [dontAsk, setDontAsk] = useState(false);
  if (!image) return null;
  return (
    <Modal
      title="Delete image"
      onClose={close}
      testId="delete-confirmation"
      footer={
        <>
          <button type="button" className="button" onClick={close}>
            Cancel
          </button>
          <button
            type="button"
            className="button button--danger"
            data-testid="confirm-delete"
            autoFocus
            onClick={() => {
              if (dontAsk) dispatch(settingChanged({ shouldConfirmOnDelete: false }));
              dispatch(deleteImage(image));
              close();
            }}
          >
            Delete
          </button>
        </>
      }
    >
      <p>Delete this image? It is moved to the system trash.</p>
      <label className="checkbox">
        <input type="checkbox" checked={dontAsk} onChange={(e) => setDontAsk(e.target.checked)} />
        <span>Don't ask me again</span>
      </label>
    </Modal>
  );
}

export function App() {
  const dispatch = useAppDispatch();
  const theme = useAppSelector((s) => s.system.theme);
  const isGalleryOpen = useAppSelector((s) => s.gallery.isOpen);
  const current = useAppSelector((s) => s.gallery.currentImage);
  const activeTab = useAppSelector((s) => s.tabs.activeTab);
  const isNarrow = useIsNarrow();
  const [isDrawerOpen, setDrawerOpen] = useState(false);
  const [isHotkeysOpen, setHotkeysOpen] = useState(false);
  const [isDragging, setDragging] = useState(false);
  const [signals, setSignals] = useState<PopoverSignals>({ face: 0, upscale: 0 });
  const upload = useInitImageUpload();

  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);

  // The desktop layer announces a native drop it has already uploaded. (A new output folder needs
  // nothing here: the server's outputFolderChanged socket event reloads the gallery.)
  useEffect(() => {
    const onDropped = (e: Event) => {
      const detail = (e as CustomEvent<Partial<ImageInfo>>).detail;
      const image = detail ? toUploadedImage(detail) : null;
      if (!image) return;
      dispatch(imageAdded({ image, select: false }));
      // On a canvas tab the drop goes to that tab's picture; elsewhere it is Image to Image's.
      const target = SEND_TARGETS.find((t) => t.tab === activeTab);
      if (target) {
        dispatch(sendToTab(image, target.tab));
        return;
      }
      dispatch(setInitialImage(image));
      dispatch(tabSelected('img2img'));
    };
    window.addEventListener('initialImageDropped', onDropped);
    return () => window.removeEventListener('initialImageDropped', onDropped);
  }, [dispatch, activeTab]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const hotkey = findHotkey(e);
      if (!hotkey || document.querySelector('[role="dialog"][aria-modal="true"]')) return;
      e.preventDefault();
      dispatch(
        runHotkey(hotkey, {
          image: current && !current.isBase64 ? current : null,
          toggleGallery: () => (isNarrow ? setDrawerOpen((o) => !o) : dispatch(galleryToggled(undefined))),
          openFaceRestore: () => setSignals((s) => ({ ...s, face: s.face + 1 })),
          openUpscale: () => setSignals((s) => ({ ...s, upscale: s.upscale + 1 })),
          showHotkeys: () => setHotkeysOpen(true),
          focusPrompt: () => document.querySelector<HTMLTextAreaElement>('[data-testid="prompt"]')?.focus(),
        }),
      );
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [dispatch, current, isNarrow]);

  const hasFiles = (e: DragEvent) => Array.from(e.dataTransfer.types).includes('Files');
  const onDragOver = (e: DragEvent<HTMLDivElement>) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
    setDragging(true);
  };
  const onDrop = (e: DragEvent<HTMLDivElement>) => {
    setDragging(false);
    handleFileDrop(e, upload);
  };

  const showGallery = isNarrow ? isDrawerOpen : isGalleryOpen;
  const closeGallery = () => (isNarrow ? setDrawerOpen(false) : dispatch(galleryToggled(false)));

  return (
    <div
      className={`app ${showGallery && !isNarrow ? 'app--with-gallery' : ''} ${isNarrow ? 'app--narrow' : ''}`}
      onDragOver={onDragOver}
      onDragLeave={(e) => e.currentTarget === e.target && setDragging(false)}
      onDrop={onDrop}
      data-testid="app"
    >
      <SiteHeader isHotkeysOpen={isHotkeysOpen} onHotkeysOpenChange={setHotkeysOpen} />
      <TabBar />
      <main className="workspace">
        {activeTab === 'postprocessing' ? <PostprocessingPanel /> : <OptionsPanel />}
        {activeTab === 'outpainting' ? (
          <OutpaintingWorkspace />
        ) : activeTab === 'postprocessing' ? (
          <PostprocessingWorkspace />
        ) : activeTab === 'inpainting' ? (
          <InpaintingPanel />
        ) : activeTab === 'canvas' ? (
          <UnifiedCanvasPanel />
        ) : (
          <CurrentImagePanel signals={signals} />
        )}
      </main>
      {showGallery && isNarrow && <div className="drawer-backdrop" onClick={() => setDrawerOpen(false)} />}
      {showGallery ? (
        <Gallery onClose={closeGallery} />
      ) : (
        <Tooltip label="Show the gallery (G)." placement="left">
          <button
            type="button"
            className="gallery-opener"
            aria-label="Show gallery"
            onClick={() => (isNarrow ? setDrawerOpen(true) : dispatch(galleryToggled(true)))}
            data-testid="open-gallery"
          >
            <GalleryIcon size={20} />
          </button>
        </Tooltip>
      )}
      {isDragging && (
        <div className="drop-overlay" data-testid="drop-overlay">
          <UploadIcon size={36} />
          <span>Drop the image to use it as the initial image</span>
        </div>
      )}
      <DeleteConfirmation />
      <Toasts />
    </div>
  );
}
