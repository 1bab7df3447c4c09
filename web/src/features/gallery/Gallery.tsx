/** The gallery: a virtualised grid of thumbnails, newest first, loading older pages as you scroll. */
import { memo, useEffect, useLayoutEffect, useRef, useState } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import type { GalleryCategory, ImageInfo } from '../../app/protocol';
import { requestMoreImages } from './galleryThunks';
import { CloseIcon, ControlIcon, ImageIcon, LayersIcon, SeedIcon, TrashIcon } from '../../common/components/Icons';
import { Tooltip } from '../../common/components/Tooltip';
import { fileName, thumbnailUrl } from '../../common/util/imageUrls';
import {
  hasParameters,
  hasSeed,
  loadAllFrom,
  loadSeedFrom,
  requestDeletion,
  sendToImageToImage,
} from '../currentImage/imageActions';
import { galleryImageToControl } from '../control/controlThunks';
import { categoryShown, selectionCleared, selectModeToggled, thumbnailClicked } from './gallerySlice';
import { clickMode } from './selection';

const GAP = 8;
const MIN_THUMB = 96;

const Thumbnail = memo(function Thumbnail({
  image,
  selected,
  picked,
  showPick,
  selectMode,
  size,
}: {
  image: ImageInfo;
  selected: boolean;
  /** In the multi-selection. */
  picked: boolean;
  /** Show the selection checkbox (Select mode, or part of a multi-selection). */
  showPick: boolean;
  selectMode: boolean;
  size: number;
}) {
  const dispatch = useAppDispatch();
  const seed = image.metadata.image?.seed;
  const label = `${fileName(image.url)}${typeof seed === 'number' ? `, seed ${seed}` : ''}`;
  return (
    <div
      className={`thumb ${selected ? 'thumb--selected' : ''} ${picked && showPick ? 'thumb--picked' : ''}`}
      style={{ width: size, height: size }}
      data-testid="gallery-thumb"
      data-url={image.url}
      data-picked={picked}
    >
      <button
        type="button"
        className="thumb__select"
        aria-label={`${selectMode ? 'Toggle' : 'Show'} ${label}`}
        aria-pressed={selectMode ? picked : selected}
        onClick={(e) => dispatch(thumbnailClicked({ image, mode: clickMode(e, selectMode) }))}
      >
        <img src={thumbnailUrl(image.url)} alt={label} loading="lazy" decoding="async" draggable={false} />
      </button>
      {showPick && (
        <input
          type="checkbox"
          className="thumb__pick"
          aria-label={`Select ${label} for batch work`}
          checked={picked}
          data-testid="thumb-pick"
          onChange={() => dispatch(thumbnailClicked({ image, mode: 'toggle' }))}
        />
      )}
      {selected && (
        <span className="thumb__check" aria-hidden="true">
          <svg viewBox="0 0 24 24" width="30" height="30" fill="none" stroke="currentColor" strokeWidth="4" strokeLinecap="round" strokeLinejoin="round">
            <path d="M4 12.5l5 5L20 6.5" />
          </svg>
        </span>
      )}
      <div className="thumb__actions">
        <Tooltip label="Use All parameters">
          <button type="button" className="thumb__action" aria-label="Use All" disabled={!hasParameters(image)} onClick={() => dispatch(loadAllFrom(image))} data-testid="thumb-use-all">
            <LayersIcon size={14} />
          </button>
        </Tooltip>
        <Tooltip label="Use Seed">
          <button type="button" className="thumb__action" aria-label="Use Seed" disabled={!hasSeed(image)} onClick={() => dispatch(loadSeedFrom(image))} data-testid="thumb-use-seed">
            <SeedIcon size={14} />
          </button>
        </Tooltip>
        <Tooltip label="Use as initial image">
          <button type="button" className="thumb__action" aria-label="Use as initial image" onClick={() => dispatch(sendToImageToImage(image))} data-testid="thumb-use-initial">
            <ImageIcon size={14} />
          </button>
        </Tooltip>
        <Tooltip label="Use as control image: the picture of a control unit (Control section)">
          <button type="button" className="thumb__action" aria-label="Use as control image" onClick={() => dispatch(galleryImageToControl(image))} data-testid="thumb-use-control">
            <ControlIcon size={14} />
          </button>
        </Tooltip>
        <Tooltip label="Delete image">
          <button type="button" className="thumb__action thumb__action--danger" aria-label="Delete image" onClick={() => dispatch(requestDeletion(image))} data-testid="thumb-delete">
            <TrashIcon size={14} />
          </button>
        </Tooltip>
      </div>
    </div>
  );
});

function useWidth(ref: React.RefObject<HTMLElement | null>): number {
  const [width, setWidth] = useState(0);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    setWidth(el.clientWidth);
    const observer = new ResizeObserver(() => setWidth(el.clientWidth));
    observer.observe(el);
    return () => observer.disconnect();
  }, [ref]);
  return width;
}

