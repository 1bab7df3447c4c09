/** State of the connection, the server's configuration, the running job's progress, settings and toasts. */
import { createSlice, type PayloadAction } from '@reduxjs/toolkit';
import { requestModelChange } from '../../app/socketio/actions';
import type {
  ModelChangePayload,
  ModelList,
  Postprocessors,
  ProgressUpdate,
  SystemConfig,
} from '../../app/protocol';
import type { PreviewStyle } from '../../common/util/parameterTranslation';

export type Theme = 'dark' | 'light';
export type ToastKind = 'error' | 'info' | 'success';

export interface Toast {
  id: number;
  kind: ToastKind;
  message: string;
}

export interface SystemSettings {
  shouldConfirmOnDelete: boolean;
  previewStyle: PreviewStyle;
  saveIntermediatesInterval: number;
}

export interface SystemState extends SystemSettings {
  isConnected: boolean;
  /** False until the first connection attempt settles, so the header does not flash "disconnected". */
  hasEverConnected: boolean;
  isProcessing: boolean;
  currentStep: number;
  totalSteps: number;
  currentIteration: number;
  totalIterations: number;
  currentStatus: string;
  currentStatusHasSteps: boolean;
  hasError: boolean;
  itPerSec: number | null;
  eta: number | null;
  config: SystemConfig | null;
  isModelChanging: boolean;
  theme: Theme;
  toasts: Toast[];
  nextToastId: number;
}

export const initialSystemState: SystemState = {
  isConnected: false,
  hasEverConnected: false,
  isProcessing: false,
  currentStep: 0,
  totalSteps: 0,
  currentIteration: 0,
  totalIterations: 0,
  currentStatus: 'Disconnected',
  currentStatusHasSteps: false,
  hasError: false,
  itPerSec: null,
  eta: null,
  config: null,
  isModelChanging: false,
  theme: 'dark',
  toasts: [],
  nextToastId: 1,
  shouldConfirmOnDelete: true,
  previewStyle: 'latents',
  saveIntermediatesInterval: 5,
};

const MAX_TOASTS = 5;

function pushToast(state: SystemState, kind: ToastKind, message: string): void {
  state.toasts.push({ id: state.nextToastId, kind, message });
  state.nextToastId += 1;
  if (state.toasts.length > MAX_TOASTS) state.toasts.splice(0, state.toasts.length - MAX_TOASTS);
}

function applyModelList(state: SystemState, modelName: string, modelList: ModelList): void {
  if (!state.config) return;
  state.config.model_list = modelList;
  state.config.model = modelName;
}

/** The demo model is the one the server marks as such by name or by its description. */
export function isDemoModel(name: string, description: string | undefined): boolean {
  if (name === 'demo') return true;
  const text = (description ?? '').toLowerCase();
  return text.includes('demo') || text.includes('random weights');
}

/** The active model's name: the one model_list marks active, else what systemConfig says. */
export function activeModelName(config: SystemConfig | null): string | null {
  if (!config) return null;
  const active = Object.entries(config.model_list).find(([, entry]) => entry.status === 'active');
  return active ? active[0] : config.model || null;
}

export function postprocessorAvailability(
  postprocessors: Postprocessors | undefined,
  kind: keyof Postprocessors,
): { available: boolean; reason: string | null; scales: number[] } {
  const entry = postprocessors?.[kind];
  return {
    available: entry ? entry.available : true,
    reason: entry && !entry.available ? (entry.reason ?? 'Its weights are not installed.') : null,
    scales: entry?.scales ?? [2, 4],
  };
}

/** Why upscaling cannot run, naming the weights file the chosen scale needs; null when it can. */
export function upscaleUnavailableReason(postprocessors: Postprocessors | undefined, level: number): string | null {
  const esrgan = postprocessorAvailability(postprocessors, 'esrgan');
  if (esrgan.available) return null;
  return `Upscaling is unavailable: ${postprocessors?.esrgan?.missing?.[String(level)]?.reason ?? esrgan.reason}`;
}

