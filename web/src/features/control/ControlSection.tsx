/** The Control section of the options panel: control units (ControlNet), each with its model, control
 * picture, preprocessor and settings, weight, steps, modes and map preview; on the Unified Canvas, its layer. */
import { useEffect, useRef, useState, type DragEvent } from 'react';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { CONTROL_DROPPED_EVENT, hasDesktopBridge, markDrop, type ControlDropDetail } from '../../app/desktopBridge';
import type { ControlMode, HiresPass, ResizeMode } from '../../app/protocol';
import { NumberField, Section, SelectField, SwitchField } from '../../common/components/Fields';
import { CloseIcon, ImageIcon, UploadIcon } from '../../common/components/Icons';
import { Tooltip } from '../../common/components/Tooltip';
import type { ActiveTab } from '../tabs/tabsSlice';
import { ACCEPTED_TYPES } from '../tabs/useImageChooser';
import {
  controlEnabled,
  layerVisibilityToggled,
  preprocessorChosen,
  unitAdded,
  unitChanged,
  unitPlacedOnCanvas,
  unitRemoved,
  unitSettingChanged,
  type ControlUnit,
} from './controlSlice';
import {
  chooseControlPictureNative,
  controlPictureDropped,
  generationSize,
  placeOnCanvas,
  previewMap,
  sendMapToGallery,
  uploadControlPicture,
  currentImageToControl,
} from './controlThunks';
import {
  DEFAULT_HIRES_PASS,
  HIRES_PASSES,
  defaultModel,
  defaultSettings,
  familyName,
  mapInputs,
  mapRequest,
  preprocessorOf,
  preprocessorProblem,
  selectControlFacts,
  INIT_PICTURE,
  previewInit,
  unitProblem,
  type PreviewInit,
  type ControlFacts,
} from './units';
import './control.css';

/** What each setting does, in the words of the A1111 ControlNet extension's documentation. */
export const CONTROL_TOOLTIPS = {
  section:
    'Control (ControlNet): steer the composition with a control picture. Each unit turns its picture into a map (edges, an outline, a tile) with its preprocessor, and its ControlNet makes the image follow the map.',
  add: 'Add a control unit. Several units steer together (say, edges and a tile).',
  remove: 'Remove this control unit.',
  model:
    'Control Model: the ControlNet that reads the map. It must be made for the loaded model\'s family (SD 1.x or SDXL): the others are listed but cannot be chosen.',
  picture:
    'Control Picture: what the map is made from. Upload one, drop a file here, use the image in the viewer, or use a gallery image ("Use as control image" on its thumbnail). In Image to Image, Inpainting, Outpainting and on the canvas it can stay empty: the unit then uses the picture being worked on (with an Inpaint preprocessor, the part being filled is left to it).',
  upload: 'Choose a picture file for this unit (PNG, JPEG or WebP).',
  current: 'Use the image shown in the viewer as this unit\'s control picture.',
  preprocessor:
    'Preprocessor: turns the control picture into the kind of map the ControlNet was trained on (Canny edges for a canny ControlNet, ...). None: the picture is already a map. Inpaint (for an inpaint ControlNet): the picture\'s transparent part is what gets filled.',
  weight:
    'Control Weight: how strongly the unit steers the image, 0 to 2. 0 gives exactly the image without the unit; 1 is the strength the ControlNet was trained at.',
  start:
    'Starting Control Step: the fraction of the steps at which the unit starts to steer (0: from the first step). Starting later leaves the composition free and steers only the details.',
  end: 'Ending Control Step: the fraction of the steps after which the unit stops steering (1: to the last step). Ending earlier lets the last steps refine freely.',
  controlMode:
    'Control Mode: Balanced weighs map and prompt as trained; "My prompt is more important" weakens the control towards the fine layers; "ControlNet is more important" applies it to the prompt\'s half only, so a higher CFG scale strengthens it.',
  resizeMode:
    'Resize Mode: how the map is brought to the image\'s size. Crop and Resize covers the image and cuts what overflows; Resize and Fill fits the map inside and fills the rest; Just Resize stretches it.',
  hiresPass:
    'Hires Pass: which pass of the High Resolution Fix the unit steers. Both: the small first pass and the full-size second; First pass only: the composition, leaving the details of the second pass free; Second pass only: the details, on a composition the prompt made. Without a second pass (hires fix off, or a size it makes in one pass) every unit steers the one pass.',
  preview: 'Preview Map: run the preprocessor on the server now and show the map the ControlNet will see.',
  sendToGallery: 'Send this map to the gallery (Uploads): with the None preprocessor it can be a control picture itself.',
  place:
    'Place on canvas: put the control picture on the canvas at the bounding box (shown semi-transparent); drag the numbered handle at its corner to move it. A canvas Invoke uses the part of it under the box.',
  unplace: 'Take the control picture off the canvas: Invoke then uses the whole picture.',
  layer: 'Show the control layers on the canvas (semi-transparent, over the images). Hidden layers still steer.',
} as const;