function GalleryGrid({ category }: { category: GalleryCategory }) {
  const dispatch = useAppDispatch();
  const cat = useAppSelector((s) => s.gallery.categories[category]);
  const currentUrl = useAppSelector((s) => s.gallery.currentImage?.url);
  const picked = useAppSelector((s) => s.gallery.selection.urls);
  const selectMode = useAppSelector((s) => s.gallery.isSelectMode);
  const showPicks = selectMode || picked.length > 1;
  const isConnected = useAppSelector((s) => s.system.isConnected);
  const scrollRef = useRef<HTMLDivElement>(null);
  const width = useWidth(scrollRef);
  const inner = Math.max(0, width - GAP);
  const columns = Math.max(1, Math.floor((inner + GAP) / (MIN_THUMB + GAP)));
  const size = Math.max(48, Math.floor((inner - GAP * (columns - 1)) / columns));
  const rows = Math.ceil(cat.images.length / columns);

  const virtualizer = useVirtualizer({
    count: rows,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => size + GAP,
    overscan: 4,
  });
  useEffect(() => virtualizer.measure(), [size, virtualizer]);

  const items = virtualizer.getVirtualItems();
  const lastRow = items.length > 0 ? items[items.length - 1].index : -1;
  // Infinite scroll: ask for the next page when the last rows come into view (or the grid is not full).
  useEffect(() => {
    if (!isConnected || !cat.hasLoaded || cat.isFetching || !cat.areMoreImagesAvailable) return;
    if (lastRow >= rows - 3) dispatch(requestMoreImages(category));
  }, [lastRow, rows, cat.hasLoaded, cat.isFetching, cat.areMoreImagesAvailable, isConnected, category, dispatch]);

  return (
    <div className="gallery__scroll" ref={scrollRef} data-testid={`gallery-grid-${category}`}>
      {cat.hasLoaded && cat.images.length === 0 ? (
        <p className="gallery__empty">{category === 'result' ? 'No images yet. Your invocations will appear here.' : 'No uploads yet.'}</p>
      ) : (
        <div className="gallery__inner" style={{ height: virtualizer.getTotalSize() }}>
          {items.map((row) => (
            <div
              key={row.key}
              className="gallery__row"
              style={{ transform: `translateY(${row.start}px)`, gap: GAP, height: size }}
            >
              {cat.images.slice(row.index * columns, row.index * columns + columns).map((image) => (
                <Thumbnail
                  key={image.url}
                  image={image}
                  selected={image.url === currentUrl}
                  picked={picked.includes(image.url)}
                  showPick={showPicks}
                  selectMode={selectMode}
                  size={size}
                />
              ))}
            </div>
          ))}
        </div>
      )}
      {cat.hasLoaded && cat.images.length > 0 && (
        <div className="gallery__footer">
          {cat.areMoreImagesAvailable ? (
            <button type="button" className="button button--small" disabled={cat.isFetching || !isConnected} onClick={() => dispatch(requestMoreImages(category))} data-testid="load-more">
              {cat.isFetching ? 'Loading…' : 'Load More'}
            </button>
          ) : (
            <span className="gallery__all-loaded" data-testid="all-images-loaded">
              All Images Loaded
            </span>
          )}
        </div>
      )}
    </div>
  );
}

export function Gallery({ onClose }: { onClose: () => void }) {
  const dispatch = useAppDispatch();
  const category = useAppSelector((s) => s.gallery.currentCategory);
  const resultCount = useAppSelector((s) => s.gallery.categories.result.images.length);
  const userCount = useAppSelector((s) => s.gallery.categories.user.images.length);
  const counts = { result: resultCount, user: userCount };
  const loaded = { result: useAppSelector((s) => s.gallery.categories.result.hasLoaded), user: useAppSelector((s) => s.gallery.categories.user.hasLoaded) };
  const selectedCount = useAppSelector((s) => s.gallery.selection.urls.length);
  const selectMode = useAppSelector((s) => s.gallery.isSelectMode);
  return (
    <aside className="gallery" data-testid="gallery" aria-label="Gallery">
      <header className="gallery__header">
        <h2>Your Invocations</h2>
        <Tooltip label={selectMode ? 'Stop selecting: taps show images again.' : 'Select several images (for Postprocessing): each tap toggles a checkbox. With a mouse, Ctrl/Cmd-click toggles and Shift-click selects a range.'}>
          <button
            type="button"
            className={`icon-button icon-button--sm gallery__select-toggle icon-button--ghost`}
            aria-label="Select several images"
            aria-pressed={selectMode}
            onClick={() => dispatch(selectModeToggled(undefined))}
            data-testid="gallery-select-mode"
          >
            <svg width={16} height={16} viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth={2} strokeLinecap="round" strokeLinejoin="round" aria-hidden="true" focusable="false">
              <rect x="3" y="3" width="8" height="8" rx="1.5" />
              <rect x="13" y="13" width="8" height="8" rx="1.5" />
              <path d="M14 6l2 2 4-4M4.5 17h5" />
            </svg>
          </button>
        </Tooltip>
        <Tooltip label="Hide the gallery (G).">
          <button type="button" className="icon-button icon-button--ghost icon-button--sm" aria-label="Close gallery" onClick={onClose} data-testid="close-gallery">
            <CloseIcon size={16} />
          </button>
        </Tooltip>
      </header>
      <div className="segmented" role="tablist" aria-label="Gallery category">
        {(['result', 'user'] as const).map((c) => (
          <button key={c} type="button" role="tab" aria-selected={category === c} className={`segmented__item ${category === c ? 'segmented__item--active' : ''}`} onClick={() => dispatch(categoryShown(c))} data-testid={`gallery-category-${c}`}>
            {c === 'result' ? 'Results' : 'Uploads'}
            <span className="segmented__count" data-testid={`gallery-count-${c}`} data-loaded={loaded[c]}>
              {counts[c]}
            </span>
          </button>
        ))}
      </div>
      {(selectMode || selectedCount > 1) && (
        <div className="gallery__selection" role="status" data-testid="gallery-selection">
          <span data-testid="selection-count">
            {selectedCount} selected
          </span>
          <Tooltip label="Clear the selection.">
            <button type="button" className="button button--small" onClick={() => dispatch(selectionCleared())} disabled={selectedCount === 0 && !selectMode} data-testid="clear-selection">
              Clear selection
            </button>
          </Tooltip>
        </div>
      )}
      <GalleryGrid key={category} category={category} />
    </aside>
  );
}
