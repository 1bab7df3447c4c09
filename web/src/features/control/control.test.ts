import { describe, expect, it } from 'vitest';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { Provider } from 'react-redux';
import type { ImageInfo, ModelList } from '../../app/protocol';
import { connectedStore, flush } from '../../../test/fakeSocket';
import { maskOpAdded } from '../canvas/canvasSlice';
import { demoConfig } from '../../../test/demoConfig';
import { validateGenerateImageArgs, validateRequestControlMapArgs } from '../../../test/protocolSchema';
import { preloadedState } from '../../app/store';
import { loadPersistedState, savePersistedState } from '../../app/persistence';
import { invoke } from '../tabs/invoke';
import { tabSelected } from '../tabs/tabsSlice';
import { setInitialImage, setOption } from '../options/optionsSlice';
import { loadAllFrom } from '../currentImage/imageActions';
import reducer, {
  controlEnabled,
  initialControlState,
  preprocessorChosen,
  unitAdded,
  unitChanged,
  unitImageSet,
  unitPlacedOnCanvas,
  unitRemoved,
  unitSettingChanged,
} from './controlSlice';
import { currentImageToControl, galleryImageToControl, previewMap } from './controlThunks';
import { imageSelected } from '../gallery/gallerySlice';
import { controlBlocker, controlFacts, controlParameters, describeRecordedUnit, mapInputs, mapRequest, preprocessorProblem, previewInit, unitParameters, unitsFromMetadata } from './units';
import { CONTROL_TOOLTIPS, ControlSection } from './ControlSection';

const models: ModelList = { demo: { status: 'active', description: 'demo', family: 'sd1' } };
const config = demoConfig({
  model_list: models,
  control_models: {
    canny15: { family: 'sd1', description: 'canny' },
    cannyxl: { family: 'sdxl', kind: 'controlnet' },
    sketchxl: { family: 'sdxl', kind: 't2i_adapter' },
  },
  control_preprocessors: [
    { id: 'none', name: 'None', settings: {} },
    {
      id: 'canny',
      name: 'Canny edges',
      settings: {
        low_threshold: { min: 1, max: 255, integer: true, default: 100 },
        high_threshold: { min: 1, max: 255, integer: true, default: 200 },
      },
    },
    { id: 'softedge_hed', name: 'Soft edge (HED)', settings: {}, weights: ['ControlNetHED.pth'], missing: ['ControlNetHED.pth'] },
    { id: 'inpaint_only', name: 'Inpaint', settings: {}, masks: true },
  ],
  limits: { control_units: { max: 2 }, control_weight: { min: 0, max: 2 } },
});
const facts = controlFacts(config);
const picture = { url: 'outputs/control-images/pose.png', width: 64, height: 64 };

function withUnit() {
  let state = reducer(initialControlState, unitAdded('canny15', facts.maxUnits));
  const id = state.units[0].id;
  state = reducer(state, unitImageSet({ id, image: picture }));
  return { state, id };
}

describe('control facts from systemConfig', () => {
  it("names each model's kind and disables those of another family than the loaded model's, with the reason", () => {
    expect(facts.models).toEqual([
      { name: 'canny15', family: 'sd1', kind: 'ControlNet', description: 'canny', unavailable: null },
      { name: 'cannyxl', family: 'sdxl', kind: 'ControlNet', description: '', unavailable: 'cannyxl is a ControlNet for SDXL; the loaded model is SD 1.x.' },
      {
        name: 'sketchxl',
        family: 'sdxl',
        kind: 'T2I-Adapter',
        description: '',
        unavailable: 'sketchxl is a T2I-Adapter for SDXL; the loaded model is SD 1.x.',
      },
    ]);
    expect(facts.maxUnits).toBe(2);
  });

  it('falls back to the None preprocessor and the extension’s modes when an older server lists none', () => {
    const old = controlFacts({ ...config, control_preprocessors: undefined, control_modes: undefined, limits: undefined });
    expect(old.preprocessors.map((p) => p.id)).toEqual(['none']);
    expect(old.controlModes.map((m) => m.id)).toEqual(['balanced', 'prompt', 'control']);
    expect(old.maxUnits).toBe(8);
  });
});

