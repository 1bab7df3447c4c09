/** Labelled form controls of the control panel: numbers (with optional slider), switches and selects. */
import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { Tooltip } from './Tooltip';

interface NumberFieldProps {
  label: string;
  tooltip: string;
  value: number;
  onChange: (value: number) => void;
  min: number;
  max: number;
  step: number;
  /** Turns any typed number into an allowed one (e.g. a multiple of 8). */
  normalize?: (value: number) => number;
  slider?: boolean;
  disabled?: boolean;
  testId?: string;
  list?: string;
  inline?: boolean;
  width?: string;
}

const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value));

/** Why a committed number differs from the typed one, in the user's words; null when it does not. */
export function adjustmentNote(typed: number, kept: number, min: number, max: number): string | null {
  if (typed === kept) return null;
  if (typed > max) return `${typed} is above the largest allowed (${max}): set to ${kept}.`;
  if (typed < min) return `${typed} is below the smallest allowed (${min}): set to ${kept}.`;
  if (kept % 8 === 0 && Math.abs(kept - typed) < 8) return `Rounded to ${kept}: this value is a multiple of 8.`;
  return `Set to ${kept}, the nearest allowed value.`;
}

const NOTE_MS = 6000;

interface NumberInputProps {
  value: number;
  /** Receives the committed number: typed and then Enter or leaving the field, or a stepper arrow. */
  onCommit: (value: number) => void;
  min: number;
  max: number;
  step: number;
  /** Turns any typed number into an allowed one (e.g. a multiple of 8). */
  normalize?: (value: number) => number;
  id?: string;
  className?: string;
  disabled?: boolean;
  testId?: string;
  list?: string;
  ariaLabel?: string;
}

/** A number box that leaves what is typed alone until Enter or blur, then clamps and normalizes it,
 * and says so beside the box when the number had to change. */
export function NumberInput({ value, onCommit, min, max, step, normalize, id, className = 'field__input', disabled, testId, list, ariaLabel }: NumberInputProps) {
  // The box is left to the browser while the user types ("0." must stay "0."); React writes it only
  // when a value is committed or arrives from elsewhere while the box is not being edited.
  const box = useRef<HTMLInputElement>(null);
  const [note, setNote] = useState<string | null>(null);
  useEffect(() => {
    if (box.current && document.activeElement !== box.current) box.current.value = String(value);
  }, [value]);
  useEffect(() => {
    if (!note) return;
    const timer = window.setTimeout(() => setNote(null), NOTE_MS);
    return () => window.clearTimeout(timer);
  }, [note]);

  const show = (v: number) => {
    if (box.current) box.current.value = String(v);
  };
  const commit = (raw: string) => {
    const parsed = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(parsed)) {
      setNote(raw.trim() === '' ? null : `"${raw}" is not a number: kept ${value}.`);
      show(value);
      return;
    }
    let next = clamp(parsed, min, max);
    if (normalize) next = clamp(normalize(next), min, max);
    show(next);
    setNote(adjustmentNote(parsed, next, min, max));
    if (next !== value) onCommit(next);
  };

  return (
    <span className="number-input">
      <input
        ref={box}
        id={id}
        type="number"
        className={className}
        inputMode="decimal"
        min={min}
        max={max}
        step={step}
        defaultValue={String(value)}
        disabled={disabled}
        data-testid={testId}
        aria-label={ariaLabel}
        list={list}
        onChange={(e) => {
          setNote(null);
          // A stepper arrow (or the Up/Down key) is a finished choice; typing waits for Enter or blur.
          const typed = e.nativeEvent instanceof InputEvent && Boolean(e.nativeEvent.inputType);
          if (!typed) commit(e.target.value);
        }}
        onBlur={(e) => commit(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter') commit((e.target as HTMLInputElement).value);
        }}
      />
      {note && (
        <span className="number-input__note" role="status" data-testid={testId ? `${testId}-note` : undefined}>
          {note}
        </span>
      )}
    </span>
  );
}

export function NumberField({
  label,
  tooltip,
  value,
  onChange,
  min,
  max,
  step,
  normalize,
  slider = false,
  disabled = false,
  testId,
  list,
  inline = false,
  width,
}: NumberFieldProps) {
  const id = useId();
  const fromSlider = (raw: string) => {
    const parsed = Number(raw);
    if (!Number.isFinite(parsed)) return;
    const next = clamp(normalize ? normalize(parsed) : parsed, min, max);
    if (next !== value) onChange(next);
  };

  return (
    <div className={`field ${inline ? 'field--inline' : ''}`} style={width ? { width } : undefined}>
      <Tooltip label={tooltip} block>
        <label htmlFor={id} className="field__label">
          {label}
        </label>
      </Tooltip>
      <div className="field__control">
        {slider && (
          <input
            type="range"
            className="field__slider"
            aria-label={`${label} slider`}
            min={min}
            max={max}
            step={step}
            value={value}
            disabled={disabled}
            onChange={(e) => fromSlider(e.target.value)}
          />
        )}
        <Tooltip label={tooltip} block>
          <NumberInput id={id} value={value} onCommit={onChange} min={min} max={max} step={step} normalize={normalize} disabled={disabled} testId={testId} list={list} />
        </Tooltip>
      </div>
    </div>
  );
}

