/** The prompt box: Enter invokes, and `<lora:` names and embedding trigger words complete from the model folders. */
import { useId, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { Tooltip } from '../../common/components/Tooltip';
import { invoke } from '../tabs/invoke';
import { setOption } from './optionsSlice';
import { applySuggestion, completionAt, type PromptNames } from './promptCompletion';

const NO_NAMES: string[] = [];

export function PromptInput({ tooltip }: { tooltip: string }) {
  const dispatch = useAppDispatch();
  const prompt = useAppSelector((s) => s.options.prompt);
  const loras = useAppSelector((s) => s.system.config?.loras ?? NO_NAMES);
  const embeddings = useAppSelector((s) => s.system.config?.embeddings ?? NO_NAMES);
  const names: PromptNames = useMemo(() => ({ loras, embeddings }), [loras, embeddings]);
  const box = useRef<HTMLTextAreaElement>(null);
  const listId = useId();
  const [caret, setCaret] = useState<number | null>(null);
  const [active, setActive] = useState(0);
  const [dismissedAt, setDismissedAt] = useState<number | null>(null);

  const completion = caret === null || dismissedAt === caret ? null : completionAt(prompt, caret, names);
  const open = completion !== null;
  const chosen = open ? Math.min(active, completion.suggestions.length - 1) : 0;

  const follow = (el: HTMLTextAreaElement) => {
    const at = el.selectionStart === el.selectionEnd ? el.selectionStart : null;
    if (at !== caret) {
      setCaret(at);
      setActive(0);
    }
  };

  const accept = (index: number) => {
    if (!completion || caret === null) return;
    const next = applySuggestion(prompt, caret, completion, completion.suggestions[index]);
    dispatch(setOption('prompt', next.text));
    setCaret(next.caret);
    setActive(0);
    requestAnimationFrame(() => {
      box.current?.focus();
      box.current?.setSelectionRange(next.caret, next.caret);
    });
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.nativeEvent.isComposing) return;
    if (open) {
      const count = completion.suggestions.length;
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        setActive((chosen + (e.key === 'ArrowDown' ? 1 : count - 1)) % count);
        return;
      }
      if ((e.key === 'Enter' && !e.shiftKey && !e.ctrlKey && !e.metaKey) || (e.key === 'Tab' && !e.shiftKey)) {
        e.preventDefault();
        accept(chosen);
        return;
      }
      if (e.key === 'Escape') {
        e.preventDefault();
        e.stopPropagation(); // closes the list, not the dialog or panel around the box
        setDismissedAt(caret);
        return;
      }
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.ctrlKey && !e.metaKey) {
      e.preventDefault();
      void dispatch(invoke());
    }
  };

  return (
    <div className="prompt-box">
      <Tooltip label={tooltip} block placement="right">
        <textarea
          ref={box}
          className="prompt"
          aria-label="Prompt"
          data-testid="prompt"
          placeholder="I'm dreaming of…"
          value={prompt}
          rows={4}
          aria-autocomplete="list"
          aria-controls={open ? listId : undefined}
          aria-activedescendant={open ? `${listId}-${chosen}` : undefined}
          onChange={(e) => {
            dispatch(setOption('prompt', e.target.value));
            follow(e.target);
          }}
          onSelect={(e) => follow(e.currentTarget)}
          onBlur={() => setCaret(null)}
          onKeyDown={onKeyDown}
        />
      </Tooltip>
      {open && (
        <ul className="prompt-suggestions" role="listbox" id={listId} aria-label="Suggestions" data-testid="prompt-suggestions">
          {completion.suggestions.map((s, i) => (
            <li
              key={`${s.kind}:${s.label}`}
              id={`${listId}-${i}`}
              role="option"
              aria-selected={i === chosen}
              className={`prompt-suggestions__item${i === chosen ? ' is-active' : ''}`}
              // mousedown, not click: the box must keep its focus and caret.
              onMouseDown={(e) => {
                e.preventDefault();
                accept(i);
              }}
              onMouseEnter={() => setActive(i)}
            >
              <span className="prompt-suggestions__name">{s.label}</span>
              <small className="prompt-suggestions__kind">{s.kind === 'lora' ? 'LoRA' : 'embedding'}</small>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