describe('the control slice', () => {
  it('adds units up to the server’s limit, turns the section on, removes them', () => {
    let state = reducer(initialControlState, unitAdded('canny15', 2));
    expect(state.enabled).toBe(true);
    state = reducer(state, unitAdded('canny15', 2));
    state = reducer(state, unitAdded('canny15', 2));
    expect(state.units).toHaveLength(2);
    state = reducer(state, unitRemoved(state.units[0].id));
    expect(state.units).toHaveLength(1);
  });

  it('gives a chosen preprocessor its own settings at their defaults', () => {
    const { state, id } = withUnit();
    let next = reducer(state, unitSettingChanged({ id, key: 'stale', value: 3 }));
    next = reducer(next, preprocessorChosen({ id, preprocessor: 'canny', defaults: { low_threshold: 100, high_threshold: 200 } }));
    expect(next.units[0].settings).toEqual({ low_threshold: 100, high_threshold: 200 });
  });

  it('takes a unit off the canvas when its picture changes (the layer was the old picture)', () => {
    const { state, id } = withUnit();
    let next = reducer(state, unitPlacedOnCanvas({ id, at: { x: 8, y: 16 } }));
    expect(next.units[0].onCanvas).toEqual({ x: 8, y: 16 });
    next = reducer(next, unitImageSet({ id, image: { ...picture, url: 'outputs/control-images/other.png' } }));
    expect(next.units[0].onCanvas).toBeNull();
  });
});

describe('units in a request', () => {
  it('are sent as the protocol names them, and not at all while the section is off', () => {
    const { state, id } = withUnit();
    const next = reducer(state, unitChanged({ id, change: { weight: 0.6, start: 0.2, end: 0.8, controlMode: 'prompt', resizeMode: 'fit' } }));
    expect(controlParameters(next, facts)).toEqual([
      { model: 'canny15', image: picture.url, preprocessor: 'none', settings: {}, weight: 0.6, start: 0.2, end: 0.8, control_mode: 'prompt', resize_mode: 'fit' },
    ]);
    expect(controlParameters(reducer(next, controlEnabled(false)), facts)).toBeUndefined();
  });

  it('keep Invoke back with a sentence naming the unit and the fix', () => {
    let state = reducer(initialControlState, unitAdded('', 2));
    expect(controlBlocker(state, facts)).toBe('Control unit 1: choose a control model.');
    const id = state.units[0].id;
    state = reducer(state, unitChanged({ id, change: { model: 'cannyxl' } }));
    expect(controlBlocker(state, facts)).toMatch(/^Control unit 1: cannyxl is a ControlNet for SDXL; .* Choose a SD 1.x ControlNet\.$/);
    state = reducer(state, unitChanged({ id, change: { model: 'canny15' } }));
    expect(controlBlocker(state, facts)).toMatch(/^Control unit 1: choose a control picture/);
    expect(controlBlocker(state, facts, 'txt2img')).toMatch(/^Control unit 1: choose a control picture/);
    // Where a request has a picture of its own, a unit without one uses it: nothing to fix.
    for (const tab of ['img2img', 'inpainting', 'outpainting', 'canvas'] as const) expect(controlBlocker(state, facts, tab)).toBeNull();
    expect(controlParameters(state, facts)?.[0].image).toBe('');
    state = reducer(state, unitImageSet({ id, image: picture }));
    state = reducer(state, preprocessorChosen({ id, preprocessor: 'softedge_hed', defaults: {} }));
    expect(controlBlocker(state, facts)).toMatch(/needs ControlNetHED\.pth \(lllyasviel\/Annotators\) in .* models\/annotators folder: run invokeai-configure/);
    state = reducer(state, preprocessorChosen({ id, preprocessor: 'canny', defaults: {} }));
    expect(controlBlocker(state, facts)).toBeNull();
    expect(controlBlocker(reducer(state, unitChanged({ id, change: { start: 0.9, end: 0.1 } })), facts)).toMatch(/start \(0\.9\) must not be after the end/);
  });

  it('go with every generateImage of Text to Image, Image to Image and Inpainting, valid by the protocol schema', () => {
    const { socket, store } = connectedStore();
    socket.serve('systemConfig', config);
    store.dispatch(setOption('prompt', 'a pose'));
    store.dispatch(unitAdded('canny15', 2));
    const id = store.getState().control.units[0].id;
    store.dispatch(unitImageSet({ id, image: picture }));
    void store.dispatch(invoke());
    const sent = socket.wire().filter((s) => s.event === 'generateImage');
    expect(sent).toHaveLength(1);
    expect(validateGenerateImageArgs(sent[0].args)).toEqual([]);
    expect((sent[0].args[0] as { control: unknown[] }).control).toHaveLength(1);
    // The units stay when the tab changes (Outpainting sends them too: outpaintingThunks.test.ts).
    store.dispatch(tabSelected('outpainting'));
    expect(store.getState().control.units).toHaveLength(1);
  });
});

