/** The control panel: prompt, Invoke, the main parameters and the Advanced Options sections. */
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { cancelProcessing } from '../../app/socketio/actions';
import { invoke } from '../tabs/invoke';
import { NumberField, Section, SelectField, SwitchField } from '../../common/components/Fields';
import { CancelIcon, ShuffleIcon, SparkIcon } from '../../common/components/Icons';
import { Tooltip } from '../../common/components/Tooltip';
import { invokeBlocker, parseSeedWeights, randomSeed } from '../../common/util/parameterTranslation';
import { upscaleUnavailableReason } from '../system/systemSlice';
import { selectLimits, selectSamplers } from '../system/limits';
import { QueuePanel } from '../queue/QueuePanel';
import { WorkersPanel } from '../workers/WorkersPanel';
import { OutpaintingOptions } from '../outpainting/OutpaintingOptions';
import { outpaintBlocker } from '../outpainting/outpaintingThunks';
import { CanvasOptions } from '../canvas/CanvasOptions';
import { controlBlockerFor, CONTROL_TABS } from '../control/units';
import { ControlSection } from '../control/ControlSection';
import { setFaceOptions, setOption, setUpscaleOptions, type OptionsState } from './optionsSlice';
import { PromptInput } from './PromptInput';
import { NegativePromptInput } from './NegativePromptInput';
import { FaceRestoreFields, faceRestoreProblem, UpscaleFields } from '../postprocessing/PostprocessFields';

const toMultipleOf8 = (v: number) => Math.round(v / 8) * 8;
const SIZE_CHOICES = Array.from({ length: 32 }, (_, i) => (i + 1) * 64);

export const TOOLTIPS = {
  prompt:
    'Describe the image you want. Weight parts with "a:1.2 b:0.8" and put things to avoid in [square brackets]. Enter invokes, Shift+Enter starts a new line.',
  invoke: 'Invoke: generate images with these settings. While a job runs, new ones wait in the queue.',
  cancel: 'Cancel the running job at its next step.',
  iterations: 'Images: how many images to generate with these settings, each with its own seed.',
  steps:
    'Steps: how many denoising steps the sampler takes. More steps give a more refined image but take longer; try few steps to explore, then regenerate your favourite with more.',
  cfgScale:
    'CFG Scale: how hard the AI tries to match the image to the prompt. Values above 20 rarely help, values below 5 give unexpected images.',
  width: 'Width of the image in pixels (a multiple of 8). Larger images need more memory and time.',
  height: 'Height of the image in pixels (a multiple of 8). Larger images need more memory and time.',
  sampler:
    'Sampler: the algorithm that turns noise into the image. Some are more "creative" (k_euler_a), some conservative (ddim); some are faster than others.',
  img2imgStrength:
    'Image to Image Strength: how much of the initial image the AI replaces, 0 to 0.99. 0 leaves it unchanged, 0.99 replaces it almost completely.',
  fit: 'Fit the initial image to the output width and height, keeping its aspect ratio.',
  advanced: 'Show the seed, variations, face restoration, upscaling and other options.',
  seedSection: 'The seed decides the starting noise: the same seed and settings give the same image.',
  randomizeSeed: 'Pick a new random seed for every Invoke. Turn it off to reuse the seed below.',
  seed: 'Seed: the starting noise. Reuse it with the same settings to regenerate an image exactly.',
  shuffle: 'Pick a new random seed now.',
  threshold:
    'Threshold: clips extreme values during sampling, which can reduce oversaturation at high CFG scales. 0 turns it off.',
  perlin:
    'Perlin: mix Perlin noise into the starting noise (0 to 1) for more variety. Values above 0.15 give poor images with several samplers.',
  variations:
    'Variations: generate images related to the seed. Use All on a variation loads its seed weights so it regenerates exactly.',
  variationAmount:
    'Variation Amount: how far each variation strays from the seed (0 to 1). 0.2 gives modest variations; lower for subtler ones.',
  seedWeights:
    'Seed Weights: variations to combine, as seed:weight pairs separated by commas, e.g. 1234:0.1,5678:0.2.',
  faceSection:
    'Restore Face: fix mangled faces and eyes after each generation with GFPGAN or CodeFormer.',
  upscaleSection: 'Upscale: enlarge each generated image with Real-ESRGAN while keeping it sharp.',
  otherSection: 'Seamless tiling, the high-resolution fix and clip skip.',
  seamless: 'Seamless: make images that tile without visible seams, for textures and patterns.',
  hiresFix:
    'High Resolution Fix: for sizes above 512, first generate at low resolution, then upscale with an image-to-image pass. Avoids repeated subjects.',
  hiresStrength: 'Strength of the high-resolution pass: how much it changes the first, low-resolution image.',
  clipSkip:
    "Clip Skip: how many of the text encoder's last layers to skip (0: none). Some anime-style models are made for 1, which AUTOMATIC1111 calls \"Clip skip 2\".",
  negativePrompt:
    'What the image should not show, in AUTOMATIC1111 syntax ((word:1.3) weighs more). Settings › Prompt syntax switches back to InvokeAI syntax, where [words] in the prompt are the negative prompt.',
} as const;

