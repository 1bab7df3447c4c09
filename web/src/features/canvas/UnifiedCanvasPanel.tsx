/** The Unified Canvas tab: a large working area with images, a mask, the bounding box and the staging area. */
import { useCallback, useEffect, useRef, useState, type DragEvent, type PointerEvent as ReactPointerEvent } from 'react';
import { selectLimits } from '../system/limits';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { IconButton } from '../../common/components/IconButton';
import { ChevronLeftIcon, ChevronRightIcon, CloseIcon, ImageIcon, TrashIcon, UploadIcon } from '../../common/components/Icons';
import { NumberInput } from '../../common/components/Fields';
import { Modal } from '../../common/components/Modal';
import { Tooltip } from '../../common/components/Tooltip';
import { ProgressBar } from '../system/ProgressBar';
import { ACCEPTED_TYPES } from '../tabs/useImageChooser';
import { ControlLayerHandles, ControlLayers } from '../control/ControlLayers';
import { CanvasStage } from './CanvasStage';
import { BrushSettings, MaskButtons, ToolButtons, ZoomButtons, useCanvasHotkeys } from './CanvasToolbar';
import {
  CANVAS_SIZE,
  boxChanged,
  canvasCleared,
  layerItemAdded,
  stagedAccepted,
  stagedDiscarded,
  stagedMoved,
} from './canvasSlice';
import { fitView, snapBox, type ViewTransform } from './geometry';
import { CheckIcon, PlaceImageIcon, SaveIcon } from './icons';
import { boxEdited, saveCanvasToGallery, uploadToCanvas } from './invoke';
import type { Rect } from './mask';
import './canvas.css';

const screenRect = (r: Rect, view: ViewTransform) => ({
  left: r.x * view.scale + view.x,
  top: r.y * view.scale + view.y,
  width: r.width * view.scale,
  height: r.height * view.scale,
});

/** The box in screen space; with the box tool it moves by its body and resizes by its corner. */
function BoundingBox({ view }: { view: ViewTransform }) {
  const dispatch = useAppDispatch();
  const box = useAppSelector((s) => s.canvas.box);
  const active = useAppSelector((s) => s.canvas.tool === 'box');
  const drag = useRef<{ mode: 'move' | 'resize'; x: number; y: number; box: Rect } | null>(null);
  const start = (mode: 'move' | 'resize') => (e: ReactPointerEvent<HTMLDivElement>) => {
    if (e.button !== 0) return;
    e.stopPropagation();
    drag.current = { mode, x: e.clientX, y: e.clientY, box };
    e.currentTarget.setPointerCapture(e.pointerId);
  };
  const move = (e: ReactPointerEvent) => {
    const d = drag.current;
    if (!d) return;
    e.stopPropagation();
    const dx = (e.clientX - d.x) / view.scale;
    const dy = (e.clientY - d.y) / view.scale;
    const next =
      d.mode === 'move'
        ? { ...d.box, x: d.box.x + dx, y: d.box.y + dy }
        : { ...d.box, width: d.box.width + dx, height: d.box.height + dy };
    dispatch(boxEdited(next));
  };
  const end = (e: ReactPointerEvent) => {
    if (!drag.current) return;
    e.stopPropagation();
    drag.current = null;
  };
  return (
    <div
      className={`bounding-box ${active ? 'bounding-box--active' : ''}`}
      style={screenRect(box, view)}
      onPointerDown={active ? start('move') : undefined}
      onPointerMove={move}
      onPointerUp={end}
      data-testid="bounding-box"
      data-box={`${box.x},${box.y},${box.width},${box.height}`}
    >
      <span className="bounding-box__label">
        {box.width}×{box.height}
      </span>
      {active && (
        <div
          className="bounding-box__handle"
          role="slider"
          aria-label="Resize the bounding box"
          aria-valuetext={`${box.width} by ${box.height}`}
          onPointerDown={start('resize')}
          onPointerMove={move}
          onPointerUp={end}
          data-testid="bounding-box-handle"
        />
      )}
    </div>
  );
}