describe('a unit without a picture', () => {
  it('says on Inpainting that it uses the picture being inpainted, and on Text to Image that it needs one', () => {
    const { socket, store } = connectedStore();
    socket.serve('systemConfig', config);
    store.dispatch(unitAdded('canny15', 2));
    const render = () => renderToStaticMarkup(createElement(Provider, { store, children: createElement(ControlSection) }));
    store.dispatch(tabSelected('inpainting'));
    let html = render();
    expect(html).toContain('Without a picture, Invoke uses the picture being inpainted.');
    expect(html).not.toContain('data-testid="control-problem-0"');
    store.dispatch(tabSelected('txt2img'));
    html = render();
    expect(html).not.toContain('Without a picture');
    expect(html).toMatch(/data-testid="control-problem-0"[^>]*>Control unit 1: choose a control picture/);
  });
});

describe('the map preview', () => {
  it('asks for the map at the size being generated and shows what the server made', async () => {
    const { socket, store } = connectedStore();
    socket.serve('systemConfig', config);
    store.dispatch(setOption('width', 128));
    store.dispatch(unitAdded('canny15', 2));
    const id = store.getState().control.units[0].id;
    store.dispatch(unitImageSet({ id, image: picture }));
    store.dispatch(preprocessorChosen({ id, preprocessor: 'canny', defaults: { low_threshold: 100, high_threshold: 200 } }));
    const done = store.dispatch(previewMap(id));
    const { event, args } = socket.wireArgs();
    expect(event).toBe('requestControlMap');
    expect(args[0]).toEqual({ image: picture.url, preprocessor: 'canny', settings: { low_threshold: 100, high_threshold: 200 }, resize_mode: 'crop', width: 128, height: 512 });
    socket.ack({ url: 'outputs/control-images/map.abc.png', width: 128, height: 512, preprocessor: 'canny' });
    await done;
    const unit = store.getState().control.units[0];
    expect(unit.map).toMatchObject({ url: 'outputs/control-images/map.abc.png', width: 128 });
    expect(unit.map?.madeFrom).toBe(mapInputs(mapRequest(unit, { width: 128, height: 512 }, facts)));
  });

  it('of a unit without a picture is the initial image’s on Image to Image, and not offered where Invoke alone knows the picture', async () => {
    const { socket, store } = connectedStore();
    socket.serve('systemConfig', config);
    store.dispatch(unitAdded('canny15', 2));
    const id = store.getState().control.units[0].id;
    store.dispatch(preprocessorChosen({ id, preprocessor: 'canny', defaults: {} }));
    store.dispatch(setInitialImage({ url: 'outputs/init-images/parrot.png', width: 128, height: 128, mtime: 1, metadata: {}, category: 'user' }));
    store.dispatch(tabSelected('img2img'));
    const render = () => renderToStaticMarkup(createElement(Provider, { store, children: createElement(ControlSection) }));
    expect(render()).toMatch(/<button[^>]*data-testid="control-preview-0"(?![^>]*disabled)/);
    const done = store.dispatch(previewMap(id));
    const { event, args } = socket.wireArgs();
    expect(event).toBe('requestControlMap');
    expect(validateRequestControlMapArgs(args)).toEqual([]);
    expect(args[0]).toEqual({ image: '', init_img: 'outputs/init-images/parrot.png', fit: true, preprocessor: 'canny', settings: {}, resize_mode: 'crop', width: 512, height: 512 });
    socket.ack({ url: 'outputs/control-images/map.init.png', width: 512, height: 512, preprocessor: 'canny' });
    await done;
    expect(store.getState().control.units[0].map?.url).toBe('outputs/control-images/map.init.png');
    // An Inpaint unit on Inpainting fills the painted part, which only Invoke sends; Outpainting's picture is made when it runs.
    store.dispatch(tabSelected('inpainting'));
    const unit = () => store.getState().control.units[0];
    expect(previewInit(unit(), 'inpainting', store.getState().options, facts)).toEqual({ url: 'outputs/init-images/parrot.png', fit: false });
    store.dispatch(preprocessorChosen({ id, preprocessor: 'inpaint_only', defaults: {} }));
    expect(previewInit(unit(), 'inpainting', store.getState().options, facts)).toBeNull();
    expect(render()).toMatch(/<button[^>]*disabled[^>]*data-testid="control-preview-0"/);
    expect(render()).toContain('Paint the part to fill first');
    expect(previewInit(unit(), 'outpainting', store.getState().options, facts)).toBeNull();
    // Once a part is painted, the preview goes with the mask as Invoke sends it, and a new stroke makes it stale.
    store.dispatch(maskOpAdded({ tab: 'inpainting', op: { kind: 'stroke', tool: 'brush', size: 20, hardness: 1, points: [30, 30, 60, 60] } }));
    expect(render()).toMatch(/<button[^>]*data-testid="control-preview-0"(?![^>]*disabled)/);
    const painted = store.dispatch(previewMap(id));
    const asked = () => socket.wire().filter((w) => w.event === 'requestControlMap');
    for (let i = 0; i < 100 && asked().length < 2; i++) await flush(); // the mask is encoded as a PNG first
    const sent = asked().at(-1);
    expect(validateRequestControlMapArgs(sent?.args ?? [])).toEqual([]);
    expect(sent?.args[0]).toMatchObject({ image: '', init_img: 'outputs/init-images/parrot.png', fit: false, preprocessor: 'inpaint_only', width: 128, height: 128, init_mask: expect.stringMatching(/^data:image\/png;base64,/) });
    socket.ack({ url: 'outputs/control-images/map.hole.png', width: 128, height: 128, preprocessor: 'inpaint_only' });
    await painted;
    expect(render()).toContain('data-stale="false"');
    store.dispatch(maskOpAdded({ tab: 'inpainting', op: { kind: 'stroke', tool: 'brush', size: 20, hardness: 1, points: [90, 90, 100, 100] } }));
    expect(render()).toContain('data-stale="true"');
  });

  it('shows the server’s refusal as an error toast', async () => {
    const { socket, store } = connectedStore();
    socket.serve('systemConfig', config);
    store.dispatch(unitAdded('canny15', 2));
    const id = store.getState().control.units[0].id;
    store.dispatch(unitImageSet({ id, image: picture }));
    const done = store.dispatch(previewMap(id));
    socket.ack({ error: 'control.preprocessor: unknown preprocessor', field: 'control.preprocessor' });
    await done;
    expect(store.getState().system.toasts.at(-1)).toMatchObject({ kind: 'error', message: 'control.preprocessor: unknown preprocessor' });
    expect(store.getState().control.units[0].map).toBeNull();
  });
});

