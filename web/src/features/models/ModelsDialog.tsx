/** The Models dialog: every model with its status, Load and Remove, the control models, and forms to add a model or scan a folder. */
import { useCallback, useEffect, useId, useState, type FormEvent } from 'react';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { cancelProcessing, requestModelChange } from '../../app/socketio/actions';
import { deleteModel, importModel, scanModelFolder, setDefaultModel } from './modelsThunks';
import { Modal } from '../../common/components/Modal';
import { SwitchField } from '../../common/components/Fields';
import { Tooltip } from '../../common/components/Tooltip';
import { CloseIcon } from '../../common/components/Icons';
import { ControlModels } from './ControlModels';
import { formatLabel, pathProblem, removeBlocker, sortedModels, statusLabel, type ModelRow } from './modelList';
import { modelOutcomeDismissed, modelsDialogClosed, type ModelOutcome, type PendingModelOperation } from './modelsSlice';
import './models.css';

/** A stack of cards: the header button's icon for the dialog. */
export function ModelsIcon({ size = 18 }: { size?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth={2}
      strokeLinecap="round" strokeLinejoin="round" aria-hidden="true" focusable="false">
      <ellipse cx="12" cy="6" rx="8" ry="3" />
      <path d="M4 6v6c0 1.7 3.6 3 8 3s8-1.3 8-3V6" />
      <path d="M4 12v6c0 1.7 3.6 3 8 3s8-1.3 8-3v-6" />
    </svg>
  );
}

const PENDING_VERB: Record<PendingModelOperation['operation'], string> = {
  import: 'Adding',
  scan: 'Scanning',
  delete: 'Removing',
  default: 'Setting the default to',
};

interface RowProps {
  row: ModelRow;
  disabled: boolean;
  isLoading: boolean;
  isConfirming: boolean;
  onLoad: (name: string) => void;
  onAskRemove: (name: string | null) => void;
  onRemove: (name: string) => void;
  onMakeDefault: (name: string) => void;
}

function ModelRowItem({ row, disabled, isLoading, isConfirming, onLoad, onAskRemove, onRemove, onMakeDefault }: RowProps) {
  const blocker = removeBlocker(row);
  const format = formatLabel(row);
  const statusClass = row.status === 'not loaded' ? 'idle' : row.status;
  return (
    <li className={`models__row ${row.status === 'active' ? 'models__row--active' : ''}`} data-testid="model-row" data-model={row.name}>
      <div className="models__row-main">
        <div className="models__row-title">
          <span className="models__name">{row.name}</span>
          <span className={`models__status models__status--${statusClass}`} data-testid="model-status">
            {statusLabel(row.status)}
          </span>
          {format && <span className="models__tag">{format}</span>}
          {row.default && (
            <span className="models__tag models__tag--default" data-testid="model-default">
              Default
            </span>
          )}
        </div>
        {row.description && (
          <div className="models__description" title={row.description}>
            {row.description}
          </div>
        )}
      </div>
      <div className="models__row-actions">
        {isLoading && <span className="spinner" role="status" aria-label={`Loading ${row.name}`} />}
        <Tooltip label={row.status === 'active' ? `${row.name} is the model in use.` : `Load ${row.name} and use it for new images.`}>
          <button
            type="button"
            className="button button--small"
            data-testid="model-load"
            aria-label={`Load ${row.name}`}
            disabled={disabled || row.status === 'active'}
            onClick={() => onLoad(row.name)}
          >
            Load
          </button>
        </Tooltip>
        <Tooltip label={row.default ? `${row.name} is loaded when the server starts.` : `Make ${row.name} the model the server loads when it starts.`}>
          <button
            type="button"
            className="button button--small"
            data-testid="model-make-default"
            aria-label={`Make ${row.name} the default`}
            disabled={disabled || row.default === true}
            onClick={() => onMakeDefault(row.name)}
          >
            Make default
          </button>
        </Tooltip>
        <Tooltip label={blocker ?? `Remove ${row.name} from the model list (models.yaml). Its files stay on disk.`}>
          <button
            type="button"
            className="button button--small models__remove"
            data-testid="model-remove"
            aria-label={`Remove ${row.name}`}
            aria-disabled={blocker !== null}
            disabled={disabled || blocker !== null}
            onClick={() => onAskRemove(row.name)}
          >
            Remove
          </button>
        </Tooltip>
      </div>
      {isConfirming && (
        <div className="models__confirm" role="group" aria-label={`Confirm removing ${row.name}`} data-testid="model-remove-confirmation">
          <p>
            Remove <strong>{row.name}</strong> from the model list? Only its models.yaml entry goes; the model&apos;s
            files are not deleted, and you can add it again later.
          </p>
          <div className="models__confirm-buttons">
            <button type="button" className="button button--small" autoFocus onClick={() => onAskRemove(null)} data-testid="model-remove-cancel">
              Keep
            </button>
            <button type="button" className="button button--small button--danger" disabled={disabled} onClick={() => onRemove(row.name)} data-testid="model-remove-confirm">
              Remove entry
            </button>
          </div>
        </div>
      )}
    </li>
  );
}

