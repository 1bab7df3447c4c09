/** The keyboard shortcuts: one table that both the key handler and the help panel read. */
import type { ActiveTab } from './tabsSlice';

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
  | 'showHotkeys'
  | 'inpaintingTab'
  | 'canvasTab'
  | 'maskUndo'
  | 'maskRedo'
  | 'brushTool'
  | 'eraserTool'
  | 'handTool'
  | 'boxTool'
  | 'toggleMask'
  | 'invertMask'
  | 'clearMask'
  | 'brushSmaller'
  | 'brushLarger';

export interface Hotkey {
  action: HotkeyAction;
  keys: string;
  description: string;
  /** A tab's shortcut: it selects this tab. */
  tab?: ActiveTab;
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
  { action: 'textToImageTab', tab: 'txt2img', keys: '1', description: 'Text to Image tab', match: key('1') },
  { action: 'imageToImageTab', tab: 'img2img', keys: '2', description: 'Image to Image tab', match: key('2') },
  { action: 'inpaintingTab', tab: 'inpainting', keys: '3', description: 'Inpainting tab', match: key('3') },
  { action: 'outpaintingTab', tab: 'outpainting', keys: '4', description: 'Outpainting tab', match: key('4') },
  { action: 'canvasTab', tab: 'canvas', keys: '5', description: 'Unified Canvas tab', match: key('5') },
  { action: 'postprocessingTab', tab: 'postprocessing', keys: '6', description: 'Postprocessing tab', match: key('6') },
  {
    action: 'maskUndo',
    keys: 'Ctrl+Z',
    description: 'Canvas: undo the last change (a mask stroke; on the Unified Canvas also a placed or accepted image)',
    match: (e) => (e.ctrlKey || e.metaKey) && !e.shiftKey && !e.altKey && e.key.toLowerCase() === 'z',
  },
  {
    action: 'maskRedo',
    keys: 'Ctrl+Shift+Z',
    description: 'Canvas: redo what was undone (also Ctrl+Y)',
    match: (e) =>
      (e.ctrlKey || e.metaKey) && !e.altKey && ((e.shiftKey && e.key.toLowerCase() === 'z') || (!e.shiftKey && e.key.toLowerCase() === 'y')),
  },
  { action: 'brushTool', keys: 'B', description: 'Canvas: mask brush', match: key('b') },
  { action: 'eraserTool', keys: 'E', description: 'Canvas: mask eraser', match: key('e') },
  { action: 'handTool', keys: 'H', description: 'Canvas: pan tool (or hold Space)', match: key('h') },
  { action: 'boxTool', keys: 'V', description: 'Unified Canvas: move and resize the bounding box', match: key('v') },
  { action: 'toggleMask', keys: 'M', description: 'Canvas: show or hide the mask', match: key('m') },
  {
    action: 'invertMask',
    keys: 'Shift+M',
    description: 'Canvas: invert the mask',
    match: (e) => plain(e) && e.shiftKey && e.key.toLowerCase() === 'm',
  },
  {
    action: 'clearMask',
    keys: 'Shift+C',
    description: 'Canvas: clear the mask',
    match: (e) => plain(e) && e.shiftKey && e.key.toLowerCase() === 'c',
  },
  { action: 'brushSmaller', keys: '[', description: 'Canvas: smaller brush', match: (e) => plain(e) && e.key === '[' },
  { action: 'brushLarger', keys: ']', description: 'Canvas: larger brush', match: (e) => plain(e) && e.key === ']' },
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
