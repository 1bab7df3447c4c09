/** The desktop window's JavaScript bridge (pywebview) and the window events its native layer dispatches. */
import type { ImageInfo } from './protocol';

/** Where the bridge puts a picked or dropped file other than the Uploads (bridge.py's destinations). */
export type UploadDestination = 'control';

/** The names bridge.py reads on a drop's DOM event (DROP_DESTINATION_KEY, DROP_UNIT_KEY), and the window
 * event it answers a control unit's drop with (CONTROL_DROPPED_EVENT). */
export const DROP_DESTINATION_KEY = 'invokeaiDestination';
export const DROP_UNIT_KEY = 'invokeaiUnit';
export const CONTROL_DROPPED_EVENT = 'controlImageDropped';

/** What bridge.py announces with CONTROL_DROPPED_EVENT: the unit dropped on and its uploaded picture. */
export interface ControlDropDetail {
  unit: string;
  image: Partial<ImageInfo>;
}

/** What a bridge call answers when it failed; the server has already shown the message as a toast. */
export interface BridgeError {
  error: string;
}

/** `window.pywebview.api` in the desktop window (invokeai_gui/desktop/bridge.py); null means cancelled. */
export interface DesktopApi {
  /** With destination `control` the picture is a control unit's (kept outside the gallery). */
  openImage?: (destination?: UploadDestination) => Promise<Partial<ImageInfo> | BridgeError | null>;
  chooseOutputFolder?: () => Promise<{ outdir: string } | BridgeError | null>;
  saveImageAs?: (url: string) => Promise<{ path: string } | BridgeError | null>;
  revealInFolder?: (url: string) => Promise<{ folder: string } | BridgeError>;
}

declare global {
  interface Window {
    pywebview?: { api?: DesktopApi };
  }
}

/** True inside the desktop window, where files are chosen with the native dialog. */
export function hasDesktopBridge(): boolean {
  return typeof window !== 'undefined' && typeof window.pywebview?.api?.openImage === 'function';
}

function desktopApi(): DesktopApi | undefined {
  return typeof window === 'undefined' ? undefined : window.pywebview?.api;
}

/** Completes what the bridge returns into an ImageInfo of an uploaded image. */
export function toUploadedImage(info: Partial<ImageInfo>): ImageInfo | null {
  if (typeof info.url !== 'string' || info.url === '') return null;
  return {
    url: info.url,
    mtime: typeof info.mtime === 'number' ? info.mtime : Date.now() / 1000,
    metadata: info.metadata ?? {},
    width: typeof info.width === 'number' ? info.width : 0,
    height: typeof info.height === 'number' ? info.height : 0,
    category: info.category ?? 'user',
  };
}

/** Opens the native file dialog; the bridge uploads the chosen file (into the Uploads, or with `destination`)
 * and returns it, or null if cancelled or failed. */
export async function openImageNative(destination?: UploadDestination): Promise<ImageInfo | null> {
  const api = desktopApi();
  if (!api?.openImage) return null;
  const info = await (destination ? api.openImage(destination) : api.openImage());
  return info && !('error' in info) ? toUploadedImage(info) : null;
}

/** The native folder dialog; the server switches its output folder and its socket event reloads the gallery. */
export async function chooseOutputFolderNative(): Promise<{ outdir: string } | BridgeError | null> {
  const api = desktopApi();
  return api?.chooseOutputFolder ? api.chooseOutputFolder() : null;
}

/** The native save dialog for one gallery image (its url, e.g. `outputs/000001.42.png`). */
export async function saveImageAsNative(url: string): Promise<{ path: string } | BridgeError | null> {
  const api = desktopApi();
  return api?.saveImageAs ? api.saveImageAs(url) : null;
}

/** Shows one gallery image in the platform's file manager. */
export async function revealInFolderNative(url: string): Promise<{ folder: string } | BridgeError | null> {
  const api = desktopApi();
  return api?.revealInFolder ? api.revealInFolder(url) : null;
}

/** The part of a drop event the page needs. */
export interface FileDropEvent {
  dataTransfer: { files: ArrayLike<File> };
  preventDefault: () => void;
}

/**
 * A drop of files on the page. The browser's default (opening the file in place of the studio) is
 * always cancelled; in the desktop window the native layer uploads the dropped file itself and
 * announces it with `initialImageDropped`, so uploading here too would upload it twice.
 */
export function handleFileDrop(e: FileDropEvent, upload: (file: File) => void): void {
  const file = e.dataTransfer.files[0];
  if (!file) return; // text dragged into the prompt keeps its default
  e.preventDefault();
  if (!hasDesktopBridge()) upload(file);
}

/**
 * A drop on a control unit in the desktop window: the event is marked with where the file goes (the native
 * layer reads the marks when it uploads the dropped file, and answers with CONTROL_DROPPED_EVENT), and it
 * is left to bubble to the document, where the native layer listens. The page uploads nothing itself.
 */
export function markDrop(event: object, destination: UploadDestination, unit: string): void {
  Object.assign(event, { [DROP_DESTINATION_KEY]: destination, [DROP_UNIT_KEY]: unit });
}