function OperationStatus({ pending, outcome }: { pending: PendingModelOperation | null; outcome: ModelOutcome | null }) {
  const dispatch = useAppDispatch();
  // A running scan's progress ("Scanning 120/3000 files") is the job's status line.
  const scanProgress = useAppSelector((s) => (s.system.isProcessing && s.system.currentStatus.startsWith('Scanning ') ? s.system.currentStatus : null));
  if (pending) {
    return (
      <div className="models__outcome models__outcome--pending" role="status" data-testid="models-pending">
        <span className="spinner" aria-hidden="true" />
        <span>
          {PENDING_VERB[pending.operation]} <code>{pending.target}</code>…
          {pending.operation === 'scan' && pending.jobId && scanProgress && (
            <span className="models__scan-progress" data-testid="models-scan-progress"> {scanProgress}</span>
          )}
        </span>
        {pending.operation === 'scan' && pending.jobId && (
          <Tooltip label="Stop the scan after the file it is reading; what it found so far stays in the list.">
            <button
              type="button"
              className="button button--small models__cancel-scan"
              data-testid="models-cancel-scan"
              onClick={() => pending.jobId && dispatch(cancelProcessing(pending.jobId))}
            >
              Cancel scan
            </button>
          </Tooltip>
        )}
      </div>
    );
  }
  if (!outcome) return null;
  const isError = outcome.kind === 'error';
  return (
    <div
      className={`models__outcome models__outcome--${outcome.kind}`}
      role={isError ? 'alert' : 'status'}
      data-testid={isError ? 'models-error' : 'models-success'}
    >
      <div className="models__outcome-text">
        <span className="models__outcome-message">{outcome.message}</span>
        {outcome.skipped.length > 0 && (
          <details className="models__skipped">
            <summary>
              {outcome.skipped.length} file{outcome.skipped.length === 1 ? '' : 's'} left alone
            </summary>
            <ul>
              {outcome.skipped.map((s) => (
                <li key={s.path}>
                  <code>{s.path}</code>: {s.reason}
                </li>
              ))}
            </ul>
          </details>
        )}
      </div>
      <button type="button" className="icon-button icon-button--ghost icon-button--sm" aria-label="Dismiss" onClick={() => dispatch(modelOutcomeDismissed())}>
        <CloseIcon size={14} />
      </button>
    </div>
  );
}

/** Clears a form's fields once its own operation succeeded. */
function useClearOnSuccess(operation: ModelOutcome['operation'], clear: () => void) {
  const outcome = useAppSelector((s) => s.models.outcome);
  useEffect(() => {
    if (outcome?.kind === 'success' && outcome.operation === operation) clear();
  }, [outcome, operation, clear]);
}

/** A path on the server's machine, as both forms ask for one. */
function PathField(props: {
  label: string;
  tooltip: string;
  placeholder: string;
  value: string;
  onChange: (value: string) => void;
  testId: string;
}) {
  const id = useId();
  return (
    <div className="field models__field--path">
      <label htmlFor={id} className="field__label">{props.label}</label>
      <Tooltip label={props.tooltip} block>
        <input
          id={id}
          className="field__input field__input--text"
          placeholder={props.placeholder}
          value={props.value}
          spellCheck={false}
          autoComplete="off"
          onChange={(e) => props.onChange(e.target.value)}
          data-testid={props.testId}
        />
      </Tooltip>
    </div>
  );
}