/** What each known preprocessor setting does; others get a sentence naming their range. */
const SETTING_TOOLTIPS: Record<string, string> = {
  low_threshold: 'Canny Low Threshold: edge pixels weaker than this are dropped, unless they connect to strong edges.',
  high_threshold: 'Canny High Threshold: edges at least this strong are always kept. Lower it for more edges.',
  down_sampling_rate: 'Down Sampling Rate: how much the tile preprocessor shrinks the picture first (1: not at all); higher rates leave the details to the prompt.',
  resolution: 'Preprocessor Resolution: the size (short side, pixels) the preprocessor\'s network sees the picture at.',
};

const settingLabel = (key: string) => key.split('_').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join(' ');

function ModelField({ unit, facts, index }: { unit: ControlUnit; facts: ControlFacts; index: number }) {
  const dispatch = useAppDispatch();
  const known = facts.models.some((m) => m.name === unit.model);
  const options = [
    ...(unit.model === '' || !known ? [{ value: unit.model, label: unit.model === '' ? 'Choose a control model' : `${unit.model} (not installed)`, disabled: true }] : []),
    ...facts.models.map((m) => ({
      value: m.name,
      label: `${m.name} (${m.kind === 'ControlNet' ? '' : `${m.kind}, `}${familyName(m.family)})${m.unavailable ? ` — not for the loaded ${familyName(facts.family ?? '')} model` : ''}`,
      disabled: m.unavailable !== null,
    })),
  ];
  const chosen = facts.models.find((m) => m.name === unit.model);
  const tooltip = chosen?.unavailable ?? (chosen?.description ? `${CONTROL_TOOLTIPS.model} ${chosen.description}` : CONTROL_TOOLTIPS.model);
  return (
    <>
      <SelectField label="Control Model" tooltip={tooltip} value={unit.model} options={options} onChange={(model) => dispatch(unitChanged({ id: unit.id, change: { model } }))} testId={`control-model-${index}`} />
      {facts.models.length === 0 && (
        <p className="control-unit__note" role="note">
          No ControlNet is installed: add one to models.yaml, or scan a models/ControlNet folder in the Models dialog.
        </p>
      )}
    </>
  );
}

