/** The centre: the current image (or the live preview), its action buttons, and on Image to Image the initial image. */
import { useState } from 'react';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import type { ImageInfo } from '../../app/protocol';
import { IconButton } from '../../common/components/IconButton';
import { FaceRestoreFields, UpscaleFields } from '../postprocessing/PostprocessFields';
import {
  ChevronLeftIcon,
  ChevronRightIcon,
  CloseIcon,
  DownloadIcon,
  FaceIcon,
  HdIcon,
  ImageIcon,
  InfoIcon,
  LayersIcon,
  TrashIcon,
  UploadIcon,
} from '../../common/components/Icons';
import { Popover } from '../../common/components/Popover';
import { Tooltip } from '../../common/components/Tooltip';
import { fileName } from '../../common/util/imageUrls';
import { selectionMoved } from '../gallery/gallerySlice';
import { setFaceOptions, setInitialImage, setUpscaleOptions } from '../options/optionsSlice';
import { postprocessorAvailability } from '../system/systemSlice';
import { ProgressBar } from '../system/ProgressBar';
import { useImageChooser } from '../tabs/useImageChooser';
import { metadataToggled } from './currentImageSlice';
import {
  hasParameters,
  hasPrompt,
  hasSeed,
  loadAllFrom,
  loadPromptFrom,
  loadSeedFrom,
  postprocess,
  requestDeletion,
  SEND_TARGETS,
  sendToImageToImage,
  sendToTab,
} from './imageActions';
import { DesktopImageButtons } from './DesktopImageButtons';
import { MetadataViewer } from './MetadataViewer';
import { ResultWarnings } from './ResultWarnings';

/** Lets keyboard shortcuts open the Restore Faces / HD popovers. */
export interface PopoverSignals {
  face: number;
  upscale: number;
}

function RestoreFacesPopover({ image, openSignal }: { image: ImageInfo; openSignal: number }) {
  const dispatch = useAppDispatch();
  const postprocessors = useAppSelector((s) => s.system.config?.postprocessors);
  const type = useAppSelector((s) => s.options.facetoolType);
  const strength = useAppSelector((s) => s.options.facetoolStrength);
  const fidelity = useAppSelector((s) => s.options.codeformerFidelity);
  const gfpgan = postprocessorAvailability(postprocessors, 'gfpgan');
  const codeformer = postprocessorAvailability(postprocessors, 'codeformer');
  const unavailable = !gfpgan.available && !codeformer.available;
  const chosen = type === 'gfpgan' ? gfpgan : codeformer;
  return (
    <Popover
      testId="restore-faces-popover"
      openSignal={openSignal}
      trigger={({ toggle }) => (
        <IconButton
          label="Restore Faces"
          tooltip={unavailable ? `Restore Faces is unavailable: ${gfpgan.reason}` : 'Restore Faces: fix faces and eyes in this image (R).'}
          icon={<FaceIcon />}
          onClick={toggle}
          disabled={unavailable}
          data-testid="restore-faces"
        />
      )}
    >
      {(close) => (
        <div className="popover__form">
          <FaceRestoreFields value={{ type, strength, fidelity }} onChange={(change) => dispatch(setFaceOptions(change))} testIdPrefix="popover-" />
          {!chosen.available && <p className="section__reason">{chosen.reason}</p>}
          <button
            type="button"
            className="button button--accent"
            data-testid="run-restore-faces"
            disabled={!chosen.available}
            onClick={() => {
              dispatch(postprocess(image, type));
              close();
            }}
          >
            Restore Faces
          </button>
        </div>
      )}
    </Popover>
  );
}

