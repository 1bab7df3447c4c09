import { describe, expect, it } from 'vitest';
import reducer, {
  activeModelName,
  connected,
  disconnected,
  errorOccurred,
  initialSystemState,
  isDemoModel,
  postprocessorAvailability,
  upscaleUnavailableReason,
  processingCanceled,
  progressUpdated,
  toastDismissed,
} from './systemSlice';
import queueReducer, { jobCancelRequested, queueUpdated, initialQueueState } from '../queue/queueSlice';
import optionsReducer, { applyAllParameters, applySeed, initialOptionsState, setOption } from '../options/optionsSlice';
import { formatEta } from './ProgressBar';
import { findHotkey, HOTKEYS } from '../tabs/hotkeys';

describe('system reducers', () => {
  it('tracks connection state', () => {
    let s = reducer(initialSystemState, connected());
    expect(s).toMatchObject({ isConnected: true, hasEverConnected: true });
    s = reducer(s, disconnected());
    expect(s).toMatchObject({ isConnected: false, currentStatus: 'Disconnected' });
  });

  it('resets progress on cancel', () => {
    let s = reducer(initialSystemState, progressUpdated({ currentStep: 3, totalSteps: 6, currentIteration: 1, totalIterations: 1, currentStatus: 'Generating', isProcessing: true, currentStatusHasSteps: true, hasError: false, itPerSec: 2, eta: 1.5 }));
    s = reducer(s, processingCanceled());
    expect(s).toMatchObject({ isProcessing: false, currentStep: 0, itPerSec: null, eta: null });
  });

  it('keeps at most five toasts and dismisses by id', () => {
    let s = initialSystemState;
    for (let i = 0; i < 7; i++) s = reducer(s, errorOccurred(`e${i}`));
    expect(s.toasts.map((t) => t.message)).toEqual(['e2', 'e3', 'e4', 'e5', 'e6']);
    s = reducer(s, toastDismissed(s.toasts[0].id));
    expect(s.toasts).toHaveLength(4);
  });

  it('recognises the demo model by name or description', () => {
    expect(isDemoModel('demo', '')).toBe(true);
    expect(isDemoModel('demo-alt', 'Second demo model')).toBe(true);
    expect(isDemoModel('x', 'Tiny SD pipeline with random weights')).toBe(true);
    expect(isDemoModel('stable-diffusion-1.5', 'SD 1.5')).toBe(false);
  });

  it('finds the active model and postprocessor availability (absent = available)', () => {
    const config = { model: 'a', model_id: 'a', model_hash: '', app_id: '', app_version: '', model_list: { a: { status: 'cached' as const, description: '' }, b: { status: 'active' as const, description: '' } } };
    expect(activeModelName(config)).toBe('b');
    expect(postprocessorAvailability(undefined, 'esrgan')).toEqual({ available: true, reason: null, scales: [2, 4] });
    expect(postprocessorAvailability({ gfpgan: { available: false, reason: 'Missing weights file x.pth' } }, 'gfpgan')).toMatchObject({ available: false, reason: 'Missing weights file x.pth' });
  });

  it('formats the ETA as m:ss', () => {
    expect(formatEta(5)).toBe('0:05');
    expect(formatEta(125.4)).toBe('2:05');
  });
});

describe('queue and options reducers', () => {
  it('mirrors queueUpdate and forgets cancel requests of finished jobs', () => {
    let s = queueReducer(initialQueueState, jobCancelRequested('j2'));
    s = queueReducer(s, queueUpdated({ jobs: [{ id: 'j2', status: 'queued', summary: 'x' }] }));
    expect(s.cancelRequested).toEqual(['j2']);
    s = queueReducer(s, queueUpdated({ jobs: [{ id: 'j2', status: 'canceled', summary: 'x' }] }));
    expect(s.cancelRequested).toEqual([]);
  });

  it('Use Seed stops randomizing; Use All overwrites only what it carries', () => {
    let s = optionsReducer(initialOptionsState, applySeed(99));
    expect(s).toMatchObject({ seed: 99, shouldRandomizeSeed: false });
    s = optionsReducer(s, setOption('prompt', 'mine'));
    s = optionsReducer(s, applyAllParameters({ steps: 4 }));
    expect(s).toMatchObject({ prompt: 'mine', steps: 4 });
  });
});

describe('hotkeys', () => {
  const ev = (init: KeyboardEventInit & { target?: unknown }) => ({ ctrlKey: false, metaKey: false, altKey: false, shiftKey: false, target: null, code: '', ...init }) as unknown as KeyboardEvent;
  it('maps keys to actions and has a unique key per action', () => {
    expect(findHotkey(ev({ key: 'Enter', ctrlKey: true }))?.action).toBe('invoke');
    expect(findHotkey(ev({ key: 'a' }))?.action).toBe('useAll');
    expect(findHotkey(ev({ key: 'I', shiftKey: true }))?.action).toBe('sendToImageToImage');
    expect(new Set(HOTKEYS.map((h) => h.keys)).size).toBe(HOTKEYS.length);
  });
});

describe('hotkeys while typing', () => {
  it('ignores letters typed into fields but still invokes with Ctrl+Enter', () => {
    const textarea = { tagName: 'TEXTAREA' };
    const e = (init: Record<string, unknown>) => ({ ctrlKey: false, metaKey: false, altKey: false, shiftKey: false, code: '', target: textarea, ...init }) as unknown as KeyboardEvent;
    expect(findHotkey(e({ key: 'a' }))).toBeUndefined();
    expect(findHotkey(e({ key: 'Enter', ctrlKey: true }))?.action).toBe('invoke');
    expect(findHotkey(e({ key: 'a', target: { tagName: 'INPUT', type: 'checkbox' } }))?.action).toBe('useAll');
  });
});

describe('the upscale warning', () => {
  const none = {
    esrgan: {
      available: false,
      scales: [],
      reason: '2x upscaling: Missing weights file /root/models/realesrgan/RealESRGAN_x2plus.pth.',
      missing: {
        '2': { file: '/root/models/realesrgan/RealESRGAN_x2plus.pth', reason: '2x upscaling: Missing weights file /root/models/realesrgan/RealESRGAN_x2plus.pth.' },
        '4': { file: '/root/models/realesrgan/RealESRGAN_x4plus.pth', reason: '4x upscaling: Missing weights file /root/models/realesrgan/RealESRGAN_x4plus.pth.' },
      },
    },
  };

  it('names the weights file of the chosen scale', () => {
    expect(upscaleUnavailableReason(none, 4)).toContain('RealESRGAN_x4plus.pth');
    expect(upscaleUnavailableReason(none, 2)).toContain('RealESRGAN_x2plus.pth');
    expect(upscaleUnavailableReason({ esrgan: { available: true, scales: [2, 4] } }, 4)).toBeNull();
  });
});
