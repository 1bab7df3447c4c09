/** The Postprocessing tab's centre: the selected images, and every job this window sent with its progress and result. */
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import type { ImageInfo } from '../../app/protocol';
import { ImageIcon } from '../../common/components/Icons';
import { Tooltip } from '../../common/components/Tooltip';
import { fileName, thumbnailUrl } from '../../common/util/imageUrls';
import { findImage, imageSelected, selectionCleared, selectSelectedImages, thumbnailClicked } from '../gallery/gallerySlice';
import { ProgressBar } from '../system/ProgressBar';
import { activeCount, jobView, type JobView, type TrackedJob } from './jobs';
import { postprocessingJobsCleared } from './postprocessingSlice';
import './postprocessing.css';

function SelectedImages({ images }: { images: ImageInfo[] }) {
  const dispatch = useAppDispatch();
  if (images.length === 0) {
    return (
      <div className="empty-state pp-empty" data-testid="pp-empty">
        <ImageIcon size={40} />
        <p>No images selected.</p>
        <p className="pp-empty__hint">
          Pick them in the gallery: click one, Ctrl/Cmd-click to add more, Shift-click to select a range, or press Select to tick checkboxes.
        </p>
      </div>
    );
  }
  return (
    <ul className="pp-selected" aria-label="Selected images" data-testid="pp-selected">
      {images.map((image) => (
        <li key={image.url} className="pp-card" data-testid="pp-selected-image" data-url={image.url}>
          <img src={thumbnailUrl(image.url)} alt={fileName(image.url)} loading="lazy" />
          <span className="pp-card__name" title={fileName(image.url)}>
            {fileName(image.url)}
          </span>
          <span className="pp-card__size">
            {image.width}×{image.height}
          </span>
          <Tooltip label="Remove from the selection.">
            <button type="button" className="pp-card__remove" aria-label={`Remove ${fileName(image.url)} from the selection`} onClick={() => dispatch(thumbnailClicked({ image, mode: 'toggle' }))}>
              ×
            </button>
          </Tooltip>
        </li>
      ))}
    </ul>
  );
}

function JobRow({ job, view }: { job: TrackedJob; view: JobView }) {
  const dispatch = useAppDispatch();
  const result = useAppSelector((s) => (view.result ? findImage(s.gallery, view.result.url) : undefined));
  return (
    <li className={`pp-job pp-job--${view.state}`} data-testid="pp-job" data-state={view.state} data-job-id={job.jobId ?? ''}>
      <img className="pp-job__thumb" src={thumbnailUrl(job.sourceUrl)} alt="" />
      <div className="pp-job__body">
        <span className="pp-job__title" title={fileName(job.sourceUrl)}>
          {fileName(job.sourceUrl)} · {job.summary}
        </span>
        <span className={`pp-job__status pp-job__status--${view.state}`} data-testid="pp-job-status">
          {view.text}
        </span>
        {view.note && (
          <span className="pp-job__note" role="note" data-testid="pp-job-note">
            {view.note}
          </span>
        )}
      </div>
      {view.result && (
        <Tooltip label="Show the result.">
          <button type="button" className="pp-job__result" aria-label={`Show the result of ${fileName(job.sourceUrl)}`} onClick={() => result && dispatch(imageSelected(result))} disabled={!result} data-testid="pp-job-result" data-url={view.result.url}>
            <img src={thumbnailUrl(view.result.url)} alt="" />
          </button>
        </Tooltip>
      )}
    </li>
  );
}

export function PostprocessingWorkspace() {
  const dispatch = useAppDispatch();
  const images = useAppSelector(selectSelectedImages);
  const jobs = useAppSelector((s) => s.postprocessing.jobs);
  const queue = useAppSelector((s) => s.queue.jobs);
  const progress = useAppSelector((s) => s.postprocessing.progress);
  const results = useAppSelector((s) => s.postprocessing.results);
  const outcomes = useAppSelector((s) => s.postprocessing.finished);
  const views = jobs.map((job) => jobView(job, queue, progress, results, outcomes));
  const active = activeCount(views);
  const finished = jobs.filter((_, i) => !['sending', 'queued', 'running'].includes(views[i].state)).map((j) => j.requestId);
  return (
    <div className="current-image-panel pp-workspace" data-testid="pp-workspace">
      <ProgressBar />
      <div className="pp-heading">
        <h2 data-testid="pp-selected-count">
          {images.length} selected image{images.length === 1 ? '' : 's'}
        </h2>
        {images.length > 0 && (
          <button type="button" className="button button--small" onClick={() => dispatch(selectionCleared())} data-testid="pp-clear-selection">
            Clear selection
          </button>
        )}
      </div>
      <div className="pp-scroll">
        <SelectedImages images={images} />
        {jobs.length > 0 && (
          <section className="pp-jobs" aria-label="Postprocessing jobs" data-testid="pp-jobs">
            <div className="pp-heading">
              <h3>
                Jobs{active > 0 ? ` · ${active} waiting or running` : ''}
              </h3>
              <Tooltip label="Remove finished jobs from this list (their images stay in the gallery).">
                <button type="button" className="button button--small" disabled={finished.length === 0} onClick={() => dispatch(postprocessingJobsCleared(finished))} data-testid="pp-clear-jobs">
                  Clear finished
                </button>
              </Tooltip>
            </div>
            <ul className="pp-job-list">
              {[...jobs].reverse().map((job) => (
                <JobRow key={job.requestId} job={job} view={views[jobs.indexOf(job)]} />
              ))}
            </ul>
          </section>
        )}
      </div>
    </div>
  );
}
