/** The Postprocessing tab's control panel: Upscale and/or Restore Faces, and Run on the selected images. */
import { useEffect } from 'react';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { Section } from '../../common/components/Fields';
import { CancelIcon, SparkIcon } from '../../common/components/Icons';
import { cancelProcessing } from '../../app/socketio/actions';
import { Tooltip } from '../../common/components/Tooltip';
import { QueuePanel } from '../queue/QueuePanel';
import { upscaleUnavailableReason } from '../system/systemSlice';
import { selectModeToggled, selectSelectedImages } from '../gallery/gallerySlice';
import { postprocessingSettingChanged } from './postprocessingSlice';
import { FaceRestoreFields, faceRestoreProblem, UpscaleFields } from './PostprocessFields';
import { runBlocker, runPostprocessingOnSelection } from './postprocessingThunks';
import './postprocessing.css';

export const POSTPROCESSING_TOOLTIPS = {
  run: 'Run: send one postprocessing job per selected image. The jobs wait in the queue and their results appear in the gallery (Ctrl+Enter).',
  upscale: 'Upscale: enlarge each image 2x or 4x with Real-ESRGAN while keeping it sharp.',
  faces: 'Restore Faces: fix mangled faces and eyes with GFPGAN or CodeFormer. With Upscale on, faces are restored after upscaling, in the same job.',
} as const;

export function PostprocessingPanel() {
  const dispatch = useAppDispatch();
  const settings = useAppSelector((s) => s.postprocessing.settings);
  const postprocessors = useAppSelector((s) => s.system.config?.postprocessors);
  const count = useAppSelector((s) => selectSelectedImages(s).length);
  const blocker = useAppSelector(runBlocker);
  const isProcessing = useAppSelector((s) => s.system.isProcessing);
  const facesReason = faceRestoreProblem(postprocessors);
  // Select mode is for picking the images to postprocess: leaving the tab ends it, so that a tap on
  // a thumbnail elsewhere shows the image again.
  useEffect(
    () => () => {
      dispatch(selectModeToggled(false));
    },
    [dispatch],
  );
  // The fields name only what changed; a name they leave out must not reach the settings as undefined.
  const set = (change: Parameters<typeof postprocessingSettingChanged>[0]) =>
    dispatch(postprocessingSettingChanged(Object.fromEntries(Object.entries(change).filter(([, v]) => v !== undefined))));
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
          disabledReason={upscaleUnavailableReason(postprocessors, settings.level)}
          testId="pp-section-upscale"
        >
          <UpscaleFields value={{ level: settings.level, strength: settings.upscaleStrength }} onChange={({ level, strength }) => set({ level, upscaleStrength: strength })} disabled={!settings.upscale} testIdPrefix="pp-" inline />
        </Section>
        <Section
          title="Restore Faces"
          tooltip={POSTPROCESSING_TOOLTIPS.faces}
          enabled={settings.faces}
          onEnabledChange={(v) => set({ faces: v })}
          disabledReason={facesReason}
          testId="pp-section-faces"
        >
          <FaceRestoreFields
            value={{ type: settings.facetoolType, strength: settings.faceStrength, fidelity: settings.codeformerFidelity }}
            onChange={({ type, strength, fidelity }) => set({ facetoolType: type, faceStrength: strength, codeformerFidelity: fidelity })}
            disabled={!settings.faces}
            testIdPrefix="pp-"
            inline
          />
        </Section>
      </div>
    </div>
  );
}
