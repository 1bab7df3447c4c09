/** The Outpainting tab's centre: the picture with its new area drawn as a checkered frame, edge handles, and status. */
import { useLayoutEffect, useRef, useState, type KeyboardEvent, type PointerEvent } from 'react';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { IconButton } from '../../common/components/IconButton';
import { CloseIcon, ImageIcon, UploadIcon } from '../../common/components/Icons';
import { Tooltip } from '../../common/components/Tooltip';
import { fileName } from '../../common/util/imageUrls';
import { ProgressBar } from '../system/ProgressBar';
import { useImageChooser } from '../tabs/useImageChooser';
import {
  dragExtension,
  EXTENSION_MAX,
  EXTENSION_STEP,
  outwardTravel,
  planOutpaint,
  SIDES,
  snapExtension,
  type Extension,
  type Side,
} from './geometry';
import { extensionSet, outpaintSourceSet, outpaintUndone, type OutpaintPhase } from './outpaintingSlice';
import './outpainting.css';

const PAD = 28;
const MAX_SCALE = 4;

/** The arrow key pointing away from the picture across each edge grows it; the opposite one shrinks it. */
const OUTWARD_KEY: Record<Side, string> = { top: 'ArrowUp', right: 'ArrowRight', bottom: 'ArrowDown', left: 'ArrowLeft' };
const INWARD_KEY: Record<Side, string> = { top: 'ArrowDown', right: 'ArrowLeft', bottom: 'ArrowUp', left: 'ArrowRight' };

const PHASE_TEXT: Record<OutpaintPhase, string> = {
  composing: 'Preparing the picture with its transparent frame…',
  uploading: 'Uploading the picture…',
  generating: 'Generating the new area…',
};

/** Where the original sits on screen and how big an image pixel is; frozen while a handle is dragged. */
interface Layout {
  scale: number;
  /** Screen position of the original's top-left corner inside the stage. */
  x: number;
  y: number;
}

function useSize(ref: React.RefObject<HTMLElement | null>): { width: number; height: number } {
  const [size, setSize] = useState({ width: 0, height: 0 });
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    const measure = () => setSize({ width: el.clientWidth, height: el.clientHeight });
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, [ref]);
  return size;
}

/** Centres the grown picture in the stage at the largest scale that fits. */
function centredLayout(stage: { width: number; height: number }, sw: number, sh: number, ext: Extension): Layout {
  const plan = planOutpaint(sw, sh, ext);
  const scale = Math.max(
    0.05,
    Math.min(MAX_SCALE, (stage.width - 2 * PAD) / plan.width, (stage.height - 2 * PAD) / plan.height),
  );
  const left = (stage.width - plan.width * scale) / 2;
  const top = (stage.height - plan.height * scale) / 2;
  return { scale, x: left + plan.x * scale, y: top + plan.y * scale };
}

function SourceChooser() {
  const dispatch = useAppDispatch();
  const current = useAppSelector((s) => s.gallery.currentImage);
  const { choose, input } = useImageChooser('outpainting', 'outpaint-source-input');
  const real = current && !current.isBase64 ? current : null;
  return (
    <div className="outpaint-empty">
      <button type="button" className="dropzone outpaint-empty__drop" onClick={choose} data-testid="outpaint-dropzone">
        <UploadIcon size={28} />
        <span>Upload or Drop Image Here</span>
        <small>The picture to extend. PNG, JPEG or WebP.</small>
      </button>
      <Tooltip label={real ? `Outpaint ${fileName(real.url)}, the image selected in the gallery.` : 'Select an image in the gallery first.'}>
        <button type="button" className="button" disabled={!real} onClick={() => real && dispatch(outpaintSourceSet(real))} data-testid="outpaint-use-current">
          <ImageIcon size={14} /> Use the selected gallery image
        </button>
      </Tooltip>
      {input}
    </div>
  );
}

function EdgeHandle({
  side,
  value,
  style,
  onDragStart,
  onDragEnd,
  scale,
}: {
  side: Side;
  value: number;
  style: React.CSSProperties;
  onDragStart: () => void;
  onDragEnd: () => void;
  scale: number;
}) {
  const dispatch = useAppDispatch();
  const drag = useRef<{ x: number; y: number; start: number; scale: number } | null>(null);
  const set = (px: number) => dispatch(extensionSet({ side, px }));
  const onPointerDown = (e: PointerEvent<HTMLDivElement>) => {
    e.preventDefault();
    e.currentTarget.setPointerCapture(e.pointerId);
    drag.current = { x: e.clientX, y: e.clientY, start: value, scale };
    onDragStart();
  };
  const onPointerMove = (e: PointerEvent<HTMLDivElement>) => {
    const d = drag.current;
    if (!d) return;
    set(dragExtension(d.start, outwardTravel(side, e.clientX - d.x, e.clientY - d.y), d.scale));
  };
  const end = () => {
    if (!drag.current) return;
    drag.current = null;
    onDragEnd();
  };
  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    let next: number | null = null;
    if (e.key === OUTWARD_KEY[side]) next = value + EXTENSION_STEP;
    else if (e.key === INWARD_KEY[side]) next = value - EXTENSION_STEP;
    else if (e.key === 'ArrowUp' || e.key === 'ArrowRight') next = value + EXTENSION_STEP;
    else if (e.key === 'ArrowDown' || e.key === 'ArrowLeft') next = value - EXTENSION_STEP;
    else if (e.key === 'PageUp') next = value + 64;
    else if (e.key === 'PageDown') next = value - 64;
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = EXTENSION_MAX;
    if (next === null) return;
    e.preventDefault();
    e.stopPropagation();
    set(snapExtension(next));
  };
  const vertical = side === 'left' || side === 'right';
  return (
    <Tooltip label={`Drag to add pixels on the ${side} (snaps to 8 px); arrow keys step by 8.`}>
      <div
        role="slider"
        tabIndex={0}
        aria-label={`Pixels to add on the ${side}`}
        aria-valuemin={0}
        aria-valuemax={EXTENSION_MAX}
        aria-valuenow={value}
        aria-valuetext={`${value} px`}
        aria-orientation={vertical ? 'horizontal' : 'vertical'}
        className={`outpaint-handle outpaint-handle--${side}`}
        style={style}
        data-testid={`outpaint-handle-${side}`}
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={end}
        onPointerCancel={end}
        onKeyDown={onKeyDown}
      >
        {value > 0 && <span className="outpaint-handle__value">+{value}</span>}
      </div>
    </Tooltip>
  );
}

