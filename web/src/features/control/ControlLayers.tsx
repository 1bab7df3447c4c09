/** The Unified Canvas's control layers: each placed unit's control picture, semi-transparent, where it lies,
 * and the handles that drag a layer to another place (what lies under the box is the unit's picture). */
import { useRef, type KeyboardEvent, type PointerEvent as ReactPointerEvent } from 'react';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { Tooltip } from '../../common/components/Tooltip';
import type { ViewTransform } from '../canvas/geometry';
import { unitPlacedOnCanvas, type ControlUnit } from './controlSlice';

/** Arrow keys move a layer by 1 canvas pixel, with Shift by this many. */
export const LAYER_NUDGE_FAST = 8;

/** Where a layer dragged from `start` lies after the pointer moved (dx, dy) screen pixels at `scale`:
 * whole canvas pixels, so the region cut under the box is the picture's own pixels. */
export function draggedPlacement(start: { x: number; y: number }, dx: number, dy: number, scale: number): { x: number; y: number } {
  const s = scale > 0 ? scale : 1;
  return { x: start.x + Math.round(dx / s), y: start.y + Math.round(dy / s) };
}

const placedUnits = (units: readonly ControlUnit[]) => units.filter((u) => u.onCanvas && u.image);

export function ControlLayers() {
  const units = useAppSelector((s) => s.control.units);
  const visible = useAppSelector((s) => s.control.isLayerVisible);
  const enabled = useAppSelector((s) => s.control.enabled);
  const placed = placedUnits(units);
  if (placed.length === 0) return null;
  return (
    <div className="control-layers" style={{ visibility: visible && enabled ? 'visible' : 'hidden' }} data-testid="control-layers" data-count={placed.length}>
      {placed.map((u) => (
        <img
          key={u.id}
          className="control-layers__picture"
          src={u.image?.url}
          alt=""
          draggable={false}
          style={{ left: u.onCanvas?.x, top: u.onCanvas?.y, width: u.image?.width, height: u.image?.height }}
          data-testid="control-layer"
          data-url={u.image?.url}
          data-at={`${u.onCanvas?.x},${u.onCanvas?.y}`}
        />
      ))}
    </div>
  );
}

function LayerHandle({ unit, index, view }: { unit: ControlUnit; index: number; view: ViewTransform }) {
  const dispatch = useAppDispatch();
  const drag = useRef<{ x: number; y: number; at: { x: number; y: number } } | null>(null);
  const at = unit.onCanvas ?? { x: 0, y: 0 };
  const moveTo = (next: { x: number; y: number }) => dispatch(unitPlacedOnCanvas({ id: unit.id, at: next }));
  const down = (e: ReactPointerEvent<HTMLButtonElement>) => {
    if (e.button !== 0) return;
    e.stopPropagation(); // the stage would pan or paint
    e.preventDefault();
    drag.current = { x: e.clientX, y: e.clientY, at };
    e.currentTarget.setPointerCapture(e.pointerId);
  };
  const move = (e: ReactPointerEvent) => {
    const d = drag.current;
    if (!d) return;
    e.stopPropagation();
    const next = draggedPlacement(d.at, e.clientX - d.x, e.clientY - d.y, view.scale);
    if (next.x !== at.x || next.y !== at.y) moveTo(next);
  };
  const end = (e: ReactPointerEvent) => {
    if (!drag.current) return;
    e.stopPropagation();
    drag.current = null;
  };
  const key = (e: KeyboardEvent) => {
    const step = e.shiftKey ? LAYER_NUDGE_FAST : 1;
    const by = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[e.key];
    if (!by) return;
    e.preventDefault();
    e.stopPropagation();
    moveTo({ x: at.x + by[0], y: at.y + by[1] });
  };
  return (
    <Tooltip label={`Drag to move control unit ${index + 1}'s picture on the canvas (arrow keys: 1 px, Shift: ${LAYER_NUDGE_FAST} px). Invoke uses the part under the box.`}>
      <button
        type="button"
        className="control-layer-handle"
        style={{ left: at.x * view.scale + view.x, top: at.y * view.scale + view.y }}
        aria-label={`Move the control layer of unit ${index + 1}`}
        onPointerDown={down}
        onPointerMove={move}
        onPointerUp={end}
        onPointerCancel={end}
        onKeyDown={key}
        data-testid={`control-layer-handle-${index}`}
      >
        {index + 1}
      </button>
    </Tooltip>
  );
}

/** In screen space over the canvas: one drag handle at the top-left corner of each shown control layer. */
export function ControlLayerHandles({ view }: { view: ViewTransform }) {
  const units = useAppSelector((s) => s.control.units);
  const visible = useAppSelector((s) => s.control.isLayerVisible && s.control.enabled);
  if (!visible) return null;
  return (
    <>
      {units.map((u, i) => (u.onCanvas && u.image ? <LayerHandle key={u.id} unit={u} index={i} view={view} /> : null))}
    </>
  );
}
