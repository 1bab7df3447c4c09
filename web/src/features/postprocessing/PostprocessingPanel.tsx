/** The Postprocessing tab's control panel: Upscale and/or Restore Faces, and Run on the selected images. */
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import type { FacetoolType } from '../../app/protocol';
import { NumberField, Section, SelectField } from '../../common/components/Fields';
import { CancelIcon, SparkIcon } from '../../common/components/Icons';
import { cancelProcessing } from '../../app/socketio/actions';
import { Tooltip } from '../../common/components/Tooltip';
import { QueuePanel } from '../queue/QueuePanel';
import { postprocessorAvailability } from '../system/systemSlice';
import { selectSelectedImages } from '../gallery/gallerySlice';
import { postprocessingSettingChanged } from './postprocessingSlice';
import { runBlocker, runPostprocessingOnSelection } from './postprocessingThunks';
import './postprocessing.css';

export const POSTPROCESSING_TOOLTIPS = {
  run: 'Run: send one postprocessing job per selected image. The jobs wait in the queue and their results appear in the gallery (Ctrl+Enter).',
  upscale: 'Upscale: enlarge each image 2x or 4x with Real-ESRGAN while keeping it sharp.',
  level: 'Upscale factor: 2x or 4x the width and height.',
  upscaleStrength: 'Strength of upscaling, 0 to 1: how much the upscaled image replaces a plain resize.',
  faces: 'Restore Faces: fix mangled faces and eyes with GFPGAN or CodeFormer. With Upscale on, faces are restored after upscaling, in the same job.',
  facetoolType: 'Which face restorer to use: GFPGAN, or CodeFormer (which has a fidelity setting).',
  faceStrength: 'Strength of face restoration, 0 to 1. High values can soften the face to an airbrushed look; 0.8 is usually enough.',
  fidelity: 'CodeFormer fidelity: higher values stay closer to the original face, lower values give a stronger restoration.',
} as const;

export function PostprocessingPanel() {
  const dispatch = useAppDispatch();
  const settings = useAppSelector((s) => s.postprocessing.settings);
  const postprocessors = useAppSelector((s) => s.system.config?.postprocessors);
  const count = useAppSelector((s) => selectSelectedImages(s).length);
  const blocker = useAppSelector(runBlocker);
  const isProcessing = useAppSelector((s) => s.system.isProcessing);
  const esrgan = postprocessorAvailability(postprocessors, 'esrgan');
  const gfpgan = postprocessorAvailability(postprocessors, 'gfpgan');
  const codeformer = postprocessorAvailability(postprocessors, 'codeformer');
  const facesReason = !gfpgan.available && !codeformer.available ? `Face restoration is unavailable: ${gfpgan.reason}` : null;
  const chosenFace = settings.facetoolType === 'gfpgan' ? gfpgan : codeformer;
  const set = (change: Parameters<typeof postprocessingSettingChanged>[0]) => dispatch(postprocessingSettingChanged(change));
  return (
    <div className="options-panel postprocessing-panel" data-testid="postprocessing-panel">
      <div className="invoke-row">
        <Tooltip label={blocker ?? POSTPROCESSING_TOOLTIPS.run} block>
          <button type="button" className="invoke-button" data-testid="run-postprocessing" disabled={blocker !== null} onClick={() => dispatch(runPostprocessingOnSelection())}>
            <SparkIcon size={18} />
            <span>{count > 1 ? `Run on ${count} images` : count === 1 ? 'Run on 1 image' : 'Run'}</span>
          </button>
        </Tooltip>
        <Tooltip label="Cancel the running job (the others stay queued; cancel them in the queue).">
          <button type="button" className="cancel-button" aria-label="Cancel" data-testid="cancel" disabled={!isProcessing} onClick={() => dispatch(cancelProcessing(undefined))}>
            <CancelIcon size={20} />
          </button>
        </Tooltip>
      </div>
      {blocker && (
        <p className="postprocessing-panel__hint" data-testid="run-blocker">
          {blocker}
        </p>
      )}
      <QueuePanel />
      <div className="sections">
        <Section
          title="Upscale"
          tooltip={POSTPROCESSING_TOOLTIPS.upscale}
          enabled={settings.upscale}
          onEnabledChange={(v) => set({ upscale: v })}
          disabledReason={esrgan.available ? null : `Upscaling is unavailable: ${esrgan.reason}`}
          testId="pp-section-upscale"
        >
          <SelectField<2 | 4>
            label="Scale"
            tooltip={POSTPROCESSING_TOOLTIPS.level}
            value={settings.level}
            options={[
              { value: 2, label: '2x', disabled: !esrgan.scales.includes(2) },
              { value: 4, label: '4x', disabled: !esrgan.scales.includes(4) },
            ]}
            onChange={(v) => set({ level: v })}
            disabled={!settings.upscale || !esrgan.available}
            testId="pp-upscale-level"
            inline
          />
          <NumberField label="Strength" tooltip={POSTPROCESSING_TOOLTIPS.upscaleStrength} value={settings.upscaleStrength} min={0} max={1} step={0.05} slider disabled={!settings.upscale || !esrgan.available} onChange={(v) => set({ upscaleStrength: v })} testId="pp-upscale-strength" />
        </Section>
        <Section
          title="Restore Faces"
          tooltip={POSTPROCESSING_TOOLTIPS.faces}
          enabled={settings.faces}
          onEnabledChange={(v) => set({ faces: v })}
          disabledReason={facesReason}
          testId="pp-section-faces"
        >
          <SelectField<FacetoolType>
            label="Type"
            tooltip={POSTPROCESSING_TOOLTIPS.facetoolType}
            value={settings.facetoolType}
            options={[
              { value: 'gfpgan', label: gfpgan.available ? 'GFPGAN' : 'GFPGAN (unavailable)', disabled: !gfpgan.available },
              { value: 'codeformer', label: codeformer.available ? 'CodeFormer' : 'CodeFormer (unavailable)', disabled: !codeformer.available },
            ]}
            onChange={(v) => set({ facetoolType: v })}
            disabled={!settings.faces || facesReason !== null}
            testId="pp-facetool-type"
            inline
          />
          {!chosenFace.available && facesReason === null && <p className="section__reason">{chosenFace.reason}</p>}
          <NumberField label="Strength" tooltip={POSTPROCESSING_TOOLTIPS.faceStrength} value={settings.faceStrength} min={0} max={1} step={0.05} slider disabled={!settings.faces || facesReason !== null} onChange={(v) => set({ faceStrength: v })} testId="pp-facetool-strength" />
          {settings.facetoolType === 'codeformer' && (
            <NumberField label="Fidelity" tooltip={POSTPROCESSING_TOOLTIPS.fidelity} value={settings.codeformerFidelity} min={0} max={1} step={0.05} slider disabled={!settings.faces || facesReason !== null} onChange={(v) => set({ codeformerFidelity: v })} testId="pp-codeformer-fidelity" />
          )}
        </Section>
      </div>
    </div>
  );
}
