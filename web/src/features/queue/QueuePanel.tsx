/** The job queue: what waits, runs or was paused by a crash, with cancel per job and Resume, in a strip
 * of fixed height under Invoke, so that nothing below it moves when a job starts or ends. */
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { cancelProcessing, resumeQueue } from '../../app/socketio/actions';
import { CloseIcon, PlayIcon } from '../../common/components/Icons';
import { Tooltip } from '../../common/components/Tooltip';
import { isJobActive } from './queueSlice';

const STATUS_LABEL: Record<string, string> = {
  queued: 'Queued',
  running: 'Running',
  paused: 'Paused',
  done: 'Done',
  failed: 'Failed',
  canceled: 'Canceled',
};

export function QueuePanel() {
  const dispatch = useAppDispatch();
  const jobs = useAppSelector((s) => s.queue.jobs);
  const cancelRequested = useAppSelector((s) => s.queue.cancelRequested);
  const progress = useAppSelector((s) => s.workers.progress);
  const previews = useAppSelector((s) => s.workers.previews);
  const active = jobs.filter(isJobActive);
  if (active.length === 0) {
    return (
      <div className="queue-slot">
        <p className="queue queue--idle" data-testid="queue-idle">
          <span className="queue__title">Queue</span> Nothing waiting: Invoke starts at once.
        </p>
      </div>
    );
  }
  const paused = active.some((j) => j.status === 'paused');
  return (
    <div className="queue-slot">
    <div className="queue" data-testid="queue-panel">
      <div className="queue__header">
        <span className="queue__title">Queue · {active.length}</span>
        {paused && (
          <Tooltip label="Resume the jobs that were paused when the server stopped.">
            <button type="button" className="button button--small button--accent" data-testid="resume-queue" onClick={() => dispatch(resumeQueue())}>
              <PlayIcon size={12} /> Resume
            </button>
          </Tooltip>
        )}
      </div>
      <ul className="queue__list">
        {active.map((job) => {
          const canceling = cancelRequested.includes(job.id);
          // Several jobs may run at once (a pool of workers): each running entry shows its own worker and progress.
          const p = job.status === 'running' ? progress[job.id] : undefined;
          const preview = job.status === 'running' ? previews[job.id] : undefined;
          return (
            <li key={job.id} className={`queue__job queue__job--${job.status}`} data-testid="queue-job" data-status={job.status}>
              <span className={`queue__status queue__status--${job.status}`}>{STATUS_LABEL[job.status] ?? job.status}</span>
              <span className="queue__summary" title={job.summary}>
                {job.summary}
              </span>
              <Tooltip label={canceling ? 'Canceling…' : 'Cancel this job.'}>
                <button
                  type="button"
                  className="icon-button icon-button--ghost icon-button--sm"
                  aria-label={`Cancel job ${job.summary}`}
                  data-testid="cancel-job"
                  disabled={canceling}
                  onClick={() => dispatch(cancelProcessing(job.id))}
                >
                  <CloseIcon size={14} />
                </button>
              </Tooltip>
              {job.status === 'running' && (job.worker || p) && (
                <span className="queue__running" data-testid="queue-job-progress">
                  {job.worker && <span className="queue__worker" data-testid="queue-job-worker">{job.worker}</span>}
                  {p && p.steps > 0 && (
                    <>
                      <progress className="queue__progress" max={p.steps} value={p.step} />
                      <span className="queue__steps">
                        {p.step}/{p.steps}
                        {p.iterations > 1 ? ` · ${p.iteration}/${p.iterations}` : ''}
                      </span>
                    </>
                  )}
                  {preview && <img className="queue__preview" src={preview} alt="" data-testid="queue-job-preview" />}
                </span>
              )}
            </li>
          );
        })}
      </ul>
    </div>
    </div>
  );
}
