import { configureStore } from '@reduxjs/toolkit';
import { createElement, type ReactElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { Provider } from 'react-redux';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  chooseOutputFolderNative,
  handleFileDrop,
  openImageNative,
  revealInFolderNative,
  saveImageAsNative,
  type DesktopApi,
  type FileDropEvent,
} from './desktopBridge';
import { preloadedState, rootReducer } from './store';
import type { ImageInfo } from './protocol';
import { DesktopImageButtons } from '../features/currentImage/DesktopImageButtons';
import { OutputFolderSetting } from '../features/system/SettingsModal';

/** A stand-in for pywebview's `window.pywebview.api` that records what the page asked. */
function fakeDesktop(overrides: Partial<DesktopApi> = {}) {
  const calls: Array<{ call: string; args: unknown[] }> = [];
  const api: DesktopApi = {
    openImage: async () => (calls.push({ call: 'openImage', args: [] }), null),
    chooseOutputFolder: async () => (calls.push({ call: 'chooseOutputFolder', args: [] }), { outdir: '/tmp/new' }),
    saveImageAs: async (url: string) => (calls.push({ call: 'saveImageAs', args: [url] }), { path: '/tmp/copy.png' }),
    revealInFolder: async (url: string) => (calls.push({ call: 'revealInFolder', args: [url] }), { folder: '/tmp/outputs' }),
    ...overrides,
  };
  vi.stubGlobal('window', { pywebview: { api } });
  return calls;
}

function dropOf(files: File[]) {
  const event: FileDropEvent & { prevented: boolean } = {
    dataTransfer: { files },
    prevented: false,
    preventDefault() {
      event.prevented = true;
    },
  };
  return event;
}

const image: ImageInfo = { url: 'outputs/000001.42.png', mtime: 1, metadata: {}, width: 64, height: 64, category: 'result' };

function render(element: ReactElement): string {
  const store = configureStore({ reducer: rootReducer, preloadedState: preloadedState(null) });
  return renderToStaticMarkup(createElement(Provider, { store, children: element }));
}

afterEach(() => vi.unstubAllGlobals());

describe('dropping files on the page', () => {
  const png = new File([new Uint8Array([1, 2, 3])], 'a.png', { type: 'image/png' });

  it('uploads the dropped file from the page in a browser', () => {
    vi.stubGlobal('window', {});
    const uploaded: File[] = [];
    const event = dropOf([png]);
    handleFileDrop(event, (f) => uploaded.push(f));
    expect(uploaded).toEqual([png]);
    expect(event.prevented).toBe(true);
  });

  it('leaves the upload to the native layer in the desktop window, cancelling only the default', () => {
    const calls = fakeDesktop();
    const uploaded: File[] = [];
    const event = dropOf([png]);
    handleFileDrop(event, (f) => uploaded.push(f));
    expect(uploaded).toEqual([]);
    expect(event.prevented).toBe(true);
    expect(calls).toEqual([]);
  });

  it('keeps the default for drops without files (text dragged into the prompt)', () => {
    vi.stubGlobal('window', {});
    const uploaded: File[] = [];
    const event = dropOf([]);
    handleFileDrop(event, (f) => uploaded.push(f));
    expect(uploaded).toEqual([]);
    expect(event.prevented).toBe(false);
  });
});

describe('the desktop bridge calls', () => {
  it('passes the image url to saveImageAs and revealInFolder and answers what they answer', async () => {
    const calls = fakeDesktop();
    expect(await saveImageAsNative(image.url)).toEqual({ path: '/tmp/copy.png' });
    expect(await revealInFolderNative(image.url)).toEqual({ folder: '/tmp/outputs' });
    expect(await chooseOutputFolderNative()).toEqual({ outdir: '/tmp/new' });
    expect(calls).toEqual([
      { call: 'saveImageAs', args: ['outputs/000001.42.png'] },
      { call: 'revealInFolder', args: ['outputs/000001.42.png'] },
      { call: 'chooseOutputFolder', args: [] },
    ]);
  });

  it('hands a failed call’s {error} back without raising', async () => {
    fakeDesktop({ revealInFolder: async () => ({ error: 'No such image.' }), openImage: async () => ({ error: 'Not an image.' }) });
    expect(await revealInFolderNative('outputs/gone.png')).toEqual({ error: 'No such image.' });
    expect(await openImageNative()).toBeNull();
  });

  it('does nothing in a browser', async () => {
    vi.stubGlobal('window', {});
    expect(await saveImageAsNative(image.url)).toBeNull();
    expect(await revealInFolderNative(image.url)).toBeNull();
    expect(await chooseOutputFolderNative()).toBeNull();
  });
});

describe('the desktop-only buttons', () => {
  it('are absent in a browser', () => {
    vi.stubGlobal('window', {});
    expect(render(createElement(DesktopImageButtons, { image }))).toBe('');
    expect(render(createElement(OutputFolderSetting))).toBe('');
  });

  it('show Save as…, Show in folder and Output folder… in the desktop window', () => {
    fakeDesktop();
    const toolbar = render(createElement(DesktopImageButtons, { image }));
    expect(toolbar).toContain('aria-label="Save as…"');
    expect(toolbar).toContain('data-testid="save-image-as"');
    expect(toolbar).toContain('aria-label="Show in folder"');
    expect(toolbar).toContain('data-testid="reveal-in-folder"');
    expect(toolbar).not.toContain('disabled');
    expect(render(createElement(DesktopImageButtons, { image: null }))).toContain('disabled');
    const settings = render(createElement(OutputFolderSetting));
    expect(settings).toContain('data-testid="choose-output-folder"');
    expect(settings).toContain('Output folder…');
  });
});
