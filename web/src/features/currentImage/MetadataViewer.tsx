/** Every metadata field of an image, each copyable, the raw JSON, and a reproducibility warning. */
import { Fragment, useEffect } from 'react';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import type { ImageInfo } from '../../app/protocol';
import { CloseIcon, CopyIcon, WarningIcon } from '../../common/components/Icons';
import { Tooltip } from '../../common/components/Tooltip';
import { reproducibilityWarning } from '../../common/util/parameterTranslation';
import { toastAdded } from '../system/systemSlice';
import { metadataToggled } from './currentImageSlice';
import { MetadataControl } from '../control/MetadataControl';

/** Flattens nested metadata into (label, text) rows: `image.seed`, `image.prompt`, ... */
export function metadataRows(value: unknown, prefix = ''): Array<[string, string]> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    return [[prefix, text ?? '']];
  }
  const rows: Array<[string, string]> = [];
  for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
    const label = prefix ? `${prefix}.${key}` : key;
    if (inner !== null && typeof inner === 'object' && !Array.isArray(inner)) rows.push(...metadataRows(inner, label));
    else rows.push([label, typeof inner === 'string' ? inner : JSON.stringify(inner)]);
  }
  return rows;
}

/** Clipboard API where the page is a secure context, a hidden textarea otherwise (LAN over http). */
async function copyText(text: string): Promise<void> {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.style.position = 'fixed';
  area.style.opacity = '0';
  document.body.appendChild(area);
  area.select();
  const ok = document.execCommand('copy');
  area.remove();
  if (!ok) throw new Error('copy refused');
}

/** A key such as `image.postprocessing.0.strength`, breakable only after its dots and underscores. */
function KeyName({ label }: { label: string }) {
  const parts = label.split(/(?<=[._])/);
  return (
    <>
      {parts.map((part, i) => (
        <Fragment key={i}>
          {i > 0 && <wbr />}
          <span className="metadata__key-part">{part}</span>
        </Fragment>
      ))}
    </>
  );
}

export function MetadataViewer({ image }: { image: ImageInfo }) {
  const dispatch = useAppDispatch();
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && !document.querySelector('[role="dialog"][aria-modal="true"]')) dispatch(metadataToggled(false));
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [dispatch]);
  const config = useAppSelector((s) => s.system.config);
  const warning = reproducibilityWarning(image.metadata, config ?? {});
  const rows: Array<[string, string]> = [
    ['url', image.url],
    ['size', `${image.width} × ${image.height}`],
    ...metadataRows(image.metadata),
  ];
  const raw = JSON.stringify(image.metadata, null, 2);
  const copy = (label: string, text: string) =>
    copyText(text).then(
      () => dispatch(toastAdded({ kind: 'info', message: `Copied ${label}.` })),
      () => dispatch(toastAdded({ kind: 'error', message: 'The browser refused to copy to the clipboard.' })),
    );
  const empty = Object.keys(image.metadata).length === 0;
  return (
    <aside className="metadata" data-testid="metadata-viewer" aria-label="Image metadata">
      <header className="metadata__header">
        <h3>Metadata</h3>
        <button type="button" className="icon-button icon-button--ghost icon-button--sm" aria-label="Close metadata (Esc)" data-testid="close-metadata" onClick={() => dispatch(metadataToggled(false))}>
          <CloseIcon size={14} />
        </button>
      </header>
      {warning && (
        <p className="metadata__warning" role="alert" data-testid="metadata-warning">
          <WarningIcon size={16} /> {warning}
        </p>
      )}
      {empty && <p className="hint">This image carries no generation metadata.</p>}
      <MetadataControl image={image} />
      <dl className="metadata__rows">
        {rows.map(([label, text]) => (
          <div className="metadata__row" key={label} data-field={label}>
            <dt>
              <KeyName label={label} />
            </dt>
            <dd>
              <span className="metadata__value">{text}</span>
              <Tooltip label={`Copy ${label}`}>
                <button type="button" className="metadata__copy" aria-label={`Copy ${label}`} onClick={() => copy(label, text)}>
                  <CopyIcon size={12} />
                </button>
              </Tooltip>
            </dd>
          </div>
        ))}
      </dl>
      <div className="metadata__raw">
        <div className="metadata__raw-header">
          <span>Raw JSON</span>
          <button type="button" className="button button--small" onClick={() => copy('the raw JSON', raw)} data-testid="copy-raw-json">
            <CopyIcon size={12} /> Copy
          </button>
        </div>
        <pre data-testid="metadata-json">{raw}</pre>
      </div>
    </aside>
  );
}
