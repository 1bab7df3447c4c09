/** The face-restore and upscale fields, one component each, for the options panel, the image's popovers and the Postprocessing tab. */
import type { FacetoolType, Postprocessors } from '../../app/protocol';
import { NumberField, SelectField } from '../../common/components/Fields';
import { useAppSelector } from '../../app/hooks';
import { selectLimits } from '../system/limits';
import { postprocessorAvailability } from '../system/systemSlice';

export const POSTPROCESS_TOOLTIPS = {
  facetoolType: 'Which face restorer to use: GFPGAN, or CodeFormer (which has a fidelity setting).',
  faceStrength: 'Strength of face restoration, 0 to 1. High values can soften the face to an airbrushed look; 0.8 is usually enough.',
  fidelity: 'CodeFormer fidelity: higher values stay closer to the original face, lower values give a stronger restoration.',
  upscaleLevel: 'Upscale factor: 2x or 4x the width and height.',
  upscaleStrength: 'Strength of upscaling, 0 to 1: how much the upscaled image replaces a plain resize.',
} as const;

export interface FaceValues {
  type: FacetoolType;
  strength: number;
  fidelity: number;
}

export interface UpscaleValues {
  level: 2 | 4;
  strength: number;
}

interface FieldsProps<V> {
  value: V;
  onChange: (change: Partial<V>) => void;
  /** Off (its section is switched off, or the server cannot run it). */
  disabled?: boolean;
  /** Prefixes each field's test id: '' (options panel), 'popover-', 'pp-' (Postprocessing tab). */
  testIdPrefix?: string;
  inline?: boolean;
}

/** Why no face restorer can run, or null when one can. */
export function faceRestoreProblem(postprocessors: Postprocessors | undefined): string | null {
  const gfpgan = postprocessorAvailability(postprocessors, 'gfpgan');
  const codeformer = postprocessorAvailability(postprocessors, 'codeformer');
  return !gfpgan.available && !codeformer.available ? `Face restoration is unavailable: ${gfpgan.reason}` : null;
}

export function FaceRestoreFields({ value, onChange, disabled = false, testIdPrefix = '', inline = false }: FieldsProps<FaceValues>) {
  const postprocessors = useAppSelector((s) => s.system.config?.postprocessors);
  const limits = useAppSelector(selectLimits);
  const gfpgan = postprocessorAvailability(postprocessors, 'gfpgan');
  const codeformer = postprocessorAvailability(postprocessors, 'codeformer');
  const chosen = value.type === 'gfpgan' ? gfpgan : codeformer;
  const off = disabled || faceRestoreProblem(postprocessors) !== null;
  return (
    <>
      <SelectField<FacetoolType>
        label="Type"
        tooltip={POSTPROCESS_TOOLTIPS.facetoolType}
        value={value.type}
        options={[
          { value: 'gfpgan', label: gfpgan.available ? 'GFPGAN' : 'GFPGAN (unavailable)', disabled: !gfpgan.available },
          { value: 'codeformer', label: codeformer.available ? 'CodeFormer' : 'CodeFormer (unavailable)', disabled: !codeformer.available },
        ]}
        onChange={(type) => onChange({ type })}
        disabled={off}
        testId={`${testIdPrefix}facetool-type`}
        inline={inline}
      />
      {!chosen.available && !off && <p className="section__reason">{chosen.reason}</p>}
      <NumberField
        label="Strength"
        tooltip={POSTPROCESS_TOOLTIPS.faceStrength}
        value={value.strength}
        min={limits.facetool_strength.min}
        max={limits.facetool_strength.max}
        step={0.05}
        slider
        disabled={off}
        onChange={(strength) => onChange({ strength })}
        testId={`${testIdPrefix}facetool-strength`}
      />
      {value.type === 'codeformer' && (
        <NumberField
          label="Fidelity"
          tooltip={POSTPROCESS_TOOLTIPS.fidelity}
          value={value.fidelity}
          min={limits.codeformer_fidelity.min}
          max={limits.codeformer_fidelity.max}
          step={0.05}
          slider
          disabled={off}
          onChange={(fidelity) => onChange({ fidelity })}
          testId={`${testIdPrefix}codeformer-fidelity`}
        />
      )}
    </>
  );
}

export function UpscaleFields({ value, onChange, disabled = false, testIdPrefix = '', inline = false }: FieldsProps<UpscaleValues>) {
  const postprocessors = useAppSelector((s) => s.system.config?.postprocessors);
  const limits = useAppSelector(selectLimits);
  const esrgan = postprocessorAvailability(postprocessors, 'esrgan');
  const off = disabled || !esrgan.available;
  return (
    <>
      <SelectField<2 | 4>
        label="Scale"
        tooltip={POSTPROCESS_TOOLTIPS.upscaleLevel}
        value={value.level}
        options={[
          { value: 2, label: '2x', disabled: !esrgan.scales.includes(2) },
          { value: 4, label: '4x', disabled: !esrgan.scales.includes(4) },
        ]}
        onChange={(level) => onChange({ level })}
        disabled={off}
        testId={`${testIdPrefix}upscale-level`}
        inline={inline}
      />
      <NumberField
        label="Strength"
        tooltip={POSTPROCESS_TOOLTIPS.upscaleStrength}
        value={value.strength}
        min={limits.upscale_strength.min}
        max={limits.upscale_strength.max}
        step={0.05}
        slider
        disabled={off}
        onChange={(strength) => onChange({ strength })}
        testId={`${testIdPrefix}upscale-strength`}
      />
    </>
  );
}