function InvokeButtons() {
  const dispatch = useAppDispatch();
  const options = useAppSelector((s) => s.options);
  const tab = useAppSelector((s) => s.tabs.activeTab);
  const isConnected = useAppSelector((s) => s.system.isConnected);
  const isProcessing = useAppSelector((s) => s.system.isProcessing);
  const outpaintProblem = useAppSelector((s) => (tab === 'outpainting' ? outpaintBlocker(s) : null));
  const controlProblem = useAppSelector((s) => controlBlockerFor(s, tab));
  const blocker = !isConnected
    ? 'The server is not connected.'
    : tab === 'outpainting'
      ? outpaintProblem
      : (invokeBlocker(options, tab) ?? controlProblem);
  return (
    <div className="invoke-row">
      <Tooltip label={blocker ?? TOOLTIPS.invoke} block>
        <button
          type="button"
          className="invoke-button"
          data-testid="invoke"
          disabled={blocker !== null}
          onClick={() => void dispatch(invoke())}
        >
          <SparkIcon size={18} />
          <span>{isProcessing ? 'Queue' : 'Invoke'}</span>
        </button>
      </Tooltip>
      <Tooltip label={TOOLTIPS.cancel}>
        <button
          type="button"
          className="cancel-button"
          aria-label="Cancel"
          data-testid="cancel"
          disabled={!isProcessing}
          onClick={() => dispatch(cancelProcessing(undefined))}
        >
          <CancelIcon size={20} />
        </button>
      </Tooltip>
    </div>
  );
}

function useOption<K extends keyof OptionsState>(key: K): OptionsState[K] {
  return useAppSelector((s) => s.options[key]);
}

function MainOptions() {
  const dispatch = useAppDispatch();
  // Outpainting and Inpainting take their size from the picture; the fields would only mislead there.
  const showSize = useAppSelector((s) => s.tabs.activeTab !== 'outpainting' && s.tabs.activeTab !== 'inpainting');
  const iterations = useOption('iterations');
  const steps = useOption('steps');
  const cfgScale = useOption('cfgScale');
  const width = useOption('width');
  const height = useOption('height');
  const sampler = useOption('sampler');
  const limits = useAppSelector(selectLimits);
  const samplers = useAppSelector(selectSamplers);
  return (
    <div className="main-options">
      <div className="row row--3">
        <NumberField label="Images" tooltip={TOOLTIPS.iterations} value={iterations} min={limits.iterations.min} max={limits.iterations.max} step={1} normalize={Math.round} onChange={(v) => dispatch(setOption('iterations', v))} testId="iterations" />
        <NumberField label="Steps" tooltip={TOOLTIPS.steps} value={steps} min={limits.steps.min} max={limits.steps.max} step={1} normalize={Math.round} onChange={(v) => dispatch(setOption('steps', v))} testId="steps" />
        <NumberField label="CFG Scale" tooltip={TOOLTIPS.cfgScale} value={cfgScale} min={limits.cfg_scale.min} max={limits.cfg_scale.max} step={0.5} onChange={(v) => dispatch(setOption('cfgScale', v))} testId="cfg-scale" />
      </div>
      {showSize && (
        <div className="row row--2">
          <NumberField label="Width" tooltip={TOOLTIPS.width} value={width} min={limits.width.min} max={limits.width.max} step={64} normalize={toMultipleOf8} list="size-choices" onChange={(v) => dispatch(setOption('width', v))} testId="width" />
          <NumberField label="Height" tooltip={TOOLTIPS.height} value={height} min={limits.height.min} max={limits.height.max} step={64} normalize={toMultipleOf8} list="size-choices" onChange={(v) => dispatch(setOption('height', v))} testId="height" />
        </div>
      )}
      {/* A row of its own, so that the longest name ("DPM++ 2M Karras") reads in full at every width. */}
      <SelectField label="Sampler" tooltip={TOOLTIPS.sampler} value={sampler} options={samplers.map((s) => ({ value: s.id, label: s.name }))} onChange={(v) => dispatch(setOption('sampler', v))} testId="sampler" inline />
      <datalist id="size-choices">
        {SIZE_CHOICES.map((v) => (
          <option key={v} value={v} />
        ))}
      </datalist>
    </div>
  );
}

