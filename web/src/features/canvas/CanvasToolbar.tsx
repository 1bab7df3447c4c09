/** The canvas tabs' toolbar pieces: tools, brush settings, mask actions and zoom, plus their shortcuts. */
import { useEffect, useId } from 'react';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { IconButton } from '../../common/components/IconButton';
import { Tooltip } from '../../common/components/Tooltip';
import { findHotkey } from '../tabs/hotkeys';
import {
  brushSizeChanged,
  hardnessChanged,
  maskOpAdded,
  maskRedone,
  maskUndone,
  maskVisibilityToggled,
  toolSelected,
  type CanvasTab,
  type CanvasTool,
} from './canvasSlice';
import { zoomAt, type ViewTransform } from './geometry';
import {
  BoxIcon,
  BrushIcon,
  EraseAllIcon,
  EraserIcon,
  EyeIcon,
  EyeOffIcon,
  FitIcon,
  HandIcon,
  InvertIcon,
  RedoIcon,
  UndoIcon,
  ZoomInIcon,
  ZoomOutIcon,
} from './icons';

const TOOLS: ReadonlyArray<{ id: CanvasTool; label: string; tooltip: string; icon: typeof BrushIcon; canvasOnly?: boolean }> = [
  { id: 'brush', label: 'Mask brush', tooltip: 'Brush (B): paint the mask over what should be regenerated.', icon: BrushIcon },
  { id: 'eraser', label: 'Mask eraser', tooltip: 'Eraser (E): remove mask paint.', icon: EraserIcon },
  { id: 'hand', label: 'Pan', tooltip: 'Hand (H): drag to pan. Space+drag or the middle button pans with any tool.', icon: HandIcon },
  {
    id: 'box',
    label: 'Bounding box',
    tooltip: 'Bounding box (V): drag the box to move it, its corner to resize it. Invoke works inside the box.',
    icon: BoxIcon,
    canvasOnly: true,
  },
];

export function ToolButtons({ tab }: { tab: CanvasTab }) {
  const dispatch = useAppDispatch();
  const tool = useAppSelector((s) => s.canvas.tool);
  return (
    <div className="canvas-toolbar__group" role="group" aria-label="Tools">
      {TOOLS.filter((t) => tab === 'canvas' || !t.canvasOnly).map((t) => (
        <IconButton
          key={t.id}
          label={t.label}
          tooltip={t.tooltip}
          icon={<t.icon />}
          variant={tool === t.id ? 'accent' : 'solid'}
          aria-pressed={tool === t.id}
          onClick={() => dispatch(toolSelected(t.id))}
          data-testid={`tool-${t.id}`}
        />
      ))}
    </div>
  );
}

function ToolbarSlider(props: {
  label: string;
  tooltip: string;
  value: number;
  min: number;
  max: number;
  step: number;
  format: (v: number) => string;
  onChange: (v: number) => void;
  testId: string;
}) {
  const id = useId();
  return (
    <Tooltip label={props.tooltip}>
      <div className="toolbar-slider">
        <label htmlFor={id}>{props.label}</label>
        <input
          id={id}
          type="range"
          min={props.min}
          max={props.max}
          step={props.step}
          value={props.value}
          onChange={(e) => props.onChange(Number(e.target.value))}
          data-testid={props.testId}
        />
        <output htmlFor={id}>{props.format(props.value)}</output>
      </div>
    </Tooltip>
  );
}

export function BrushSettings() {
  const dispatch = useAppDispatch();
  const size = useAppSelector((s) => s.canvas.brushSize);
  const hardness = useAppSelector((s) => s.canvas.hardness);
  return (
    <div className="canvas-toolbar__group">
      <ToolbarSlider label="Size" tooltip="Brush size in image pixels ([ and ] change it)." value={size} min={1} max={256} step={1} format={(v) => `${v}px`} onChange={(v) => dispatch(brushSizeChanged(v))} testId="brush-size" />
      <ToolbarSlider label="Hardness" tooltip="Brush hardness: 100% gives a crisp edge, lower values a soft, feathered edge." value={hardness} min={0} max={1} step={0.05} format={(v) => `${Math.round(v * 100)}%`} onChange={(v) => dispatch(hardnessChanged(v))} testId="brush-hardness" />
    </div>
  );
}