function PictureField({ unit, index }: { unit: ControlUnit; index: number }) {
  const dispatch = useAppDispatch();
  const input = useRef<HTMLInputElement>(null);
  const [dragging, setDragging] = useState(false);
  const hasCurrent = useAppSelector((s) => Boolean(s.gallery.currentImage && !s.gallery.currentImage.isBase64));
  const onCanvasTab = useAppSelector((s) => s.tabs.activeTab === 'canvas');
  const initPicture = useAppSelector((s) => INIT_PICTURE[s.tabs.activeTab]);
  const choose = () => (hasDesktopBridge() ? void dispatch(chooseControlPictureNative(unit.id)) : input.current?.click());
  const onDrop = (e: DragEvent<HTMLDivElement>) => {
    setDragging(false);
    const file = e.dataTransfer.files?.[0];
    if (!file) return;
    e.preventDefault();
    // The desktop window's native layer uploads the file as this unit's picture (the page's own handler
    // then only cancels the default); in a browser the page uploads it, and keeps it from the page's
    // handler, which would make it Image to Image's initial image.
    if (hasDesktopBridge()) {
      markDrop(e.nativeEvent, 'control', unit.id);
      return;
    }
    e.stopPropagation();
    void dispatch(uploadControlPicture(unit.id, file));
  };
  return (
    <div className="control-unit__picture">
      <Tooltip label={CONTROL_TOOLTIPS.picture} block>
        <div
          className={`control-drop ${dragging ? 'control-drop--over' : ''}`}
          data-testid={`control-drop-${index}`}
          onDragOver={(e) => {
            e.preventDefault();
            e.stopPropagation();
            setDragging(true);
          }}
          onDragLeave={() => setDragging(false)}
          onDrop={onDrop}
        >
          {unit.image ? (
            <img src={unit.image.url} alt={`Control picture of unit ${index + 1}`} data-testid={`control-picture-${index}`} draggable={false} />
          ) : (
            <span className="control-drop__hint">Drop a picture here</span>
          )}
        </div>
      </Tooltip>
      <div className="control-unit__buttons">
        <Tooltip label={CONTROL_TOOLTIPS.upload}>
          <button type="button" className="button button--small" onClick={choose} data-testid={`control-upload-${index}`}>
            <UploadIcon size={14} /> Upload
          </button>
        </Tooltip>
        <Tooltip label={hasCurrent ? CONTROL_TOOLTIPS.current : 'No image is shown in the viewer.'}>
          <button type="button" className="button button--small" disabled={!hasCurrent} onClick={() => dispatch(currentImageToControl(unit.id))} data-testid={`control-use-current-${index}`}>
            <ImageIcon size={14} /> Current image
          </button>
        </Tooltip>
        {onCanvasTab && unit.image && (
          <Tooltip label={unit.onCanvas ? CONTROL_TOOLTIPS.unplace : CONTROL_TOOLTIPS.place}>
            <button
              type="button"
              className="button button--small"
              aria-pressed={unit.onCanvas !== null}
              onClick={() => (unit.onCanvas ? dispatch(unitPlacedOnCanvas({ id: unit.id, at: null })) : void dispatch(placeOnCanvas(unit.id)))}
              data-testid={`control-place-${index}`}
            >
              {unit.onCanvas ? 'Off the canvas' : 'Place on canvas'}
            </button>
          </Tooltip>
        )}
      </div>
      {!unit.image && initPicture && (
        <p className="control-unit__note" role="note" data-testid={`control-init-note-${index}`}>
          Without a picture, Invoke uses {initPicture}.
        </p>
      )}
      <input
        ref={input}
        type="file"
        accept={ACCEPTED_TYPES}
        hidden
        data-testid={`control-file-${index}`}
        onChange={(e) => {
          const file = e.target.files?.[0];
          if (file) void dispatch(uploadControlPicture(unit.id, file));
          e.target.value = '';
        }}
      />
    </div>
  );
}

function PreprocessorFields({ unit, facts, index }: { unit: ControlUnit; facts: ControlFacts; index: number }) {
  const dispatch = useAppDispatch();
  const pre = preprocessorOf(facts, unit.preprocessor);
  const problem = preprocessorProblem(pre);
  const options = facts.preprocessors.map((p) => ({ value: p.id, label: (p.missing ?? []).length > 0 ? `${p.name} (weights missing)` : p.name }));
  if (!pre) options.unshift({ value: unit.preprocessor, label: `${unit.preprocessor} (not available here)` });
  return (
    <>
      <SelectField
        label="Preprocessor"
        tooltip={CONTROL_TOOLTIPS.preprocessor}
        value={unit.preprocessor}
        options={options}
        onChange={(id) => dispatch(preprocessorChosen({ id: unit.id, preprocessor: id, defaults: defaultSettings(preprocessorOf(facts, id)) }))}
        testId={`control-preprocessor-${index}`}
      />
      {problem && (
        <p className="control-unit__note control-unit__note--warn" role="note" data-testid={`control-preprocessor-problem-${index}`}>
          {problem}
        </p>
      )}
      {Object.entries(pre?.settings ?? {}).map(([key, limit]) => (
        <NumberField
          key={key}
          label={settingLabel(key)}
          tooltip={SETTING_TOOLTIPS[key] ?? `${settingLabel(key)}: a setting of ${pre?.name} (${limit.min}–${limit.max}, default ${limit.default}).`}
          value={unit.settings[key] ?? limit.default}
          min={limit.min}
          max={limit.max}
          step={limit.integer ? 1 : 0.1}
          normalize={limit.integer ? Math.round : undefined}
          onChange={(value) => dispatch(unitSettingChanged({ id: unit.id, key, value }))}
          testId={`control-setting-${key}-${index}`}
          inline
        />
      ))}
    </>
  );
}

