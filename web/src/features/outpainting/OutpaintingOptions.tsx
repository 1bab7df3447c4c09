/** The Outpainting tab's controls in the control panel: pixels to add per side, strength, seam size, replace. */
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { NumberField } from '../../common/components/Fields';
import { Tooltip } from '../../common/components/Tooltip';
import {
  EXTENSION_MAX,
  EXTENSION_PRESETS,
  EXTENSION_STEP,
  SIDES,
  planOutpaint,
  snapExtension,
  type Side,
} from './geometry';
import { extensionReset, extensionSet, outpaintSettingChanged } from './outpaintingSlice';
import { selectLimits } from '../system/limits';
import './outpainting.css';

export const OUTPAINT_TOOLTIPS = {
  side: (side: Side) =>
    `Pixels to add on the ${side} (a multiple of 8, up to ${EXTENSION_MAX}). You can also drag the handle on that edge of the picture.`,
  preset: (px: number) => `Add ${px} px on every side.`,
  reset: 'Add nothing: clear all four sides.',
  strength:
    'Strength: how much the new area is reworked, 0 to 1. Only the transparent new area is regenerated (the original is restored at every step), so 1 (start the new area from pure noise) is the usual choice; lower values keep more of the colours spread in from the picture\'s edge.',
  seamSize:
    'Seam Size: how far (px) into the original the new pixels are blended, so no hard edge shows. Pixels farther than this from the new area stay exactly as they were.',
  inpaintReplace:
    'Replace: how much of the new area\'s starting point is swapped for plain noise before generating (0 to 1). Matters only when Strength is below 1.',
} as const;

const SIDE_LABEL: Record<Side, string> = { top: 'Top', right: 'Right', bottom: 'Bottom', left: 'Left' };

export function OutpaintingOptions() {
  const dispatch = useAppDispatch();
  const extension = useAppSelector((s) => s.outpainting.extension);
  const source = useAppSelector((s) => s.outpainting.source);
  const strength = useAppSelector((s) => s.outpainting.strength);
  const seamSize = useAppSelector((s) => s.outpainting.seamSize);
  const seamMax = useAppSelector(selectLimits).seam_size.max;
  const inpaintReplace = useAppSelector((s) => s.outpainting.inpaintReplace);
  const plan = source ? planOutpaint(source.width, source.height, extension) : null;
  return (
    <div className="outpaint-options" data-testid="outpaint-options">
      <div className="outpaint-options__heading">
        <span>Extend by (px)</span>
        {plan && (
          <span className="outpaint-options__size" data-testid="outpaint-size">
            {source?.width}×{source?.height} → {plan.width}×{plan.height}
          </span>
        )}
      </div>
      <div className="outpaint-options__sides">
        {SIDES.map((side) => (
          <NumberField
            key={side}
            label={SIDE_LABEL[side]}
            tooltip={OUTPAINT_TOOLTIPS.side(side)}
            value={extension[side]}
            min={0}
            max={EXTENSION_MAX}
            step={EXTENSION_STEP}
            normalize={snapExtension}
            onChange={(px) => dispatch(extensionSet({ side, px }))}
            testId={`outpaint-${side}`}
          />
        ))}
      </div>
      <div className="outpaint-options__presets" role="group" aria-label="Extend every side">
        {EXTENSION_PRESETS.map((px) => (
          <Tooltip key={px} label={OUTPAINT_TOOLTIPS.preset(px)}>
            <button
              type="button"
              className="button button--small"
              data-testid={`outpaint-preset-${px}`}
              onClick={() => SIDES.forEach((side) => dispatch(extensionSet({ side, px })))}
            >
              +{px} all
            </button>
          </Tooltip>
        ))}
        <Tooltip label={OUTPAINT_TOOLTIPS.reset}>
          <button type="button" className="button button--small" data-testid="outpaint-reset" onClick={() => dispatch(extensionReset())}>
            Reset
          </button>
        </Tooltip>
      </div>
      <NumberField label="Strength" tooltip={OUTPAINT_TOOLTIPS.strength} value={strength} min={0} max={1} step={0.01} slider onChange={(v) => dispatch(outpaintSettingChanged({ strength: v }))} testId="outpaint-strength" />
      <NumberField label="Seam Size" tooltip={OUTPAINT_TOOLTIPS.seamSize} value={seamSize} min={0} max={seamMax} step={1} normalize={Math.round} slider onChange={(v) => dispatch(outpaintSettingChanged({ seamSize: v }))} testId="seam-size" />
      <NumberField label="Replace" tooltip={OUTPAINT_TOOLTIPS.inpaintReplace} value={inpaintReplace} min={0} max={1} step={0.01} slider onChange={(v) => dispatch(outpaintSettingChanged({ inpaintReplace: v }))} testId="inpaint-replace" />
    </div>
  );
}