function Stage() {
  const source = useAppSelector((s) => s.outpainting.source);
  const extension = useAppSelector((s) => s.outpainting.extension);
  const pending = useAppSelector((s) => s.outpainting.pending);
  const preview = useAppSelector((s) => s.currentImage.intermediateImage);
  const stageRef = useRef<HTMLDivElement>(null);
  const size = useSize(stageRef);
  const [frozen, setFrozen] = useState<Layout | null>(null);
  if (!source) return null;
  const plan = planOutpaint(source.width, source.height, extension);
  const ready = size.width > 0 && size.height > 0;
  const layout = frozen ?? centredLayout(size, source.width, source.height, extension);
  const { scale } = layout;
  const frame = {
    left: layout.x - plan.x * scale,
    top: layout.y - plan.y * scale,
    width: plan.width * scale,
    height: plan.height * scale,
  };
  const showPreview =
    pending?.phase === 'generating' && preview && preview.width === plan.width && preview.height === plan.height;
  const handleStyle = (side: Side): React.CSSProperties => {
    switch (side) {
      case 'top':
        return { left: frame.left + frame.width / 2, top: frame.top };
      case 'bottom':
        return { left: frame.left + frame.width / 2, top: frame.top + frame.height };
      case 'left':
        return { left: frame.left, top: frame.top + frame.height / 2 };
      case 'right':
        return { left: frame.left + frame.width, top: frame.top + frame.height / 2 };
    }
  };
  return (
    <div className="outpaint-stage" ref={stageRef} data-testid="outpaint-stage">
      {ready && (
        <>
          <div className="outpaint-frame checkerboard" style={frame} data-testid="outpaint-frame" data-width={plan.width} data-height={plan.height} aria-hidden="true" />
          <img
            className="outpaint-source"
            src={source.url}
            alt={`Picture to outpaint, ${source.width}×${source.height}`}
            style={{ left: layout.x, top: layout.y, width: source.width * scale, height: source.height * scale }}
            data-testid="outpaint-source"
            data-url={source.url}
            draggable={false}
          />
          {showPreview && preview && (
            <img className="outpaint-preview" src={preview.url} alt="Live preview" style={frame} data-testid="outpaint-preview" />
          )}
          {!pending &&
            SIDES.map((side) => (
              <EdgeHandle
                key={side}
                side={side}
                value={extension[side]}
                style={handleStyle(side)}
                scale={scale}
                onDragStart={() => setFrozen(layout)}
                onDragEnd={() => setFrozen(null)}
              />
            ))}
        </>
      )}
    </div>
  );
}

export function OutpaintingWorkspace() {
  const dispatch = useAppDispatch();
  const source = useAppSelector((s) => s.outpainting.source);
  const history = useAppSelector((s) => s.outpainting.history);
  const pending = useAppSelector((s) => s.outpainting.pending);
  const current = useAppSelector((s) => s.gallery.currentImage);
  const real = current && !current.isBase64 ? current : null;
  const status = pending
    ? PHASE_TEXT[pending.phase]
    : source
      ? history.length > 0
        ? `The last result is now the picture (${source.width}×${source.height}): extend it again to keep growing it.`
        : 'Drag an edge handle, or type the pixels to add per side, then press Invoke.'
      : null;
  return (
    <div className="current-image-panel outpaint-panel" data-testid="outpaint-panel">
      <ProgressBar />
      {source && (
        <div className="image-buttons" role="toolbar" aria-label="Outpainting picture">
          <Tooltip label={real ? `Outpaint ${fileName(real.url)}, the image selected in the gallery, instead.` : 'Select an image in the gallery first.'}>
            <button type="button" className="button" disabled={!real || real.url === source.url || pending !== null} onClick={() => real && dispatch(outpaintSourceSet(real))} data-testid="outpaint-use-current">
              Use selected image
            </button>
          </Tooltip>
          <Tooltip label="Go back to the picture before the last outpainting.">
            <button type="button" className="button" disabled={history.length === 0 || pending !== null} onClick={() => dispatch(outpaintUndone())} data-testid="outpaint-undo">
              Undo
            </button>
          </Tooltip>
          <span className="outpaint-panel__spacer" />
          <IconButton label="Clear the picture" tooltip="Stop outpainting this picture." icon={<CloseIcon size={14} />} size="sm" variant="ghost" disabled={pending !== null} onClick={() => dispatch(outpaintSourceSet(null))} data-testid="outpaint-clear" />
        </div>
      )}
      {source ? <Stage /> : <SourceChooser />}
      {status && (
        <p className="outpaint-status" role="status" data-testid="outpaint-status">
          {status}
        </p>
      )}
    </div>
  );
}