/** Results over the canvas at their box, waiting for Accept or Discard. */
function StagingArea({ view }: { view: ViewTransform }) {
  const dispatch = useAppDispatch();
  const staged = useAppSelector((s) => s.canvas.staged);
  const index = useAppSelector((s) => s.canvas.stagedIndex);
  const shown = staged[index];
  if (!shown) return null;
  const rect = screenRect({ ...shown.box, width: shown.image.width, height: shown.image.height }, view);
  return (
    <>
      <img
        className="staging-image"
        src={shown.image.url}
        alt="Staged result"
        style={rect}
        draggable={false}
        data-testid="staging-image"
        data-url={shown.image.url}
      />
      <div
        className="staging-controls"
        role="toolbar"
        aria-label="Staged results"
        style={{ left: rect.left + rect.width / 2, top: rect.top + rect.height + 8 }}
        onPointerDown={(e) => e.stopPropagation()}
        data-testid="staging-controls"
      >
        <IconButton label="Previous result" icon={<ChevronLeftIcon />} size="sm" disabled={staged.length < 2} onClick={() => dispatch(stagedMoved(-1))} data-testid="staging-prev" />
        <span className="staging-controls__count" data-testid="staging-count">
          {index + 1}/{staged.length}
        </span>
        <IconButton label="Next result" icon={<ChevronRightIcon />} size="sm" disabled={staged.length < 2} onClick={() => dispatch(stagedMoved(1))} data-testid="staging-next" />
        <IconButton label="Accept" tooltip="Accept: put this result into the canvas." icon={<CheckIcon />} size="sm" variant="accent" onClick={() => dispatch(stagedAccepted())} data-testid="staging-accept" />
        <IconButton label="Discard" tooltip="Discard this result; the canvas stays as it was." icon={<CloseIcon />} size="sm" variant="danger" onClick={() => dispatch(stagedDiscarded())} data-testid="staging-discard" />
      </div>
    </>
  );
}

function BoxFields() {
  const dispatch = useAppDispatch();
  const box = useAppSelector((s) => s.canvas.box);
  const limits = useAppSelector(selectLimits);
  // The box snaps to multiples of 8 and stays inside the canvas and the size limits: a typed number
  // is committed (and changed, with a note saying why) on Enter or blur, never per keystroke.
  const allowed = (key: keyof Rect) => {
    if (key === 'width') return { min: limits.width.min, max: Math.min(limits.width.max, CANVAS_SIZE) };
    if (key === 'height') return { min: limits.height.min, max: Math.min(limits.height.max, CANVAS_SIZE) };
    return { min: 0, max: CANVAS_SIZE - (key === 'x' ? box.width : box.height) };
  };
  const field = (key: keyof Rect, label: string, tooltip: string) => (
    <Tooltip label={tooltip}>
      <label className="box-field">
        <span>{label}</span>
        <NumberInput
          className="box-field__input"
          value={box[key]}
          step={8}
          {...allowed(key)}
          normalize={(v) => snapBox({ ...box, [key]: v }, CANVAS_SIZE, CANVAS_SIZE, limits)[key]}
          ariaLabel={`Bounding box ${label}`}
          onCommit={(v) => dispatch(boxEdited({ ...box, [key]: v }))}
          testId={`box-${key}`}
        />
      </label>
    </Tooltip>
  );
  return (
    <div className="canvas-toolbar__group" role="group" aria-label="Bounding box">
      {field('x', 'X', 'Left edge of the bounding box, in canvas pixels (multiples of 8).')}
      {field('y', 'Y', 'Top edge of the bounding box, in canvas pixels (multiples of 8).')}
      {field('width', 'W', `Width of the bounding box: the size of the generated image (${limits.width.min}–${limits.width.max}, multiples of 8).`)}
      {field('height', 'H', `Height of the bounding box: the size of the generated image (${limits.height.min}–${limits.height.max}, multiples of 8).`)}
    </div>
  );
}

