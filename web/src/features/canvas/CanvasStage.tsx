/** The one canvas view both tabs use: image layer, mask overlay, brush and eraser, zoom and pan. */
import { useCallback, useEffect, useLayoutEffect, useRef, useState, type PointerEvent as ReactPointerEvent, type ReactNode } from 'react';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { toastAdded } from '../system/systemSlice';
import { maskOpAdded, type CanvasTab, type LayerItem } from './canvasSlice';
import { toCanvas, zoomAt, type ViewTransform } from './geometry';
import { drawLayer } from './invoke';
import { applyMaskOp, applyStroke, createMask, overlayPixels, type MaskOp, type MaskRaster, type Rect } from './mask';

/** The mask's colour on screen: a translucent red reads on any image, in both themes. */
const MASK_COLOUR: [number, number, number] = [240, 64, 96];

interface StageProps {
  tab: CanvasTab;
  width: number;
  height: number;
  items: readonly LayerItem[];
  view: ViewTransform;
  onViewChange: (view: ViewTransform) => void;
  /** Extra things drawn in screen space over the canvas (the box, the staging area). */
  overlay?: (view: ViewTransform) => ReactNode;
  /** Extra things drawn in canvas pixels over the image layer, under the mask (the control layers). */
  layers?: ReactNode;
  /** The viewport's size, so the panel can fit the view to it. */
  onResize?: (size: { width: number; height: number }) => void;
}

/** Keeps a mask raster in step with its history: a new stroke is drawn on, anything else is replayed. */
function useMaskRaster(ops: readonly MaskOp[], width: number, height: number, overlay: HTMLCanvasElement | null) {
  const state = useRef<{ mask: MaskRaster; ops: readonly MaskOp[]; shownOn: HTMLCanvasElement | null } | null>(null);
  const paint = useCallback(
    (rect: Rect | null) => {
      const mask = state.current?.mask;
      const ctx = overlay?.getContext('2d');
      if (!rect || !mask || !ctx || rect.width <= 0 || rect.height <= 0) return;
      ctx.putImageData(new ImageData(overlayPixels(mask, rect, MASK_COLOUR), rect.width, rect.height), rect.x, rect.y);
    },
    [overlay],
  );
  useLayoutEffect(() => {
    let current = state.current;
    let rect: Rect | null = null;
    const whole = { x: 0, y: 0, width, height };
    if (!current || current.mask.width !== width || current.mask.height !== height) {
      current = { mask: createMask(width, height), ops: [], shownOn: null };
      state.current = current;
      rect = whole;
    }
    const prev = current.ops;
    const appended = ops.length === prev.length + 1 && prev.every((op, i) => ops[i] === op);
    if (appended) {
      // Strokes are idempotent, so redrawing one already drawn live changes nothing.
      rect = applyMaskOp(current.mask, ops[ops.length - 1]) ?? rect;
    } else if (ops !== prev) {
      current.mask.data.fill(0);
      for (const op of ops) applyMaskOp(current.mask, op);
      rect = whole;
    }
    current.ops = ops;
    // A new overlay canvas (the stage was just mounted) has none of the mask on it yet.
    if (overlay && current.shownOn !== overlay) {
      current.shownOn = overlay;
      rect = whole;
    }
    paint(rect);
  }, [ops, width, height, paint, overlay]);
  return { state, paint };
}

