/** What the engine ignored while making the current image (a LoRA not found, an embedding refused), as its metadata records it. */
import type { ImageInfo } from '../../app/protocol';
import { WarningIcon } from '../../common/components/Icons';

/** The result's warnings: strings only, so an old or hand-edited image never breaks the panel. */
export function resultWarnings(image: ImageInfo | null): string[] {
  const warnings = image?.metadata?.image?.warnings;
  return Array.isArray(warnings) ? warnings.filter((w): w is string => typeof w === 'string') : [];
}

export function ResultWarnings({ image }: { image: ImageInfo | null }) {
  const warnings = resultWarnings(image);
  if (warnings.length === 0) return null;
  return (
    <ul className="result-warnings" role="status" aria-label="Ignored while generating this image" data-testid="result-warnings">
      {warnings.map((warning) => (
        <li key={warning} className="result-warnings__item">
          <WarningIcon size={14} /> <span>{warning}</span>
        </li>
      ))}
    </ul>
  );
}