interface SwitchProps {
  label: string;
  tooltip: string;
  checked: boolean;
  onChange: (checked: boolean) => void;
  disabled?: boolean;
  testId?: string;
  hideLabel?: boolean;
}

export function SwitchField({ label, tooltip, checked, onChange, disabled, testId, hideLabel }: SwitchProps) {
  return (
    <Tooltip label={tooltip} block={!hideLabel}>
      <label className={`switch ${disabled ? 'switch--disabled' : ''}`}>
        {!hideLabel && <span className="switch__label">{label}</span>}
        <input
          type="checkbox"
          role="switch"
          aria-label={label}
          checked={checked}
          disabled={disabled}
          data-testid={testId}
          onChange={(e) => onChange(e.target.checked)}
          onClick={(e) => e.stopPropagation()}
        />
        <span className="switch__track" aria-hidden="true">
          <span className="switch__thumb" />
        </span>
      </label>
    </Tooltip>
  );
}

interface SelectFieldProps<T extends string | number> {
  label: string;
  tooltip: string;
  value: T;
  options: ReadonlyArray<{ value: T; label: string; disabled?: boolean }>;
  onChange: (value: T) => void;
  disabled?: boolean;
  testId?: string;
  inline?: boolean;
}

export function SelectField<T extends string | number>({
  label,
  tooltip,
  value,
  options,
  onChange,
  disabled,
  testId,
  inline = false,
}: SelectFieldProps<T>) {
  const id = useId();
  return (
    <div className={`field ${inline ? 'field--inline' : ''}`}>
      <Tooltip label={tooltip} block>
        <label htmlFor={id} className="field__label">
          {label}
        </label>
      </Tooltip>
      <Tooltip label={tooltip} block>
        <select
          id={id}
          className="field__select"
          value={String(value)}
          disabled={disabled}
          data-testid={testId}
          onChange={(e) => {
            const chosen = options.find((o) => String(o.value) === e.target.value);
            if (chosen) onChange(chosen.value);
          }}
        >
          {options.map((o) => (
            <option key={String(o.value)} value={String(o.value)} disabled={o.disabled}>
              {o.label}
            </option>
          ))}
        </select>
      </Tooltip>
    </div>
  );
}

interface SectionProps {
  title: string;
  tooltip: string;
  children: ReactNode;
  /** A section with a switch: its body is dimmed while off. */
  enabled?: boolean;
  onEnabledChange?: (enabled: boolean) => void;
  disabledReason?: string | null;
  defaultOpen?: boolean;
  testId?: string;
}

export function Section({
  title,
  tooltip,
  children,
  enabled,
  onEnabledChange,
  disabledReason,
  defaultOpen = true,
  testId,
}: SectionProps) {
  const [open, setOpen] = useState(defaultOpen);
  const unavailable = Boolean(disabledReason);
  return (
    <section className={`section ${open ? 'section--open' : ''}`} data-testid={testId}>
      <div className="section__header">
        <button
          type="button"
          className="section__toggle"
          aria-expanded={open}
          onClick={() => setOpen((o) => !o)}
        >
          <Tooltip label={tooltip}>
            <span className="section__title">{title}</span>
          </Tooltip>
          <span className={`section__chevron ${open ? 'section__chevron--open' : ''}`} aria-hidden="true">
            <svg width="14" height="14" viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="2.5">
              <path d="M6 9l6 6 6-6" />
            </svg>
          </span>
        </button>
        {onEnabledChange && (
          <SwitchField
            label={`Enable ${title}`}
            tooltip={unavailable ? (disabledReason ?? tooltip) : tooltip}
            checked={Boolean(enabled) && !unavailable}
            disabled={unavailable}
            onChange={onEnabledChange}
            testId={testId ? `${testId}-switch` : undefined}
            hideLabel
          />
        )}
      </div>
      {open && (
        <div
          className={`section__body ${onEnabledChange && (!enabled || unavailable) ? 'section__body--off' : ''}`}
        >
          {unavailable && (
            <p className="section__reason" role="note">
              {disabledReason}
            </p>
          )}
          {children}
        </div>
      )}
    </section>
  );
}
