/** The keyboard shortcuts: one table that both the key handler and the help panel read. */
export type HotkeyAction =
  | 'invoke'
  | 'cancel'
  | 'useAll'
  | 'useSeed'
  | 'usePrompt'
  | 'restoreFaces'
  | 'upscale'
  | 'toggleMetadata'
  | 'sendToImageToImage'
  | 'deleteImage'
  | 'toggleGallery'
  | 'previousImage'
  | 'nextImage'
  | 'textToImageTab'
  | 'imageToImageTab'
  | 'outpaintingTab'
  | 'postprocessingTab'
  | 'toggleTheme'
  | 'focusPrompt'
  | 'showHotkeys';

export interface Hotkey {
  action: HotkeyAction;
  keys: string;
  description: string;
  /** Also fires while typing in a text field. */
  inInputs?: boolean;
  match: (e: KeyboardEvent) => boolean;
}

const plain = (e: KeyboardEvent) => !e.ctrlKey && !e.metaKey && !e.altKey;
const key = (k: string) => (e: KeyboardEvent) => plain(e) && !e.shiftKey && e.key.toLowerCase() === k;

export const HOTKEYS: ReadonlyArray<Hotkey> = [
  {
    action: 'invoke',
    keys: 'Ctrl+Enter',
    description: 'Invoke: generate with the current settings',
    inInputs: true,
    match: (e) => (e.ctrlKey || e.metaKey) && e.key === 'Enter',
  },
  {
    action: 'cancel',
    keys: 'Shift+X',
    description: 'Cancel the running job',
    match: (e) => plain(e) && e.shiftKey && e.key.toLowerCase() === 'x',
  },
  { action: 'focusPrompt', keys: 'Alt+A', description: 'Focus the prompt', inInputs: true, match: (e) => e.altKey && e.code === 'KeyA' },
  { action: 'useAll', keys: 'A', description: 'Use All parameters of the current image', match: key('a') },
  { action: 'useSeed', keys: 'S', description: 'Use the seed of the current image', match: key('s') },
  { action: 'usePrompt', keys: 'P', description: 'Use the prompt of the current image', match: key('p') },
  { action: 'restoreFaces', keys: 'R', description: 'Restore faces in the current image', match: key('r') },
  { action: 'upscale', keys: 'U', description: 'Upscale the current image', match: key('u') },
  { action: 'toggleMetadata', keys: 'I', description: 'Show or hide the image metadata', match: key('i') },
  {
    action: 'sendToImageToImage',
    keys: 'Shift+I',
    description: 'Use the current image as the initial image',
    match: (e) => plain(e) && e.shiftKey && e.key.toLowerCase() === 'i',
  },
  { action: 'deleteImage', keys: 'Delete', description: 'Delete the current image', match: (e) => plain(e) && e.key === 'Delete' },
  { action: 'toggleGallery', keys: 'G', description: 'Show or hide the gallery', match: key('g') },
  { action: 'previousImage', keys: '←', description: 'Previous (newer) image in the gallery', match: (e) => plain(e) && e.key === 'ArrowLeft' },
  { action: 'nextImage', keys: '→', description: 'Next (older) image in the gallery', match: (e) => plain(e) && e.key === 'ArrowRight' },
  { action: 'textToImageTab', keys: '1', description: 'Text to Image tab', match: key('1') },
  { action: 'imageToImageTab', keys: '2', description: 'Image to Image tab', match: key('2') },
  { action: 'outpaintingTab', keys: '3', description: 'Outpainting tab', match: key('3') },
  { action: 'postprocessingTab', keys: '4', description: 'Postprocessing tab', match: key('4') },
  { action: 'toggleTheme', keys: 'T', description: 'Switch between dark and light theme', match: key('t') },
  { action: 'showHotkeys', keys: '?', description: 'Show these shortcuts', match: (e) => e.key === '?' },
];

/** Typing in a field must not trigger single-letter shortcuts. */
export function isTypingTarget(target: EventTarget | null): boolean {
  const el = target as Partial<HTMLInputElement> | null;
  if (!el || typeof el.tagName !== 'string') return false;
  const tag = el.tagName;
  if (tag === 'TEXTAREA' || tag === 'SELECT' || el.isContentEditable) return true;
  if (tag !== 'INPUT') return false;
  const type = el.type ?? 'text';
  return !['checkbox', 'radio', 'range', 'button', 'submit'].includes(type);
}

export function findHotkey(e: KeyboardEvent): Hotkey | undefined {
  const typing = isTypingTarget(e.target);
  return HOTKEYS.find((h) => (!typing || h.inInputs) && h.match(e));
}