function UpscalePopover({ image, openSignal }: { image: ImageInfo; openSignal: number }) {
  const dispatch = useAppDispatch();
  const postprocessors = useAppSelector((s) => s.system.config?.postprocessors);
  const level = useAppSelector((s) => s.options.upscalingLevel);
  const strength = useAppSelector((s) => s.options.upscalingStrength);
  const esrgan = postprocessorAvailability(postprocessors, 'esrgan');
  return (
    <Popover
      testId="upscale-popover"
      openSignal={openSignal}
      trigger={({ toggle }) => (
        <IconButton
          label="Upscale (HD)"
          tooltip={esrgan.available ? 'HD: upscale this image 2x or 4x with Real-ESRGAN (U).' : `Upscaling is unavailable: ${esrgan.reason}`}
          icon={<HdIcon />}
          onClick={toggle}
          disabled={!esrgan.available}
          data-testid="upscale"
        />
      )}
    >
      {(close) => (
        <div className="popover__form">
          <UpscaleFields value={{ level, strength }} onChange={(change) => dispatch(setUpscaleOptions(change))} testIdPrefix="popover-" />
          <button
            type="button"
            className="button button--accent"
            data-testid="run-upscale"
            onClick={() => {
              dispatch(postprocess(image, 'esrgan'));
              close();
            }}
          >
            Upscale Image
          </button>
        </div>
      )}
    </Popover>
  );
}

function SendToPopover({ image }: { image: ImageInfo | null }) {
  const dispatch = useAppDispatch();
  return (
    <Popover
      testId="send-to-popover"
      trigger={({ toggle }) => (
        <IconButton
          label="Send to"
          tooltip="Send to: open this image in Inpainting, Outpainting or the Unified Canvas."
          icon={<LayersIcon />}
          disabled={!image}
          onClick={toggle}
          data-testid="send-to"
        />
      )}
    >
      {(close) => (
        <div className="popover__menu" role="menu" aria-label="Send to">
          {SEND_TARGETS.map((target) => (
            <button
              key={target.tab}
              type="button"
              role="menuitem"
              className="button popover__menu-item"
              data-testid={`send-to-${target.tab}`}
              onClick={() => {
                if (image) dispatch(sendToTab(image, target.tab));
                close();
              }}
            >
              <span>{target.label}</span>
              <small>{target.hint}</small>
            </button>
          ))}
        </div>
      )}
    </Popover>
  );
}

function ImageButtons({ image, signals }: { image: ImageInfo | null; signals: PopoverSignals }) {
  const dispatch = useAppDispatch();
  const isMetadataOpen = useAppSelector((s) => s.currentImage.isMetadataOpen);
  const inline = image?.isBase64 === true;
  const real = image && !inline ? image : null;
  return (
    <div className="image-buttons" role="toolbar" aria-label="Image actions">
      <IconButton label="Use as initial image" tooltip="Use as initial image: send this image to Image to Image (Shift+I)." icon={<ImageIcon />} disabled={!real} onClick={() => real && dispatch(sendToImageToImage(real))} data-testid="use-as-initial" />
      <SendToPopover image={real} />
      <Tooltip label="Use All: load every parameter of this image into the control panel, so Invoke regenerates it exactly (A).">
        <button type="button" className="button" disabled={!hasParameters(real)} onClick={() => real && dispatch(loadAllFrom(real))} data-testid="use-all">
          Use All
        </button>
      </Tooltip>
      <Tooltip label="Use Seed: load just this image's seed and keep the other settings (S).">
        <button type="button" className="button" disabled={!hasSeed(real)} onClick={() => real && dispatch(loadSeedFrom(real))} data-testid="use-seed">
          Use Seed
        </button>
      </Tooltip>
      <Tooltip label="Use Prompt: load this image's prompt (P).">
        <button type="button" className="button" disabled={!hasPrompt(real)} onClick={() => real && dispatch(loadPromptFrom(real))} data-testid="use-prompt">
          Use Prompt
        </button>
      </Tooltip>
      {real ? (
        <>
          <RestoreFacesPopover image={real} openSignal={signals.face} />
          <UpscalePopover image={real} openSignal={signals.upscale} />
        </>
      ) : (
        <>
          <IconButton label="Restore Faces" icon={<FaceIcon />} disabled />
          <IconButton label="Upscale (HD)" icon={<HdIcon />} disabled />
        </>
      )}
      <Tooltip label="Download this image.">
        <a
          className={`icon-button icon-button--solid icon-button--md ${real ? '' : 'is-disabled'}`}
          href={real?.url}
          download={real ? fileName(real.url) : undefined}
          aria-label="Download"
          aria-disabled={!real}
          data-testid="download"
          onClick={(e) => !real && e.preventDefault()}
        >
          <DownloadIcon />
        </a>
      </Tooltip>
      <DesktopImageButtons image={real} />
      <IconButton label="Show metadata" tooltip="Show this image's metadata: every parameter, copyable, and the raw JSON (I)." icon={<InfoIcon />} disabled={!real} aria-pressed={isMetadataOpen} onClick={() => dispatch(metadataToggled(undefined))} data-testid="show-metadata" />
      <IconButton label="Delete image" tooltip="Delete this image (moves it to the trash) (Del)." icon={<TrashIcon />} variant="danger" disabled={!real} onClick={() => real && dispatch(requestDeletion(real))} data-testid="delete-image" />
    </div>
  );
}