export function UnifiedCanvasPanel() {
  const dispatch = useAppDispatch();
  const layer = useAppSelector((s) => s.canvas.layer);
  const box = useAppSelector((s) => s.canvas.box);
  const current = useAppSelector((s) => s.gallery.currentImage);
  const optWidth = useAppSelector((s) => s.options.width);
  const optHeight = useAppSelector((s) => s.options.height);
  const limits = useAppSelector(selectLimits);
  const [view, setView] = useState<ViewTransform>({ scale: 1, x: 0, y: 0 });
  const [viewport, setViewport] = useState({ width: 0, height: 0 });
  const [confirmClear, setConfirmClear] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useCanvasHotkeys('canvas');

  // The box is the image size: the control panel's width/height and the box follow each other.
  useEffect(() => {
    dispatch(boxChanged({ ...box, width: optWidth, height: optHeight }, limits));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [optWidth, optHeight, limits, dispatch]);

  // The view frames the box, following the window, until the user zooms or pans; Fit frames it again.
  const userView = useRef(false);
  const changeView = useCallback((v: ViewTransform) => {
    userView.current = true;
    setView(v);
  }, []);
  const frame = useCallback(
    (target: Rect) => {
      if (viewport.width === 0) return;
      const pad = Math.max(target.width, target.height) * 0.25;
      setView(fitView({ x: target.x - pad, y: target.y - pad, width: target.width + pad * 2, height: target.height + pad * 2 }, viewport.width, viewport.height));
    },
    [viewport],
  );
  const fit = () => {
    userView.current = false;
    frame(box);
  };
  const boxRef = useRef(box);
  boxRef.current = box;
  useEffect(() => {
    if (!userView.current) frame(boxRef.current);
  }, [frame]);

  const placeCurrent = () => {
    if (!current || current.isBase64) return;
    dispatch(layerItemAdded({ url: current.url, x: box.x, y: box.y, width: current.width, height: current.height }));
  };
  const onDrop = (e: DragEvent) => {
    const file = e.dataTransfer.files?.[0];
    if (!file) return;
    e.preventDefault();
    e.stopPropagation(); // the page's own handler would make it Image to Image's initial image
    dispatch(uploadToCanvas(file));
  };
  const realCurrent = current && !current.isBase64 ? current : null;

  return (
    <div className="current-image-panel canvas-panel" data-testid="canvas-panel" onDragOver={(e) => e.preventDefault()} onDrop={onDrop}>
      <ProgressBar />
      <div className="canvas-toolbar" role="toolbar" aria-label="Canvas tools">
        <ToolButtons tab="canvas" />
        <BrushSettings />
        <MaskButtons tab="canvas" />
        <ZoomButtons view={view} onViewChange={changeView} onFit={fit} viewport={viewport} />
        <BoxFields />
        <div className="canvas-toolbar__group canvas-toolbar__group--end">
          <IconButton label="Place the selected image" tooltip="Place the image selected in the gallery on the canvas, at the box's corner." icon={<PlaceImageIcon />} disabled={!realCurrent} onClick={placeCurrent} data-testid="canvas-place-current" />
          <IconButton label="Upload an image" tooltip="Upload an image onto the canvas at the box's corner (or drop one here)." icon={<UploadIcon />} onClick={() => input.current?.click()} data-testid="canvas-upload" />
          <IconButton label="Save to gallery" tooltip="Save the canvas, flattened to one PNG, to the gallery's Uploads." icon={<SaveIcon />} disabled={layer.length === 0} onClick={() => dispatch(saveCanvasToGallery())} data-testid="canvas-save" />
          <IconButton label="Clear canvas" tooltip="Remove every image, staged result and the mask from the canvas." icon={<TrashIcon />} variant="danger" disabled={layer.length === 0} onClick={() => setConfirmClear(true)} data-testid="canvas-clear" />
        </div>
        <input
          ref={input}
          type="file"
          accept={ACCEPTED_TYPES}
          hidden
          data-testid="canvas-image-input"
          onChange={(e) => {
            const file = e.target.files?.[0];
            if (file) dispatch(uploadToCanvas(file));
            e.target.value = '';
          }}
        />
      </div>
      <div className="canvas-area">
        <CanvasStage
          tab="canvas"
          width={CANVAS_SIZE}
          height={CANVAS_SIZE}
          items={layer}
          view={view}
          onViewChange={changeView}
          onResize={setViewport}
          layers={<ControlLayers />}
          overlay={(v) => (
            <>
              <StagingArea view={v} />
              <BoundingBox view={v} />
              <ControlLayerHandles view={v} />
            </>
          )}
        />
        {layer.length === 0 && (
          <div className="canvas-area__hint" data-testid="canvas-empty-hint">
            <ImageIcon size={20} />
            <span>Invoke to generate in the box, or place an image from the gallery.</span>
          </div>
        )}
      </div>
      {confirmClear && (
        <Modal
          title="Clear the canvas"
          onClose={() => setConfirmClear(false)}
          testId="clear-canvas-confirmation"
          footer={
            <>
              <button type="button" className="button" onClick={() => setConfirmClear(false)}>
                Cancel
              </button>
              <button
                type="button"
                className="button button--danger"
                autoFocus
                data-testid="confirm-clear-canvas"
                onClick={() => {
                  dispatch(canvasCleared());
                  setConfirmClear(false);
                }}
              >
                Clear
              </button>
            </>
          }
        >
          <p>Remove every image, staged result and the mask from the canvas? Images in the gallery are kept.</p>
        </Modal>
      )}
    </div>
  );
}
