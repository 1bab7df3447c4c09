/** State of the Control section: the control units sent with every generation, and their canvas layers. */
import { createSlice, type PayloadAction } from '@reduxjs/toolkit';
import type { ControlMode, HiresPass, ResizeMode } from '../../app/protocol';

/** A picture as served (`outputs/...`) with its size. */
export interface ControlPicture {
  url: string;
  width: number;
  height: number;
}

/** A preprocessor's map of the unit's picture, and what it was made from (a map of other inputs is stale). */
export interface ControlMap extends ControlPicture {
  madeFrom: string;
}

export interface ControlUnit {
  id: string;
  /** The ControlNet's models.yaml name ('' until one is chosen). */
  model: string;
  image: ControlPicture | null;
  preprocessor: string;
  settings: Record<string, number>;
  weight: number;
  start: number;
  end: number;
  controlMode: ControlMode;
  resizeMode: ResizeMode;
  /** Which pass of hires fix the unit steers; absent (a unit from before the field): both. */
  hiresPass?: HiresPass;
  map: ControlMap | null;
  /** Unified Canvas: where the unit's picture lies on the canvas (its control layer), or null when it is not
   * placed; a canvas Invoke then uses the part of it under the box. */
  onCanvas: { x: number; y: number } | null;
}

export interface ControlState {
  enabled: boolean;
  units: ControlUnit[];
  /** The canvas shows the control layers (semi-transparent) over the image layer. */
  isLayerVisible: boolean;
}

export const initialControlState: ControlState = { enabled: false, units: [], isLayerVisible: true };

/** What a new unit starts with; `model` is the first ControlNet that suits the loaded model, if any. */
export function newUnit(id: string, model = ''): ControlUnit {
  return {
    id,
    model,
    image: null,
    preprocessor: 'none',
    settings: {},
    weight: 1,
    start: 0,
    end: 1,
    controlMode: 'balanced',
    resizeMode: 'crop',
    map: null,
    onCanvas: null,
  };
}

/** The fields of a unit the user edits one at a time. */
export type UnitChange = Partial<Omit<ControlUnit, 'id' | 'map' | 'onCanvas'>>;

const unitId = () => `unit-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

const controlSlice = createSlice({
  name: 'control',
  initialState: initialControlState,
  reducers: {
    controlEnabled: (state, action: PayloadAction<boolean>) => {
      state.enabled = action.payload;
    },
    unitAdded: {
      reducer: (state, action: PayloadAction<{ id: string; model: string; max: number }>) => {
        if (state.units.length >= action.payload.max) return;
        state.units.push(newUnit(action.payload.id, action.payload.model));
        state.enabled = true;
      },
      prepare: (model: string, max: number) => ({ payload: { id: unitId(), model, max } }),
    },
    unitRemoved: (state, action: PayloadAction<string>) => {
      state.units = state.units.filter((u) => u.id !== action.payload);
    },
    /** An edit of one unit; its map stays until a preview of the new inputs replaces it (it shows as stale). */
    unitChanged: (state, action: PayloadAction<{ id: string; change: UnitChange }>) => {
      const unit = state.units.find((u) => u.id === action.payload.id);
      if (unit) Object.assign(unit, action.payload.change);
    },
    /** Another preprocessor: its own settings at their defaults. */
    preprocessorChosen: (state, action: PayloadAction<{ id: string; preprocessor: string; defaults: Record<string, number> }>) => {
      const unit = state.units.find((u) => u.id === action.payload.id);
      if (!unit) return;
      unit.preprocessor = action.payload.preprocessor;
      unit.settings = { ...action.payload.defaults };
    },
    unitSettingChanged: (state, action: PayloadAction<{ id: string; key: string; value: number }>) => {
      const unit = state.units.find((u) => u.id === action.payload.id);
      if (unit) unit.settings[action.payload.key] = action.payload.value;
    },
    /** A new control picture: what lay on the canvas was the old picture, so it comes off. */
    unitImageSet: (state, action: PayloadAction<{ id: string; image: ControlPicture }>) => {
      const unit = state.units.find((u) => u.id === action.payload.id);
      if (!unit) return;
      unit.image = action.payload.image;
      unit.onCanvas = null;
    },
    unitMapReceived: (state, action: PayloadAction<{ id: string; map: ControlMap }>) => {
      const unit = state.units.find((u) => u.id === action.payload.id);
      if (unit) unit.map = action.payload.map;
    },
    unitPlacedOnCanvas: (state, action: PayloadAction<{ id: string; at: { x: number; y: number } | null }>) => {
      const unit = state.units.find((u) => u.id === action.payload.id);
      if (unit && unit.image) unit.onCanvas = action.payload.at;
      if (action.payload.at) state.isLayerVisible = true;
    },
    layerVisibilityToggled: (state, action: PayloadAction<boolean | undefined>) => {
      state.isLayerVisible = action.payload ?? !state.isLayerVisible;
    },
    /** Use All: the units of an image's recipe replace the section's (none: the section turns off). */
    unitsRecalled: (state, action: PayloadAction<ControlUnit[]>) => {
      state.units = action.payload;
      state.enabled = action.payload.length > 0;
    },
  },
});

export const {
  controlEnabled,
  unitAdded,
  unitRemoved,
  unitChanged,
  preprocessorChosen,
  unitSettingChanged,
  unitImageSet,
  unitMapReceived,
  unitPlacedOnCanvas,
  layerVisibilityToggled,
  unitsRecalled,
} = controlSlice.actions;
export default controlSlice.reducer;
