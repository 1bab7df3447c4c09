/** Gallery multi-selection as a pure function of clicks: plain click, Ctrl/Cmd-click toggle, Shift-click range. */

export interface Selection {
  /** Selected image urls, in the order they were added. */
  urls: string[];
  /** Where a Shift-click range starts: the last image clicked without Shift. */
  anchor: string | null;
  /** What a Shift-click range adds to: the images Ctrl/Cmd-clicked before the anchor (none after a plain click). */
  base?: string[];
}

export type SelectionMode = 'single' | 'toggle' | 'range';

export const EMPTY_SELECTION: Selection = { urls: [], anchor: null };

/** Which kind of selection a click makes, from its modifier keys. */
export function clickMode(e: { ctrlKey: boolean; metaKey: boolean; shiftKey: boolean }, selectMode = false): SelectionMode {
  if (e.shiftKey) return 'range';
  if (e.ctrlKey || e.metaKey || selectMode) return 'toggle';
  return 'single';
}

/**
 * The selection after a click on `url`, with `order` the urls as the gallery shows them.
 * A range selects everything between the anchor and the click (both included), added to what was
 * Ctrl/Cmd-clicked before the anchor, as file managers do; without an anchor on show it starts a new
 * selection at the click.
 */
export function applyClick(selection: Selection, url: string, mode: SelectionMode, order: readonly string[]): Selection {
  switch (mode) {
    case 'single':
      return { urls: [url], anchor: url };
    case 'toggle': {
      const urls = selection.urls.includes(url)
        ? selection.urls.filter((u) => u !== url)
        : [...selection.urls, url];
      return { urls, anchor: url, base: urls.filter((u) => u !== url) };
    }
    case 'range': {
      const from = selection.anchor === null ? -1 : order.indexOf(selection.anchor);
      const to = order.indexOf(url);
      if (from < 0 || to < 0) return { urls: [url], anchor: url };
      const [lo, hi] = from <= to ? [from, to] : [to, from];
      const range = order.slice(lo, hi + 1);
      const base = (selection.base ?? []).filter((u) => !range.includes(u));
      return selection.base ? { urls: [...base, ...range], anchor: selection.anchor, base: selection.base } : { urls: range, anchor: selection.anchor };
    }
  }
}

/** Drops urls that are no longer in the gallery (deleted images). */
export function pruneSelection(selection: Selection, gone: string): Selection {
  if (!selection.urls.includes(gone) && selection.anchor !== gone) return selection;
  return {
    urls: selection.urls.filter((u) => u !== gone),
    anchor: selection.anchor === gone ? null : selection.anchor,
    ...(selection.base ? { base: selection.base.filter((u) => u !== gone) } : {}),
  };
}

/** The current image changed without a selection click (arrow keys, a new result): a lone selection follows it. */
export function followCurrent(selection: Selection, url: string | null): Selection {
  if (selection.urls.length > 1) return selection;
  return url ? { urls: [url], anchor: url } : EMPTY_SELECTION;
}
