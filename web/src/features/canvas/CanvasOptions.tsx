/** The control panel's part for the canvas tabs: strength, inpaint replace and seam size. */
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { NumberField } from '../../common/components/Fields';
import { setOption } from '../options/optionsSlice';
import { inpaintReplaceChanged, seamSizeChanged } from './canvasSlice';
import { selectLimits } from '../system/limits';

export const CANVAS_TOOLTIPS = {
  strength:
    'Strength: how much of the masked (or boxed) pixels the AI replaces, 0 to 0.99. Higher values follow the prompt more and the old pixels less.',
  inpaintReplace:
    'Inpaint Replace: 0 keeps the masked pixels as a starting point; 1 replaces them with noise first, so nothing of the old content survives.',
  seamSize:
    'Seam Size: how far (in pixels) outside the mask the new pixels are blended into the old ones. Pixels beyond it stay exactly as they were.',
} as const;

export function CanvasOptions() {
  const dispatch = useAppDispatch();
  const strength = useAppSelector((s) => s.options.img2imgStrength);
  const inpaintReplace = useAppSelector((s) => s.canvas.inpaintReplace);
  const seamSize = useAppSelector((s) => s.canvas.seamSize);
  const seamMax = useAppSelector(selectLimits).seam_size.max;
  return (
    <div className="img2img-options canvas-options" data-testid="canvas-options">
      <NumberField label="Strength" tooltip={CANVAS_TOOLTIPS.strength} value={strength} min={0} max={0.99} step={0.01} slider onChange={(v) => dispatch(setOption('img2imgStrength', v))} testId="canvas-strength" />
      <NumberField label="Inpaint Replace" tooltip={CANVAS_TOOLTIPS.inpaintReplace} value={inpaintReplace} min={0} max={1} step={0.05} slider onChange={(v) => dispatch(inpaintReplaceChanged(v))} testId="inpaint-replace" />
      <NumberField label="Seam Size" tooltip={CANVAS_TOOLTIPS.seamSize} value={seamSize} min={0} max={seamMax} step={1} normalize={Math.round} slider onChange={(v) => dispatch(seamSizeChanged(v))} testId="seam-size" />
    </div>
  );
}