/** What Preview Map does for this unit, or why it cannot yet. */
function previewTooltip(unit: ControlUnit, init: PreviewInit | null, tab: ActiveTab, hasInit: boolean): string {
  const initPicture = INIT_PICTURE[tab];
  if (unit.image) return CONTROL_TOOLTIPS.preview;
  if (init) return `${CONTROL_TOOLTIPS.preview} Without a picture, the map is ${initPicture}'s${init.mask ? ', its painted part the part to fill' : ''}.`;
  if (!initPicture) return 'Choose a control picture first.';
  if ((tab === 'img2img' || tab === 'inpainting') && !hasInit) return 'Choose an initial image (or a control picture) first.';
  if (tab === 'inpainting') return 'Paint the part to fill first: without a picture, an Inpaint unit fills the painted part of the picture being inpainted.';
  return `Here a preview needs a picture of its own; without one, Invoke uses ${initPicture}.`;
}

function MapPreview({ unit, facts, index }: { unit: ControlUnit; facts: ControlFacts; index: number }) {
  const dispatch = useAppDispatch();
  const size = useAppSelector(generationSize, (a, b) => a.width === b.width && a.height === b.height);
  const [busy, setBusy] = useState(false);
  const tab = useAppSelector((s) => s.tabs.activeTab);
  const initialImage = useAppSelector((s) => s.options.initialImage);
  const shouldFitToWidthHeight = useAppSelector((s) => s.options.shouldFitToWidthHeight);
  const painted = useAppSelector((s) => s.canvas.masks.inpainting.past);
  const init = previewInit(unit, tab, { initialImage, shouldFitToWidthHeight }, facts, painted);
  const stale = unit.map !== null && unit.map.madeFrom !== mapInputs(mapRequest(unit, size, facts, init), init);
  const preview = () => {
    setBusy(true);
    void dispatch(previewMap(unit.id)).finally(() => setBusy(false));
  };
  return (
    <div className="control-map">
      <div className="control-unit__buttons">
        <Tooltip label={previewTooltip(unit, init, tab, initialImage !== null)}>
          <button type="button" className="button button--small" disabled={(!unit.image && !init) || busy} onClick={preview} data-testid={`control-preview-${index}`}>
            {busy ? 'Making the map…' : 'Preview map'}
          </button>
        </Tooltip>
        {unit.map && (
          <Tooltip label={CONTROL_TOOLTIPS.sendToGallery}>
            <button type="button" className="button button--small" onClick={() => void dispatch(sendMapToGallery(unit.id))} data-testid={`control-map-to-gallery-${index}`}>
              Send to gallery
            </button>
          </Tooltip>
        )}
      </div>
      {unit.map && (
        <figure className={`control-map__figure ${stale ? 'control-map__figure--stale' : ''}`}>
          <img src={unit.map.url} alt={`Map of control unit ${index + 1}`} data-testid={`control-map-${index}`} data-stale={stale} />
          {stale && <figcaption>The settings changed since: preview again to see the map Invoke will use.</figcaption>}
        </figure>
      )}
    </div>
  );
}