function ImportForm({ busy }: { busy: boolean }) {
  const dispatch = useAppDispatch();
  const nameId = useId();
  const [path, setPath] = useState('');
  const [name, setName] = useState('');
  const [makeDefault, setMakeDefault] = useState(false);
  const clear = useCallback(() => {
    setPath('');
    setName('');
    setMakeDefault(false);
  }, []);
  useClearOnSuccess('import', clear);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (busy || pathProblem(path)) return;
    dispatch(importModel({ path: path.trim(), name: name.trim() || undefined, makeDefault }));
  };
  return (
    <form className="models__form" onSubmit={submit} aria-label="Add a model" data-testid="import-form">
      <h3>Add a model</h3>
      <p className="models__help">
        A <code>.safetensors</code> or <code>.ckpt</code> checkpoint, or a diffusers folder, on the server&apos;s machine.
        It stays where it is; the model list only points at it.
      </p>
      <div className="models__fields">
        <PathField
          label="Path"
          tooltip="The full path of a checkpoint file or a diffusers folder on the machine running the server."
          placeholder="/path/to/model.safetensors"
          value={path}
          onChange={setPath}
          testId="import-path"
        />
        <div className="field models__field--name">
          <label htmlFor={nameId} className="field__label">Name (optional)</label>
          <Tooltip label="The name shown in the model picker; left empty, it comes from the file or folder name." block>
            <input
              id={nameId}
              className="field__input"
              placeholder="from the file name"
              value={name}
              spellCheck={false}
              autoComplete="off"
              onChange={(e) => setName(e.target.value)}
              data-testid="import-name"
            />
          </Tooltip>
        </div>
      </div>
      <div className="models__form-footer">
        <SwitchField
          label="Make it the default model"
          tooltip="The default model is the one the server loads when it starts."
          checked={makeDefault}
          onChange={setMakeDefault}
          testId="import-default"
        />
        <Tooltip label="Add this model to the model list (models.yaml).">
          <button type="submit" className="button button--accent" disabled={busy || pathProblem(path) !== null} data-testid="import-submit">
            Add model
          </button>
        </Tooltip>
      </div>
    </form>
  );
}

function ScanForm({ busy }: { busy: boolean }) {
  const dispatch = useAppDispatch();
  const [path, setPath] = useState('');
  const clear = useCallback(() => setPath(''), []);
  useClearOnSuccess('scan', clear);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (busy || pathProblem(path)) return;
    dispatch(scanModelFolder(path.trim()));
  };
  return (
    <form className="models__form" onSubmit={submit} aria-label="Scan a folder" data-testid="scan-form">
      <h3>Scan a folder</h3>
      <p className="models__help">
        Adds every model under an AUTOMATIC1111 <code>models/Stable-diffusion</code> or ComfyUI <code>models/checkpoints</code> folder.
      </p>
      <div className="models__fields">
        <PathField
          label="Folder"
          tooltip="A folder on the machine running the server; models below it are added where they are, nothing is copied."
          placeholder="/path/to/stable-diffusion-webui/models/Stable-diffusion"
          value={path}
          onChange={setPath}
          testId="scan-path"
        />
        <Tooltip label="Look for models in this folder and add the new ones.">
          <button type="submit" className="button button--accent models__scan-button" disabled={busy || pathProblem(path) !== null} data-testid="scan-submit">
            Scan folder
          </button>
        </Tooltip>
      </div>
    </form>
  );
}

export function ModelsDialog() {
  const dispatch = useAppDispatch();
  const modelList = useAppSelector((s) => s.system.config?.model_list);
  const isConnected = useAppSelector((s) => s.system.isConnected);
  const isProcessing = useAppSelector((s) => s.system.isProcessing);
  const isModelChanging = useAppSelector((s) => s.system.isModelChanging);
  const pending = useAppSelector((s) => s.models.pending);
  const outcome = useAppSelector((s) => s.models.outcome);
  const [loadingName, setLoadingName] = useState<string | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const close = useCallback(() => dispatch(modelsDialogClosed()), [dispatch]);

  useEffect(() => {
    if (!isModelChanging) setLoadingName(null);
  }, [isModelChanging]);
  useEffect(() => {
    // The confirmation closes once its model is gone (removed here or by another window).
    if (confirming && modelList && !(confirming in modelList)) setConfirming(null);
  }, [confirming, modelList]);

  const rows = sortedModels(modelList ?? {});
  const busy = pending !== null || !isConnected;
  const rowsDisabled = busy || isModelChanging || isProcessing;

  return (
    <Modal title="Models" onClose={close} wide testId="models-dialog">
      <div className="models">
        <ul className="models__list" aria-label="Models" data-testid="models-list">
          {rows.length === 0 && <li className="models__empty">The server lists no models.</li>}
          {rows.map((row) => (
            <ModelRowItem
              key={row.name}
              row={row}
              disabled={rowsDisabled}
              isLoading={isModelChanging && loadingName === row.name}
              isConfirming={confirming === row.name}
              onLoad={(name) => {
                setLoadingName(name);
                setConfirming(null);
                dispatch(requestModelChange(name));
              }}
              onAskRemove={setConfirming}
              onRemove={(name) => {
                setConfirming(null);
                dispatch(deleteModel(name));
              }}
              onMakeDefault={(name) => {
                setConfirming(null);
                dispatch(setDefaultModel(name));
              }}
            />
          ))}
        </ul>
        <ControlModels />
        <div className="models__status-slot" aria-live="polite">
          <OperationStatus pending={pending} outcome={outcome} />
        </div>
        <ImportForm busy={busy} />
        <ScanForm busy={busy} />
      </div>
    </Modal>
  );
}