function ImageToImageOptions() {
  const dispatch = useAppDispatch();
  const strength = useOption('img2imgStrength');
  const fit = useOption('shouldFitToWidthHeight');
  return (
    <div className="img2img-options">
      <NumberField label="Image to Image Strength" tooltip={TOOLTIPS.img2imgStrength} value={strength} min={0} max={0.99} step={0.01} slider onChange={(v) => dispatch(setOption('img2imgStrength', v))} testId="img2img-strength" />
      <SwitchField label="Fit Initial Image To Output Size" tooltip={TOOLTIPS.fit} checked={fit} onChange={(v) => dispatch(setOption('shouldFitToWidthHeight', v))} testId="fit" />
    </div>
  );
}

function SeedSection() {
  const dispatch = useAppDispatch();
  const randomize = useOption('shouldRandomizeSeed');
  const seed = useOption('seed');
  const threshold = useOption('threshold');
  const perlin = useOption('perlin');
  const limits = useAppSelector(selectLimits);
  return (
    <Section title="Seed" tooltip={TOOLTIPS.seedSection} testId="section-seed">
      <SwitchField label="Randomize Seed" tooltip={TOOLTIPS.randomizeSeed} checked={randomize} onChange={(v) => dispatch(setOption('shouldRandomizeSeed', v))} testId="randomize-seed" />
      <div className="seed-row">
        <NumberField label="Seed" tooltip={TOOLTIPS.seed} value={seed} min={limits.seed.min} max={limits.seed.max} step={1} normalize={Math.round} disabled={randomize} onChange={(v) => dispatch(setOption('seed', v))} testId="seed" inline />
        <Tooltip label={TOOLTIPS.shuffle}>
          <button type="button" className="button button--small" aria-label="Shuffle" data-testid="shuffle-seed" disabled={randomize} onClick={() => dispatch(setOption('seed', randomSeed()))}>
            <ShuffleIcon size={14} /> <span className="seed-row__shuffle-label">Shuffle</span>
          </button>
        </Tooltip>
      </div>
      <NumberField label="Threshold" tooltip={TOOLTIPS.threshold} value={threshold} min={limits.threshold.min} max={limits.threshold.max} step={0.1} onChange={(v) => dispatch(setOption('threshold', v))} testId="threshold" inline />
      <NumberField label="Perlin Noise" tooltip={TOOLTIPS.perlin} value={perlin} min={0} max={1} step={0.01} onChange={(v) => dispatch(setOption('perlin', v))} testId="perlin" inline />
    </Section>
  );
}

function VariationsSection() {
  const dispatch = useAppDispatch();
  const on = useOption('shouldGenerateVariations');
  const amount = useOption('variationAmount');
  const weights = useOption('seedWeights');
  const valid = parseSeedWeights(weights) !== null;
  return (
    <Section title="Variations" tooltip={TOOLTIPS.variations} enabled={on} onEnabledChange={(v) => dispatch(setOption('shouldGenerateVariations', v))} testId="section-variations">
      <NumberField label="Variation Amount" tooltip={TOOLTIPS.variationAmount} value={amount} min={0} max={1} step={0.01} disabled={!on} onChange={(v) => dispatch(setOption('variationAmount', v))} testId="variation-amount" inline />
      <div className="field field--inline">
        <Tooltip label={TOOLTIPS.seedWeights} block>
          <label className="field__label" htmlFor="seed-weights">
            Seed Weights
          </label>
        </Tooltip>
        <Tooltip label={TOOLTIPS.seedWeights} block>
          <input
            id="seed-weights"
            className={`field__input field__input--text ${valid ? '' : 'field__input--invalid'}`}
            type="text"
            spellCheck={false}
            placeholder="1234:0.1,5678:0.2"
            value={weights}
            disabled={!on}
            aria-invalid={!valid}
            data-testid="seed-weights"
            onChange={(e) => dispatch(setOption('seedWeights', e.target.value))}
          />
        </Tooltip>
      </div>
    </Section>
  );
}