const systemSlice = createSlice({
  name: 'system',
  initialState: initialSystemState,
  reducers: {
    connected: (state) => {
      state.isConnected = true;
      state.hasEverConnected = true;
      state.currentStatus = 'Connected';
      state.hasError = false;
    },
    disconnected: (state) => {
      state.isConnected = false;
      state.hasEverConnected = true;
      state.isProcessing = false;
      state.isModelChanging = false;
      state.currentStatus = 'Disconnected';
      state.itPerSec = null;
      state.eta = null;
    },
    systemConfigReceived: (state, action: PayloadAction<SystemConfig>) => {
      state.config = action.payload;
    },
    progressUpdated: (state, action: PayloadAction<ProgressUpdate>) => {
      const p = action.payload;
      state.isProcessing = p.isProcessing;
      state.currentStep = p.currentStep;
      state.totalSteps = p.totalSteps;
      state.currentIteration = p.currentIteration;
      state.totalIterations = p.totalIterations;
      state.currentStatus = p.currentStatus;
      state.currentStatusHasSteps = p.currentStatusHasSteps;
      state.hasError = p.hasError;
      state.itPerSec = typeof p.itPerSec === 'number' ? p.itPerSec : null;
      state.eta = typeof p.eta === 'number' ? p.eta : null;
    },
    processingCanceled: (state) => {
      state.isProcessing = false;
      state.currentStep = 0;
      state.totalSteps = 0;
      state.currentIteration = 0;
      state.totalIterations = 0;
      state.currentStatus = 'Processing canceled';
      state.currentStatusHasSteps = false;
      state.itPerSec = null;
      state.eta = null;
    },
    errorOccurred: (state, action: PayloadAction<string>) => {
      state.hasError = true;
      state.currentStatus = 'Error';
      pushToast(state, 'error', action.payload);
    },
    toastAdded: (state, action: PayloadAction<{ kind: ToastKind; message: string }>) => {
      pushToast(state, action.payload.kind, action.payload.message);
    },
    toastDismissed: (state, action: PayloadAction<number>) => {
      state.toasts = state.toasts.filter((t) => t.id !== action.payload);
    },
    modelChangeRequested: (state) => {
      state.isModelChanging = true;
      state.currentStatus = 'Loading model';
    },
    modelChanged: (state, action: PayloadAction<ModelChangePayload>) => {
      state.isModelChanging = false;
      state.currentStatus = 'Model changed';
      applyModelList(state, action.payload.model_name, action.payload.model_list);
      pushToast(state, 'success', `Model changed to ${action.payload.model_name}.`);
    },
    modelChangeFailed: (state, action: PayloadAction<ModelChangePayload>) => {
      state.isModelChanging = false;
      state.currentStatus = 'Model change failed';
      const active = Object.entries(action.payload.model_list).find(([, e]) => e.status === 'active');
      applyModelList(state, active ? active[0] : (state.config?.model ?? ''), action.payload.model_list);
      pushToast(state, 'error', `Could not load the model ${action.payload.model_name}.`);
    },
    themeSet: (state, action: PayloadAction<Theme>) => {
      state.theme = action.payload;
    },
    settingChanged: (state, action: PayloadAction<Partial<SystemSettings>>) => {
      Object.assign(state, action.payload);
    },
  },
  extraReducers: (builder) => {
    builder.addCase(requestModelChange, (state) => {
      state.isModelChanging = true;
      state.currentStatus = 'Loading model';
    });
  },
});

export const {
  connected,
  disconnected,
  systemConfigReceived,
  progressUpdated,
  processingCanceled,
  errorOccurred,
  toastAdded,
  toastDismissed,
  modelChangeRequested,
  modelChanged,
  modelChangeFailed,
  themeSet,
  settingChanged,
} = systemSlice.actions;
export default systemSlice.reducer;
