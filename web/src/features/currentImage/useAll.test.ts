import { describe, expect, it, vi } from 'vitest';
import type { ImageInfo, ModelList } from '../../app/protocol';
import { invoke } from '../tabs/invoke';
import { metadataToOptions } from '../../common/util/parameterTranslation';
import { connectedStore } from '../../../test/fakeSocket';
import { demoConfig } from '../../../test/demoConfig';
import { validateGenerateImageArgs, validateModelManagementArgs } from '../../../test/protocolSchema';
import { inpaintingRecalled } from '../canvas/canvasSlice';
import { rasterOp, renderMask } from '../canvas/mask';
import { maskToDataUrl } from '../canvas/png';
import { applyAllParameters } from '../options/optionsSlice';
import { tabSelected } from '../tabs/tabsSlice';
import { loadAllFrom } from './imageActions';

const models: ModelList = {
  demo: { status: 'active', description: 'demo' },
  'demo-alt': { status: 'not loaded', description: 'demo' },
};
const config = demoConfig({ model_list: models });

function setup() {
  const { socket, store } = connectedStore();
  socket.serve('systemConfig', config);
  return { socket, store };
}

const result = (image: NonNullable<ImageInfo['metadata']['image']>, modelId = 'demo-alt'): ImageInfo => ({
  url: 'outputs/000007.99.png',
  mtime: 7,
  metadata: { model: 'stable diffusion', model_id: modelId, image },
  width: 64,
  height: 64,
  category: 'result',
});

const txt2img = {
  type: 'txt2img',
  prompt: [{ prompt: 'strawberry sushi', weight: 1 }],
  sampler: 'k_euler',
  seed: 99,
  variations: [],
  steps: 3,
  cfg_scale: 7,
  threshold: 0,
  perlin: 0,
  width: 64,
  height: 64,
  seamless: false,
  hires_fix: false,
  postprocessing: null,
};

describe('Use All, through the store and the socket layer', () => {
  it("switches to the image's model first, so the Invoke after it is made with that model", () => {
    const { socket, store } = setup();
    store.dispatch(loadAllFrom(result(txt2img)));
    void store.dispatch(invoke());
    expect(socket.sent.map((s) => s.event)).toEqual(['requestModelChange', 'generateImage']);
    expect(socket.wire()[0].args).toEqual(['demo-alt', expect.stringMatching(/^request-/)]);
    expect(validateModelManagementArgs('requestModelChange', socket.wire()[0].args)).toEqual([]);
    expect(socket.sent[1].args[0]).toMatchObject({ prompt: 'strawberry sushi', seed: 99, steps: 3, sampler_name: 'k_euler', iterations: 1 });
    expect(validateGenerateImageArgs(socket.wire()[1].args)).toEqual([]);
  });

  it('leaves the model alone when it is the one loaded, and says so when it is not installed', () => {
    const { socket, store } = setup();
    store.dispatch(loadAllFrom(result(txt2img, 'demo')));
    expect(socket.sent).toEqual([]);
    store.dispatch(loadAllFrom(result(txt2img, 'sd-1.5')));
    expect(socket.sent).toEqual([]);
    const toasts = store.getState().system.toasts.map((t) => t.message);
    expect(toasts).toContainEqual(expect.stringMatching(/model sd-1\.5, which is not installed here; Invoke uses demo/));
  });

  it('an inpainting recall sends the recorded picture, mask, region, seam size and replace', async () => {
    const { socket, store } = setup();
    const metadata = {
      ...txt2img,
      type: 'inpaint',
      width: 128,
      height: 96,
      strength: 0.8,
      fit: false,
      init_image_path: 'outputs/canvas-images/outpaint-128x96.0a0b0c0d.png',
      mask_image_path: null,
      bounding_box: { x: 0, y: 32, width: 128, height: 64 },
      inpaint_replace: 0.5,
      seam_size: 12,
    };
    const recall = metadataToOptions(result(metadata).metadata);
    if (!recall.inpainting) throw new Error('not an inpainting recall');
    // What loadInpaintingRecall reads from the server: the picture's size and its mask.
    const mask = renderMask([{ kind: 'stroke', tool: 'brush', size: 20, hardness: 0.5, points: [40, 60, 90, 70] }], 128, 96);
    store.dispatch(
      inpaintingRecalled({
        url: recall.inpainting.initUrl,
        size: { width: 128, height: 96 },
        mask: rasterOp(mask),
        box: recall.inpainting.boundingBox,
        seamSize: recall.inpainting.seamSize,
        inpaintReplace: recall.inpainting.inpaintReplace,
      }),
    );
    store.dispatch(applyAllParameters(recall.options));
    store.dispatch(tabSelected('inpainting'));
    void store.dispatch(invoke());
    // The mask is encoded as a PNG first, which takes more than one turn of the event loop.
    await vi.waitFor(() => expect(socket.wire().filter((s) => s.event === 'generateImage')).toHaveLength(1));
    const sent = socket.wire().filter((s) => s.event === 'generateImage');
    expect(sent[0].args[0]).toMatchObject({
      init_img: 'outputs/canvas-images/outpaint-128x96.0a0b0c0d.png',
      init_mask: await maskToDataUrl(mask),
      bounding_box: { x: 0, y: 32, width: 128, height: 64 },
      inpaint_replace: 0.5,
      seam_size: 12,
      strength: 0.8,
      fit: false,
      width: 128,
      height: 96,
      seed: 99,
    });
    expect(validateGenerateImageArgs(sent[0].args)).toEqual([]);
  });
});