function FaceSection() {
  const dispatch = useAppDispatch();
  const postprocessors = useAppSelector((s) => s.system.config?.postprocessors);
  const on = useOption('shouldRunFacetool');
  const value = { type: useOption('facetoolType'), strength: useOption('facetoolStrength'), fidelity: useOption('codeformerFidelity') };
  return (
    <Section title="Restore Face" tooltip={TOOLTIPS.faceSection} enabled={on} onEnabledChange={(v) => dispatch(setOption('shouldRunFacetool', v))} disabledReason={faceRestoreProblem(postprocessors)} defaultOpen={false} testId="section-face">
      <FaceRestoreFields value={value} onChange={(change) => dispatch(setFaceOptions(change))} disabled={!on} inline />
    </Section>
  );
}

function UpscaleSection() {
  const dispatch = useAppDispatch();
  const postprocessors = useAppSelector((s) => s.system.config?.postprocessors);
  const on = useOption('shouldRunESRGAN');
  const value = { level: useOption('upscalingLevel'), strength: useOption('upscalingStrength') };
  const reason = upscaleUnavailableReason(postprocessors, value.level);
  return (
    <Section title="Upscale" tooltip={TOOLTIPS.upscaleSection} enabled={on} onEnabledChange={(v) => dispatch(setOption('shouldRunESRGAN', v))} disabledReason={reason} defaultOpen={false} testId="section-upscale">
      <UpscaleFields value={value} onChange={(change) => dispatch(setUpscaleOptions(change))} disabled={!on} inline />
    </Section>
  );
}

function OtherSection() {
  const dispatch = useAppDispatch();
  const seamless = useOption('seamless');
  const hiresFix = useOption('hiresFix');
  const hiresStrength = useOption('hiresStrength');
  const clipSkip = useOption('clipSkip');
  const limits = useAppSelector(selectLimits);
  return (
    <Section title="Other Options" tooltip={TOOLTIPS.otherSection} defaultOpen={false} testId="section-other">
      <SwitchField label="Seamless tiling" tooltip={TOOLTIPS.seamless} checked={seamless} onChange={(v) => dispatch(setOption('seamless', v))} testId="seamless" />
      <SwitchField label="High Resolution Fix" tooltip={TOOLTIPS.hiresFix} checked={hiresFix} onChange={(v) => dispatch(setOption('hiresFix', v))} testId="hires-fix" />
      {hiresFix && (
        <NumberField label="Hires Strength" tooltip={TOOLTIPS.hiresStrength} value={hiresStrength} min={0.01} max={0.99} step={0.01} slider onChange={(v) => dispatch(setOption('hiresStrength', v))} testId="hires-strength" />
      )}
      <NumberField label="Clip Skip" tooltip={TOOLTIPS.clipSkip} value={clipSkip} min={limits.clip_skip.min} max={limits.clip_skip.max} step={1} normalize={Math.round} onChange={(v) => dispatch(setOption('clipSkip', v))} testId="clip-skip" inline />
    </Section>
  );
}

export function OptionsPanel() {
  const dispatch = useAppDispatch();
  const tab = useAppSelector((s) => s.tabs.activeTab);
  const showAdvanced = useOption('showAdvancedOptions');
  return (
    <div className="options-panel" data-testid="options-panel">
      <PromptInput tooltip={TOOLTIPS.prompt} />
      <NegativePromptInput tooltip={TOOLTIPS.negativePrompt} />
      <InvokeButtons />
      <QueuePanel />
      <WorkersPanel />
      <MainOptions />
      {tab === 'img2img' && <ImageToImageOptions />}
      {tab === 'outpainting' && <OutpaintingOptions />}
      {(tab === 'inpainting' || tab === 'canvas') && <CanvasOptions />}
      {CONTROL_TABS.has(tab) && (
        <div className="sections">
          <ControlSection />
        </div>
      )}
      <div className="advanced-toggle">
        <Tooltip label={TOOLTIPS.advanced} block>
          <label className="checkbox">
            <input type="checkbox" checked={showAdvanced} data-testid="advanced-options" onChange={(e) => dispatch(setOption('showAdvancedOptions', e.target.checked))} />
            <span>Advanced Options</span>
          </label>
        </Tooltip>
      </div>
      {showAdvanced && (
        <div className="sections">
          <SeedSection />
          <VariationsSection />
          <FaceSection />
          <UpscaleSection />
          <OtherSection />
        </div>
      )}
    </div>
  );
}