function ImageView({ image, testId }: { image: ImageInfo; testId: string }) {
  return (
    <img
      className="image-view"
      src={image.url}
      alt={image.isBase64 ? 'Live preview' : fileName(image.url)}
      data-testid={testId}
      data-url={image.url}
      draggable={!image.isBase64}
    />
  );
}

function InitialImageArea() {
  const dispatch = useAppDispatch();
  const initialImage = useAppSelector((s) => s.options.initialImage);
  const { choose, input } = useImageChooser();
  if (!initialImage) {
    return (
      <button type="button" className="dropzone" onClick={choose} data-testid="init-image-dropzone">
        <UploadIcon size={28} />
        <span>Upload or Drop Image Here</span>
        <small>PNG, JPEG or WebP. Transparent areas of a PNG are inpainted.</small>
        {input}
      </button>
    );
  }
  return (
    <div className="init-image" data-testid="init-image-area">
      <span className="image-tag">Initial Image</span>
      <IconButton label="Clear initial image" icon={<CloseIcon size={14} />} size="sm" className="init-image__clear" onClick={() => dispatch(setInitialImage(null))} data-testid="clear-init-image" />
      <div className="checkerboard">
        <img className="image-view" src={initialImage.url} alt="Initial image" data-testid="init-image" data-url={initialImage.url} />
      </div>
      {input}
    </div>
  );
}

export function CurrentImagePanel({ signals }: { signals: PopoverSignals }) {
  const dispatch = useAppDispatch();
  const tab = useAppSelector((s) => s.tabs.activeTab);
  const current = useAppSelector((s) => s.gallery.currentImage);
  const intermediate = useAppSelector((s) => s.currentImage.intermediateImage);
  const isMetadataOpen = useAppSelector((s) => s.currentImage.isMetadataOpen);
  const images = useAppSelector((s) => s.gallery.categories[s.gallery.currentCategory].images);
  const [hover, setHover] = useState(false);
  const shown = intermediate ?? current;
  const index = current ? images.findIndex((i) => i.url === current.url) : -1;

  const imageArea = (
    <div className="current-image" onMouseEnter={() => setHover(true)} onMouseLeave={() => setHover(false)} data-testid="current-image-area">
      {shown ? (
        <>
          <ImageView image={shown} testId={intermediate ? 'live-preview' : 'current-image'} />
          {intermediate && <span className="image-tag image-tag--live">Live preview</span>}
        </>
      ) : (
        <div className="empty-state">
          <ImageIcon size={40} />
          <p>No image yet. Type a prompt and press Invoke.</p>
        </div>
      )}
      {hover && !intermediate && index > 0 && (
        <button type="button" className="nav-arrow nav-arrow--left" aria-label="Previous image" onClick={() => dispatch(selectionMoved(-1))}>
          <ChevronLeftIcon size={32} />
        </button>
      )}
      {hover && !intermediate && index >= 0 && index < images.length - 1 && (
        <button type="button" className="nav-arrow nav-arrow--right" aria-label="Next image" onClick={() => dispatch(selectionMoved(1))}>
          <ChevronRightIcon size={32} />
        </button>
      )}
      {isMetadataOpen && current && !current.isBase64 && <MetadataViewer image={current} />}
    </div>
  );

  return (
    <div className="current-image-panel" data-testid="current-image-panel">
      <ProgressBar />
      <ImageButtons image={current} signals={signals} />
      {!intermediate && <ResultWarnings image={current} />}
      {tab === 'img2img' ? (
        <div className="split">
          <InitialImageArea />
          {imageArea}
        </div>
      ) : (
        imageArea
      )}
    </div>
  );
}
