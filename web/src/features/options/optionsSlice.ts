/** State of the control panel: every generation parameter the user sets, persisted across reloads. */
import { createSlice, type PayloadAction } from '@reduxjs/toolkit';
import type { FacetoolType, ImageInfo, SamplerName } from '../../app/protocol';
import type { MetadataOptions } from '../../common/util/parameterTranslation';

export interface OptionsState {
  prompt: string;
  iterations: number;
  steps: number;
  cfgScale: number;
  width: number;
  height: number;
  sampler: SamplerName;
  seed: number;
  shouldRandomizeSeed: boolean;
  threshold: number;
  perlin: number;
  seamless: boolean;
  hiresFix: boolean;
  hiresStrength: number;
  /** Text-encoder layers skipped from the end (0: none), as A1111's "Clip skip" minus one. */
  clipSkip: number;
  shouldGenerateVariations: boolean;
  variationAmount: number;
  seedWeights: string;
  showAdvancedOptions: boolean;
  shouldRunFacetool: boolean;
  facetoolType: FacetoolType;
  facetoolStrength: number;
  codeformerFidelity: number;
  shouldRunESRGAN: boolean;
  upscalingLevel: 2 | 4;
  upscalingStrength: number;
  img2imgStrength: number;
  shouldFitToWidthHeight: boolean;
  initialImage: ImageInfo | null;
}

export const initialOptionsState: OptionsState = {
  prompt: '',
  iterations: 1,
  steps: 50,
  cfgScale: 7.5,
  width: 512,
  height: 512,
  sampler: 'k_lms',
  seed: 0,
  shouldRandomizeSeed: true,
  threshold: 0,
  perlin: 0,
  seamless: false,
  hiresFix: false,
  hiresStrength: 0.75,
  clipSkip: 0,
  shouldGenerateVariations: false,
  variationAmount: 0.1,
  seedWeights: '',
  showAdvancedOptions: true,
  shouldRunFacetool: false,
  facetoolType: 'gfpgan',
  facetoolStrength: 0.8,
  codeformerFidelity: 0.75,
  shouldRunESRGAN: false,
  upscalingLevel: 4,
  upscalingStrength: 0.75,
  img2imgStrength: 0.75,
  shouldFitToWidthHeight: true,
  initialImage: null,
};

/** Keys whose value is a plain scalar the generic setter may change. */
export type ScalarOptionKey = Exclude<keyof OptionsState, 'initialImage'>;

const optionsSlice = createSlice({
  name: 'options',
  initialState: initialOptionsState,
  reducers: {
    setOption: (
      state,
      action: PayloadAction<{ key: ScalarOptionKey; value: OptionsState[ScalarOptionKey] }>,
    ) => {
      (state as Record<ScalarOptionKey, unknown>)[action.payload.key] = action.payload.value;
    },
    setInitialImage: (state, action: PayloadAction<ImageInfo | null>) => {
      state.initialImage = action.payload;
    },
    /** Use Seed: load just the seed, and stop randomizing so it is actually used. */
    applySeed: (state, action: PayloadAction<number>) => {
      state.seed = action.payload;
      state.shouldRandomizeSeed = false;
    },
    applyPrompt: (state, action: PayloadAction<string>) => {
      state.prompt = action.payload;
    },
    /** Use All: load every parameter recovered from an image's metadata. */
    applyAllParameters: (state, action: PayloadAction<MetadataOptions>) => {
      Object.assign(state, action.payload);
    },
    resetOptions: () => initialOptionsState,
    /** The face-restore fields' change (FaceRestoreFields), in the options' names. */
    setFaceOptions: (state, action: PayloadAction<Partial<{ type: FacetoolType; strength: number; fidelity: number }>>) => {
      const { type, strength, fidelity } = action.payload;
      if (type !== undefined) state.facetoolType = type;
      if (strength !== undefined) state.facetoolStrength = strength;
      if (fidelity !== undefined) state.codeformerFidelity = fidelity;
    },
    /** The upscale fields' change (UpscaleFields), in the options' names. */
    setUpscaleOptions: (state, action: PayloadAction<Partial<{ level: 2 | 4; strength: number }>>) => {
      const { level, strength } = action.payload;
      if (level !== undefined) state.upscalingLevel = level;
      if (strength !== undefined) state.upscalingStrength = strength;
    },
  },
});

export const { setInitialImage, applySeed, applyPrompt, applyAllParameters, resetOptions, setFaceOptions, setUpscaleOptions } =
  optionsSlice.actions;

/** Sets one control's value, typed by the key so a width can never receive a string. */
export const setOption = <K extends ScalarOptionKey>(key: K, value: OptionsState[K]) =>
  optionsSlice.actions.setOption({ key, value });
export default optionsSlice.reducer;
