/** The Inpainting tab's centre: the image with its mask on a canvas, the tools, and the latest result. */
import { useCallback, useEffect, useRef, useState, type DragEvent } from 'react';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { IconButton } from '../../common/components/IconButton';
import { CloseIcon, ImageIcon, UploadIcon } from '../../common/components/Icons';
import { Tooltip } from '../../common/components/Tooltip';
import { setInitialImage } from '../options/optionsSlice';
import { ProgressBar } from '../system/ProgressBar';
import { errorOccurred } from '../system/systemSlice';
import { useImageChooser } from '../tabs/useImageChooser';
import { CanvasStage } from './CanvasStage';
import { BrushSettings, MaskButtons, ToolButtons, ZoomButtons, useCanvasHotkeys } from './CanvasToolbar';
import { inpaintingImageSized, type CanvasState } from './canvasSlice';
import type { Rect } from './mask';
import { fitView, type ViewTransform } from './geometry';
import './canvas.css';

/** The image to inpaint: chosen (dialog or file input) or dropped on the panel. */
function useInpaintingImageChooser() {
  const { choose, input, upload } = useImageChooser('inpainting', 'inpainting-image-input');
  const onDrop = (e: DragEvent) => {
    const file = e.dataTransfer.files?.[0];
    if (!file) return;
    e.preventDefault();
    e.stopPropagation(); // the page's own drop handler would send it to Image to Image
    upload(file);
  };
  return { choose, input, onDrop };
}

/** The region Use All recalled for this image, when it is not the whole image (that needs no mention). */
function partialBox(recalled: CanvasState['inpaintingBox'], url: string | undefined, size: CanvasState['inpaintingSize']): Rect | null {
  if (!recalled || !size || recalled.url !== url) return null;
  const { box } = recalled;
  const whole = box.x <= 0 && box.y <= 0 && box.x + box.width >= size.width && box.y + box.height >= size.height;
  return whole ? null : box;
}

export function InpaintingPanel() {
  const dispatch = useAppDispatch();
  const image = useAppSelector((s) => s.options.initialImage);
  const size = useAppSelector((s) => s.canvas.inpaintingSize);
  const current = useAppSelector((s) => s.gallery.currentImage);
  const recalledBox = useAppSelector((s) => s.canvas.inpaintingBox);
  const [sizedUrl, setSizedUrl] = useState<string | null>(null);
  const [view, setView] = useState<ViewTransform>({ scale: 1, x: 0, y: 0 });
  const [viewport, setViewport] = useState({ width: 0, height: 0 });
  const chooser = useInpaintingImageChooser();
  useCanvasHotkeys('inpainting');

  useEffect(() => {
    if (!image) return;
    let live = true;
    const img = new Image();
    img.onload = () => {
      if (!live) return;
      dispatch(inpaintingImageSized({ width: img.naturalWidth, height: img.naturalHeight }));
      setSizedUrl(image.url);
    };
    img.onerror = () => live && dispatch(errorOccurred(`The image ${image.url} could not be loaded.`));
    img.src = image.url;
    return () => {
      live = false;
    };
  }, [image, dispatch]);

  const ready = image !== null && size !== null && sizedUrl === image.url;
  // The view follows the window (fitted) until the user zooms or pans; Fit goes back to following.
  const userView = useRef(false);
  const changeView = useCallback((v: ViewTransform) => {
    userView.current = true;
    setView(v);
  }, []);
  const fit = useCallback(() => {
    userView.current = false;
    if (size && viewport.width > 0) setView(fitView({ x: 0, y: 0, ...size }, viewport.width, viewport.height));
  }, [size, viewport]);
  useEffect(() => {
    if (ready && !userView.current) fit();
  }, [ready, fit]);
  useEffect(() => {
    userView.current = false;
  }, [sizedUrl]);

  const result = current && !current.isBase64 && current.url !== image?.url ? current : null;
  const box = partialBox(recalledBox, image?.url, size);

  return (
    <div className="current-image-panel canvas-panel" data-testid="inpainting-panel" onDragOver={(e) => e.preventDefault()} onDrop={chooser.onDrop}>
      <ProgressBar />
      <div className="canvas-toolbar" role="toolbar" aria-label="Inpainting tools">
        <ToolButtons tab="inpainting" />
        <BrushSettings />
        <MaskButtons tab="inpainting" />
        <ZoomButtons view={view} onViewChange={changeView} onFit={fit} viewport={viewport} />
        <div className="canvas-toolbar__group canvas-toolbar__group--end">
          <IconButton label="Choose image" tooltip="Choose another image to inpaint (or drop one here)." icon={<UploadIcon />} onClick={chooser.choose} data-testid="inpainting-choose" />
          <IconButton label="Clear image" tooltip="Remove the image." icon={<CloseIcon />} disabled={!image} onClick={() => dispatch(setInitialImage(null))} data-testid="inpainting-clear-image" />
        </div>
      </div>
      {image ? (
        <div className="canvas-area">
          {ready && size ? (
            <CanvasStage
              tab="inpainting"
              width={size.width}
              height={size.height}
              items={[{ url: image.url, x: 0, y: 0, width: size.width, height: size.height }]}
              view={view}
              onViewChange={changeView}
              onResize={setViewport}
            />
          ) : (
            <div className="canvas-area__loading">Loading the image…</div>
          )}
          {size && (
            <span className="image-tag canvas-area__tag" data-testid="inpainting-size">
              {size.width}×{size.height}
            </span>
          )}
          {box && (
            <span className="image-tag canvas-area__tag canvas-area__tag--box" data-testid="inpainting-box">
              Region {box.width}×{box.height} at {box.x},{box.y}
            </span>
          )}
          {result && (
            <div className="inpainting-result" data-testid="inpainting-result">
              <img src={result.url} alt="Current result" data-url={result.url} />
              <Tooltip label="Continue from this image: put it on the canvas in place of the current one, to inpaint it further.">
                <button type="button" className="button button--small button--accent" onClick={() => dispatch(setInitialImage(result))} data-testid="inpainting-use-result">
                  <ImageIcon size={14} /> Continue from this
                </button>
              </Tooltip>
            </div>
          )}
        </div>
      ) : (
        <div className="canvas-empty">
          <button type="button" className="dropzone canvas-dropzone" onClick={chooser.choose} data-testid="inpainting-dropzone">
            <UploadIcon size={28} />
            <span>Upload or Drop an Image to Inpaint</span>
            <small>Then paint a mask over what should change, and Invoke.</small>
          </button>
          {current && !current.isBase64 && (
            <button type="button" className="button" onClick={() => dispatch(setInitialImage(current))} data-testid="inpainting-use-current">
              <ImageIcon size={16} /> Inpaint the image selected in the gallery
            </button>
          )}
        </div>
      )}
      {chooser.input}
    </div>
  );
}
