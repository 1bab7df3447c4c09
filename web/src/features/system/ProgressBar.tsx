/** The running job's progress: a bar, step and image counts, speed, time left and status text. */
import { useAppSelector } from '../../app/hooks';

export function formatEta(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, '0')}`;
}

export function ProgressBar() {
  const p = useAppSelector((s) => s.system);
  const fraction = p.isProcessing && p.totalSteps > 0 ? Math.min(1, p.currentStep / p.totalSteps) : 0;
  const parts: string[] = [];
  if (p.isProcessing && p.currentStatusHasSteps && p.totalSteps > 0) parts.push(`Step ${p.currentStep}/${p.totalSteps}`);
  if (p.isProcessing && p.totalIterations > 1) parts.push(`Image ${p.currentIteration}/${p.totalIterations}`);
  if (p.isProcessing && p.itPerSec !== null) parts.push(`${p.itPerSec.toFixed(p.itPerSec < 10 ? 2 : 1)} it/s`);
  if (p.isProcessing && p.eta !== null) parts.push(`ETA ${formatEta(p.eta)}`);
  return (
    <div className={`progress ${p.isProcessing ? 'progress--active' : ''}`} data-testid="progress">
      <div
        className={`progress__bar ${p.isProcessing && !p.currentStatusHasSteps ? 'progress__bar--indeterminate' : ''}`}
        role="progressbar"
        aria-valuemin={0}
        aria-valuemax={p.totalSteps}
        aria-valuenow={p.currentStep}
        aria-label="Generation progress"
      >
        <div className="progress__fill" style={{ width: `${fraction * 100}%` }} />
      </div>
      <div className="progress__text">
        <span className={`progress__status ${p.hasError ? 'progress__status--error' : ''}`} data-testid="status-text">
          {p.currentStatus}
        </span>
        {parts.length > 0 && <span className="progress__details" data-testid="progress-details">{parts.join(' · ')}</span>}
      </div>
    </div>
  );
}
