/** The Workers panel: each worker of a pool (name, host, device, loaded model, current job, speed, alive). */
import { useAppSelector } from '../../app/hooks';

export function WorkersPanel() {
  const workers = useAppSelector((s) => s.workers.workers);
  const jobs = useAppSelector((s) => s.queue.jobs);
  const progress = useAppSelector((s) => s.workers.progress);
  // One in-process worker is what the progress bar already shows; the panel is for a pool.
  if (workers.length < 2) return null;
  const busy = workers.filter((w) => w.job).length;
  return (
    <div className="workers" data-testid="workers-panel">
      <div className="workers__title">
        Workers · {busy}/{workers.length} busy
      </div>
      <ul className="workers__list">
        {workers.map((w) => {
          const job = w.job ? jobs.find((j) => j.id === w.job) : undefined;
          const p = w.job ? progress[w.job] : undefined;
          const speed = w.itsPerSecond > 0 ? `${w.itsPerSecond.toFixed(1)} it/s` : '';
          return (
            <li
              key={w.id}
              className={`workers__worker${w.alive ? '' : ' workers__worker--dead'}`}
              data-testid="worker"
              data-worker={w.id}
              data-alive={String(w.alive)}
            >
              <span className={`workers__dot workers__dot--${!w.alive ? 'dead' : w.job ? 'busy' : 'idle'}`} aria-hidden="true" />
              <span className="workers__name">{w.id}</span>
              <span className="workers__where" title={`${w.host} · ${w.device ?? 'device unknown'}`}>
                {w.host} · {w.device ?? '?'}
              </span>
              <span className="workers__model" title={w.model ?? 'no model loaded'}>
                {w.model ?? '—'}
              </span>
              <span className="workers__job" data-testid="worker-job" title={job?.summary ?? ''}>
                {!w.alive ? 'restarting…' : w.job ? (p && p.steps ? `step ${p.step}/${p.steps}` : 'starting…') : 'idle'}
              </span>
              <span className="workers__speed">{speed}</span>
            </li>
          );
        })}
      </ul>
    </div>
  );
}