function UnitCard({ unit, facts, index }: { unit: ControlUnit; facts: ControlFacts; index: number }) {
  const dispatch = useAppDispatch();
  const tab = useAppSelector((s) => s.tabs.activeTab);
  const problem = unitProblem(unit, index, facts, tab);
  const change = (c: Parameters<typeof unitChanged>[0]['change']) => dispatch(unitChanged({ id: unit.id, change: c }));
  const { control_weight: weight, control_start: start, control_end: end } = facts.limits;
  const hiresFix = useAppSelector((s) => s.options.hiresFix);
  return (
    <div className="control-unit" data-testid="control-unit" data-index={index}>
      <div className="control-unit__header">
        <span className="control-unit__title">Unit {index + 1}</span>
        <Tooltip label={CONTROL_TOOLTIPS.remove}>
          <button type="button" className="icon-button icon-button--ghost icon-button--sm" aria-label={`Remove control unit ${index + 1}`} onClick={() => dispatch(unitRemoved(unit.id))} data-testid={`control-remove-${index}`}>
            <CloseIcon size={14} />
          </button>
        </Tooltip>
      </div>
      <ModelField unit={unit} facts={facts} index={index} />
      <PictureField unit={unit} index={index} />
      <PreprocessorFields unit={unit} facts={facts} index={index} />
      <NumberField label="Control Weight" tooltip={CONTROL_TOOLTIPS.weight} value={unit.weight} min={weight.min} max={weight.max} step={0.05} slider onChange={(v) => change({ weight: v })} testId={`control-weight-${index}`} />
      <div className="row row--2">
        <NumberField label="Start" tooltip={CONTROL_TOOLTIPS.start} value={unit.start} min={start.min} max={start.max} step={0.05} onChange={(v) => change({ start: v })} testId={`control-start-${index}`} />
        <NumberField label="End" tooltip={CONTROL_TOOLTIPS.end} value={unit.end} min={end.min} max={end.max} step={0.05} onChange={(v) => change({ end: v })} testId={`control-end-${index}`} />
      </div>
      <SelectField label="Control Mode" tooltip={CONTROL_TOOLTIPS.controlMode} value={unit.controlMode} options={facts.controlModes.map((m) => ({ value: m.id as ControlMode, label: m.name }))} onChange={(v) => change({ controlMode: v })} testId={`control-mode-${index}`} />
      <SelectField label="Resize Mode" tooltip={CONTROL_TOOLTIPS.resizeMode} value={unit.resizeMode} options={facts.resizeModes.map((m) => ({ value: m.id as ResizeMode, label: m.name }))} onChange={(v) => change({ resizeMode: v })} testId={`control-resize-${index}`} />
      {hiresFix && (
        <SelectField<HiresPass> label="Hires Pass" tooltip={CONTROL_TOOLTIPS.hiresPass} value={unit.hiresPass ?? DEFAULT_HIRES_PASS} options={HIRES_PASSES.map((p) => ({ value: p.id, label: p.name }))} onChange={(v) => change({ hiresPass: v })} testId={`control-hires-pass-${index}`} />
      )}
      <MapPreview unit={unit} facts={facts} index={index} />
      {problem && (
        <p className="control-unit__note control-unit__note--warn" role="note" data-testid={`control-problem-${index}`}>
          {problem}
        </p>
      )}
    </div>
  );
}

export function ControlSection() {
  const dispatch = useAppDispatch();
  const enabled = useAppSelector((s) => s.control.enabled);
  const units = useAppSelector((s) => s.control.units);
  const isLayerVisible = useAppSelector((s) => s.control.isLayerVisible);
  const onCanvasTab = useAppSelector((s) => s.tabs.activeTab === 'canvas');
  const facts = useAppSelector(selectControlFacts);
  const full = units.length >= facts.maxUnits;
  useEffect(() => {
    const onDropped = (e: Event) => dispatch(controlPictureDropped((e as CustomEvent<ControlDropDetail>).detail));
    window.addEventListener(CONTROL_DROPPED_EVENT, onDropped);
    return () => window.removeEventListener(CONTROL_DROPPED_EVENT, onDropped);
  }, [dispatch]);
  return (
    <Section title="Control" tooltip={CONTROL_TOOLTIPS.section} enabled={enabled} onEnabledChange={(v) => dispatch(controlEnabled(v))} testId="section-control">
      {units.map((unit, i) => (
        <UnitCard key={unit.id} unit={unit} facts={facts} index={i} />
      ))}
      <Tooltip label={full ? `A request takes at most ${facts.maxUnits} control units.` : CONTROL_TOOLTIPS.add} block>
        <button type="button" className="button button--small control-add" disabled={full} onClick={() => dispatch(unitAdded(defaultModel(facts), facts.maxUnits))} data-testid="control-add">
          + Add control unit
        </button>
      </Tooltip>
      {onCanvasTab && units.some((u) => u.onCanvas) && (
        <SwitchField label="Show control layers" tooltip={CONTROL_TOOLTIPS.layer} checked={isLayerVisible} onChange={(v) => dispatch(layerVisibilityToggled(v))} testId="control-layer-visible" />
      )}
    </Section>
  );
}