const gallery = (url: string): ImageInfo => ({ url, mtime: 1, metadata: {}, width: 64, height: 64, category: 'result' });

describe('pictures from elsewhere, Use All and persistence', () => {
  it('"Use as control image" fills the first unit without a picture, else adds one', () => {
    const { socket, store } = connectedStore();
    socket.serve('systemConfig', config);
    store.dispatch(galleryImageToControl(gallery('outputs/000001.1.png')));
    expect(store.getState().control.units.map((u) => u.image?.url)).toEqual(['outputs/000001.1.png']);
    expect(store.getState().control.units[0].model).toBe('canny15');
    store.dispatch(galleryImageToControl(gallery('outputs/000002.2.png')));
    store.dispatch(galleryImageToControl(gallery('outputs/000003.3.png')));
    expect(store.getState().control.units.map((u) => u.image?.url)).toEqual(['outputs/000001.1.png', 'outputs/000002.2.png']);
    expect(store.getState().system.toasts.at(-1)?.message).toMatch(/Every one of the 2 control units has a picture/);
  });

  it('"Current image" makes the image in the viewer the unit’s picture, and says so when none is shown', () => {
    const { socket, store } = connectedStore();
    socket.serve('systemConfig', config);
    store.dispatch(unitAdded('canny15', 2));
    const id = store.getState().control.units[0].id;
    store.dispatch(currentImageToControl(id));
    expect(store.getState().system.toasts.at(-1)?.message).toMatch(/No image is shown/);
    store.dispatch(imageSelected(gallery('outputs/000004.4.png')));
    store.dispatch(currentImageToControl(id));
    expect(store.getState().control.units[0].image).toEqual({ url: 'outputs/000004.4.png', width: 64, height: 64 });
  });

  it('Use All brings a recipe’s units back (its picture and settings), and a recipe without units turns the section off', () => {
    const { socket, store } = connectedStore();
    socket.serve('systemConfig', config);
    const recorded = {
      model: 'canny15', model_hash: 'ab', preprocessor: 'canny', settings: { low_threshold: 50, high_threshold: 200 },
      image_path: 'outputs/control-images/pose.png', image_hash: 'cd', map_path: 'outputs/control-images/000007.99.control-0.png',
      weight: 0.7, start: 0.1, end: 0.9, control_mode: 'control', resize_mode: 'stretch',
    };
    const base = { type: 'txt2img', prompt: 'p', seed: 99, steps: 3, width: 64, height: 64 };
    store.dispatch(loadAllFrom({ ...gallery('outputs/000007.99.png'), metadata: { model_id: 'demo', image: { ...base, control: [recorded] } } }));
    const [unit] = store.getState().control.units;
    expect(store.getState().control.enabled).toBe(true);
    expect(unit).toMatchObject({
      model: 'canny15', image: { url: 'outputs/control-images/pose.png' }, preprocessor: 'canny', settings: { low_threshold: 50, high_threshold: 200 },
      weight: 0.7, start: 0.1, end: 0.9, controlMode: 'control', resizeMode: 'stretch', map: null,
    });
    store.dispatch(loadAllFrom({ ...gallery('outputs/000008.5.png'), metadata: { model_id: 'demo', image: base } }));
    expect(store.getState().control).toMatchObject({ enabled: false, units: [] });
  });

  it('reads a recipe’s unit with a file path and odd values safely', () => {
    const [unit] = unitsFromMetadata([{ model: 'm', image_path: '/root/outputs/control-images/a.png', control_mode: 'loud', weight: 'x' }], (i) => `u${i}`);
    expect(unit).toMatchObject({ id: 'u0', image: { url: 'outputs/control-images/a.png' }, controlMode: 'balanced', weight: 1 });
    expect(unitsFromMetadata('nonsense', (i) => `u${i}`)).toEqual([]);
  });

  it('survive a reload', () => {
    const { state } = withUnit();
    const storage = new Map<string, string>();
    const fake = { getItem: (k: string) => storage.get(k) ?? null, setItem: (k: string, v: string) => void storage.set(k, v) } as unknown as Storage;
    const base = preloadedState(null);
    savePersistedState(fake, { ...base, control: state });
    expect(preloadedState(loadPersistedState(fake)).control).toEqual(state);
  });
});