export function MaskButtons({ tab }: { tab: CanvasTab }) {
  const dispatch = useAppDispatch();
  // The Unified Canvas undoes strokes and placed images in one order; Inpainting has only its mask.
  const history = useAppSelector((s) => (tab === 'canvas' ? s.canvas.canvasOrder : s.canvas.masks[tab]));
  const visible = useAppSelector((s) => s.canvas.isMaskVisible);
  return (
    <div className="canvas-toolbar__group" role="group" aria-label="Mask">
      <IconButton label="Undo" tooltip={tab === 'canvas' ? 'Undo the last change: a mask stroke, or an image placed or accepted (Ctrl+Z).' : 'Undo the last mask change (Ctrl+Z).'} icon={<UndoIcon />} disabled={history.past.length === 0} onClick={() => dispatch(maskUndone(tab))} data-testid="mask-undo" />
      <IconButton label="Redo" tooltip="Redo (Ctrl+Shift+Z)." icon={<RedoIcon />} disabled={history.future.length === 0} onClick={() => dispatch(maskRedone(tab))} data-testid="mask-redo" />
      <IconButton label="Invert mask" tooltip="Invert the mask: painted becomes kept and kept becomes painted (Shift+M)." icon={<InvertIcon />} onClick={() => dispatch(maskOpAdded({ tab, op: { kind: 'invert' } }))} data-testid="mask-invert" />
      <IconButton label="Clear mask" tooltip="Clear the mask (Shift+C). Undo brings it back." icon={<EraseAllIcon />} disabled={history.past.length === 0} onClick={() => dispatch(maskOpAdded({ tab, op: { kind: 'clear' } }))} data-testid="mask-clear" />
      <IconButton label={visible ? 'Hide mask' : 'Show mask'} tooltip="Show or hide the mask (M). Hidden, it still applies." icon={visible ? <EyeIcon /> : <EyeOffIcon />} aria-pressed={!visible} onClick={() => dispatch(maskVisibilityToggled(undefined))} data-testid="mask-toggle" />
    </div>
  );
}

export function ZoomButtons({ view, onViewChange, onFit, viewport }: {
  view: ViewTransform;
  onViewChange: (v: ViewTransform) => void;
  onFit: () => void;
  viewport: { width: number; height: number };
}) {
  const zoom = (factor: number) => onViewChange(zoomAt(view, factor, viewport.width / 2, viewport.height / 2));
  return (
    <div className="canvas-toolbar__group" role="group" aria-label="Zoom">
      <IconButton label="Zoom out" tooltip="Zoom out (or scroll the wheel)." icon={<ZoomOutIcon />} onClick={() => zoom(1 / 1.25)} data-testid="zoom-out" />
      <Tooltip label="Zoom level. Click for 100%.">
        <button type="button" className="button button--small zoom-level" onClick={() => zoom(1 / view.scale)} data-testid="zoom-level">
          {Math.round(view.scale * 100)}%
        </button>
      </Tooltip>
      <IconButton label="Zoom in" tooltip="Zoom in (or scroll the wheel)." icon={<ZoomInIcon />} onClick={() => zoom(1.25)} data-testid="zoom-in" />
      <IconButton label="Fit" tooltip="Fit the view to the window." icon={<FitIcon />} onClick={onFit} data-testid="zoom-fit" />
    </div>
  );
}

/** The canvas shortcuts (listed in the shortcuts help), active while a canvas tab is shown. */
export function useCanvasHotkeys(tab: CanvasTab) {
  const dispatch = useAppDispatch();
  const brushSize = useAppSelector((s) => s.canvas.brushSize);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const hotkey = findHotkey(e);
      if (!hotkey || document.querySelector('[role="dialog"][aria-modal="true"]')) return;
      switch (hotkey.action) {
        case 'maskUndo':
          dispatch(maskUndone(tab));
          break;
        case 'maskRedo':
          dispatch(maskRedone(tab));
          break;
        case 'brushTool':
          dispatch(toolSelected('brush'));
          break;
        case 'eraserTool':
          dispatch(toolSelected('eraser'));
          break;
        case 'handTool':
          dispatch(toolSelected('hand'));
          break;
        case 'boxTool':
          if (tab === 'canvas') dispatch(toolSelected('box'));
          break;
        case 'toggleMask':
          dispatch(maskVisibilityToggled(undefined));
          break;
        case 'clearMask':
          dispatch(maskOpAdded({ tab, op: { kind: 'clear' } }));
          break;
        case 'invertMask':
          dispatch(maskOpAdded({ tab, op: { kind: 'invert' } }));
          break;
        case 'brushSmaller':
          dispatch(brushSizeChanged(brushSize / 1.2));
          break;
        case 'brushLarger':
          dispatch(brushSizeChanged(Math.max(brushSize + 1, brushSize * 1.2)));
          break;
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [dispatch, tab, brushSize]);
}