export function CanvasStage({ tab, width, height, items, view, onViewChange, overlay, layers, onResize }: StageProps) {
  const dispatch = useAppDispatch();
  const tool = useAppSelector((s) => s.canvas.tool);
  const brushSize = useAppSelector((s) => s.canvas.brushSize);
  const hardness = useAppSelector((s) => s.canvas.hardness);
  const isMaskVisible = useAppSelector((s) => s.canvas.isMaskVisible);
  const ops = useAppSelector((s) => s.canvas.masks[tab].past);
  const viewport = useRef<HTMLDivElement>(null);
  const layerRef = useRef<HTMLCanvasElement>(null);
  const [overlayCanvas, setOverlayCanvas] = useState<HTMLCanvasElement | null>(null);
  const [drawn, setDrawn] = useState('');
  const [pointer, setPointer] = useState<{ x: number; y: number } | null>(null);
  const [spaceHeld, setSpaceHeld] = useState(false);
  const gesture = useRef<
    | { kind: 'pan'; startX: number; startY: number; view: ViewTransform }
    | { kind: 'paint'; op: Extract<MaskOp, { kind: 'stroke' }> }
    | null
  >(null);
  const { state: raster, paint } = useMaskRaster(ops, width, height, overlayCanvas);
  const viewRef = useRef(view);
  viewRef.current = view;

  // The image layer: redrawn in full whenever the list of images changes.
  const signature = items.map((i) => `${i.url}@${i.x},${i.y}`).join('|');
  useEffect(() => {
    const canvas = layerRef.current;
    const ctx = canvas?.getContext('2d');
    if (!canvas || !ctx) return;
    let live = true;
    const offscreen = new OffscreenCanvas(width, height);
    const octx = offscreen.getContext('2d');
    if (!octx) return;
    drawLayer(octx, items).then(
      (missing) => {
        if (!live) return;
        ctx.clearRect(0, 0, width, height);
        ctx.drawImage(offscreen, 0, 0);
        setDrawn(signature);
        if (missing.length > 0) {
          const message =
            missing.length === 1
              ? `${missing[0]} is no longer on the server (deleted?), so the canvas is drawn without it.`
              : `${missing.length} of the canvas's images are no longer on the server (deleted?); it is drawn without them.`;
          dispatch(toastAdded({ kind: 'info', message }));
        }
      },
      () => live && setDrawn(`error:${signature}`),
    );
    return () => {
      live = false;
    };
    // The signature stands for the items: same images at the same places draw the same.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [signature, width, height]);

  useEffect(() => {
    const el = viewport.current;
    if (!el) return;
    const onWheel = (e: WheelEvent) => {
      e.preventDefault();
      const r = el.getBoundingClientRect();
      const factor = Math.exp(-e.deltaY * (e.ctrlKey ? 0.01 : 0.0015));
      onViewChange(zoomAt(viewRef.current, factor, e.clientX - r.left, e.clientY - r.top));
    };
    el.addEventListener('wheel', onWheel, { passive: false });
    const observer = new ResizeObserver(() => onResize?.({ width: el.clientWidth, height: el.clientHeight }));
    observer.observe(el);
    return () => {
      el.removeEventListener('wheel', onWheel);
      observer.disconnect();
    };
  }, [onViewChange, onResize]);

  useEffect(() => {
    const typing = (t: EventTarget | null) => t instanceof HTMLElement && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName));
    const down = (e: KeyboardEvent) => {
      if (e.code === 'Space' && !typing(e.target)) {
        e.preventDefault();
        setSpaceHeld(true);
      }
    };
    const up = (e: KeyboardEvent) => e.code === 'Space' && setSpaceHeld(false);
    window.addEventListener('keydown', down);
    window.addEventListener('keyup', up);
    return () => {
      window.removeEventListener('keydown', down);
      window.removeEventListener('keyup', up);
    };
  }, []);

  const local = (e: ReactPointerEvent) => {
    const r = viewport.current?.getBoundingClientRect();
    return { x: e.clientX - (r?.left ?? 0), y: e.clientY - (r?.top ?? 0) };
  };
  const painting = tool === 'brush' || tool === 'eraser';

  const onPointerDown = (e: ReactPointerEvent<HTMLDivElement>) => {
    const p = local(e);
    const pan = e.button === 1 || (e.button === 0 && (spaceHeld || !painting));
    if (pan) {
      e.preventDefault();
      gesture.current = { kind: 'pan', startX: p.x, startY: p.y, view };
    } else if (e.button === 0 && painting) {
      const c = toCanvas(view, p.x, p.y);
      const at = [Math.round(c.x * 100) / 100, Math.round(c.y * 100) / 100];
      const op: Extract<MaskOp, { kind: 'stroke' }> = { kind: 'stroke', tool, size: brushSize, hardness, points: at };
      gesture.current = { kind: 'paint', op };
      if (raster.current) paint(applyStroke(raster.current.mask, op));
    } else {
      return;
    }
    e.currentTarget.setPointerCapture(e.pointerId);
  };

  const onPointerMove = (e: ReactPointerEvent<HTMLDivElement>) => {
    const p = local(e);
    setPointer(p);
    const g = gesture.current;
    if (!g) return;
    if (g.kind === 'pan') {
      onViewChange({ ...g.view, x: g.view.x + p.x - g.startX, y: g.view.y + p.y - g.startY });
      return;
    }
    const c = toCanvas(view, p.x, p.y);
    const pts = g.op.points;
    const x = Math.round(c.x * 100) / 100;
    const y = Math.round(c.y * 100) / 100;
    if (x === pts[pts.length - 2] && y === pts[pts.length - 1]) return;
    const segment = { ...g.op, points: [pts[pts.length - 2], pts[pts.length - 1], x, y] };
    pts.push(x, y);
    if (raster.current) paint(applyStroke(raster.current.mask, segment));
  };

  const finish = () => {
    const g = gesture.current;
    gesture.current = null;
    if (g?.kind === 'paint') dispatch(maskOpAdded({ tab, op: g.op }));
  };

  const cursor = spaceHeld || tool === 'hand' || gesture.current?.kind === 'pan' ? 'grab' : painting ? 'none' : 'default';
  const radius = (brushSize / 2) * view.scale;

  return (
    <div
      ref={viewport}
      className="canvas-stage"
      style={{ cursor }}
      onPointerDown={onPointerDown}
      onPointerMove={onPointerMove}
      onPointerUp={finish}
      onPointerCancel={finish}
      onPointerLeave={() => setPointer(null)}
      onAuxClick={(e) => e.preventDefault()}
      data-testid={`${tab}-stage`}
      data-scale={view.scale}
      data-view={`${view.x},${view.y}`}
    >
      <div
        className={`canvas-stage__world ${view.scale >= 2 ? 'canvas-stage__world--pixelated' : ''}`}
        style={{ width, height, transform: `translate(${view.x}px, ${view.y}px) scale(${view.scale})` }}
      >
        <div className="canvas-stage__backdrop checkerboard" />
        <canvas
          ref={layerRef}
          width={width}
          height={height}
          className="canvas-stage__layer"
          data-testid={`${tab}-image-layer`}
          data-drawn={drawn === signature ? String(items.length) : 'pending'}
        />
        {layers}
        <canvas
          ref={setOverlayCanvas}
          width={width}
          height={height}
          className="canvas-stage__layer canvas-stage__mask"
          style={{ visibility: isMaskVisible ? 'visible' : 'hidden' }}
          data-testid={`${tab}-mask-layer`}
          data-strokes={ops.length}
          aria-hidden="true"
        />
      </div>
      {overlay?.(view)}
      {painting && pointer && !spaceHeld && (
        <div
          className={`brush-cursor brush-cursor--${tool}`}
          style={{ left: pointer.x - radius, top: pointer.y - radius, width: radius * 2, height: radius * 2 }}
        />
      )}
    </div>
  );
}