describe('a unit on one pass of hires fix', () => {
  const renderSection = (store: ReturnType<typeof connectedStore>['store']) =>
    renderToStaticMarkup(createElement(Provider, { store, children: createElement(ControlSection) }));

  it('sends hires_pass only when the unit steers one pass, valid by the protocol schema', () => {
    const { socket, store } = connectedStore();
    socket.serve('systemConfig', config);
    store.dispatch(setOption('prompt', 'a pose'));
    store.dispatch(setOption('hiresFix', true));
    store.dispatch(unitAdded('canny15', 2));
    const id = store.getState().control.units[0].id;
    store.dispatch(unitImageSet({ id, image: picture }));
    expect(controlParameters(store.getState().control, facts)?.[0]).not.toHaveProperty('hires_pass');
    store.dispatch(unitChanged({ id, change: { hiresPass: 'second' } }));
    void store.dispatch(invoke());
    const sent = socket.wire().filter((s) => s.event === 'generateImage');
    expect(validateGenerateImageArgs(sent[0].args)).toEqual([]);
    expect((sent[0].args[0] as { control: { hires_pass?: string }[] }).control[0].hires_pass).toBe('second');
    expect(validateGenerateImageArgs([{ ...(sent[0].args[0] as object), control: [{ model: 'm', image: 'i', hires_pass: 'third' }] }, false, false])).not.toEqual([]);
  });

  it('shows the Hires Pass choice, with its tooltip, only while hires fix is on', () => {
    const { socket, store } = connectedStore();
    socket.serve('systemConfig', config);
    store.dispatch(unitAdded('canny15', 2));
    expect(renderSection(store)).not.toContain('control-hires-pass-0');
    store.dispatch(setOption('hiresFix', true));
    store.dispatch(unitChanged({ id: store.getState().control.units[0].id, change: { hiresPass: 'first' } }));
    const html = renderSection(store);
    expect(html).toContain('data-testid="control-hires-pass-0"');
    expect(html).toMatch(/<option value="first" selected="">First pass only \(low res\)<\/option>/);
    expect(html).toContain('Second pass only (high res)');
    expect(CONTROL_TOOLTIPS.hiresPass).toMatch(/Without a second pass .* every unit steers the one pass/);
  });

  it('comes back with Use All (recorded only when not both; an odd value reads as both)', () => {
    const recorded = { model: 'm', image_path: 'outputs/control-images/a.png' };
    const [second, both, odd] = unitsFromMetadata(
      [{ ...recorded, hires_pass: 'second' }, recorded, { ...recorded, hires_pass: 'sometimes' }],
      (i) => `u${i}`,
    );
    expect([second.hiresPass, both.hiresPass, odd.hiresPass]).toEqual(['second', 'both', 'both']);
    expect(unitParameters(second).hires_pass).toBe('second');
    expect(unitParameters({ ...both, hiresPass: undefined })).not.toHaveProperty('hires_pass'); // a unit kept from before
  });
});

describe('what the UI says about preprocessors and recorded units', () => {
  it('names a missing folder and its own repo (depth_anything), not lllyasviel/Annotators', () => {
    const depth = {
      id: 'depth_anything', name: 'Depth (Depth Anything)', settings: {},
      weights: ['depth-anything-small-hf'], missing: ['depth-anything-small-hf'],
      sources: { 'depth-anything-small-hf': 'LiheYoung/depth-anything-small-hf' }, folders: ['depth-anything-small-hf'],
    };
    expect(preprocessorProblem(depth)).toMatch(/needs the folder depth-anything-small-hf\/ \(LiheYoung\/depth-anything-small-hf\) .* copy the folder there/);
    expect(preprocessorProblem({ ...depth, missing: [] })).toBeNull();
  });

  it('describes a recorded unit with the settings that are not the defaults', () => {
    expect(describeRecordedUnit({ model: 'canny', preprocessor: 'canny', weight: 0.8 })).toBe('canny · canny · weight 0.8');
    expect(describeRecordedUnit({ model: 'canny', weight: 1, start: 0.25, end: 0.5, control_mode: 'control', hires_pass: 'second' }))
      .toBe('canny · none · weight 1 · steps 25–50 % · ControlNet is more important · second pass only (high res)');
  });
});
