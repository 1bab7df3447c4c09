/** The desktop window's JavaScript bridge (pywebview) and the window events its native layer dispatches. */
import type { ImageInfo } from './protocol';

interface DesktopApi {
  openImage?: () => Promise<Partial<ImageInfo> | null>;
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

/** Opens the native file dialog; the bridge uploads the chosen file and returns it, or null if cancelled. */
export async function openImageNative(): Promise<ImageInfo | null> {
  const api = window.pywebview?.api;
  if (!api?.openImage) return null;
  const info = await api.openImage();
  return info ? toUploadedImage(info) : null;
}
