/** Completing LoRA names (after `<lora:`) and embedding trigger words in the prompt, from the lists systemConfig carries. */

export interface PromptNames {
  loras: string[];
  embeddings: string[];
}

export interface Suggestion {
  /** What the list shows. */
  label: string;
  /** What replaces the typed part. */
  insert: string;
  kind: 'lora' | 'embedding';
}

/** The typed part under the caret (text[start, caret)) and what could replace it. */
export interface Completion {
  start: number;
  query: string;
  suggestions: Suggestion[];
}

/** At most this many suggestions are listed; typing more narrows them. */
export const MAX_SUGGESTIONS = 8;
/** A LoRA gets this weight when it is completed; the user edits it in place. */
export const DEFAULT_LORA_WEIGHT = 1;
/** Embedding words are suggested once this many characters of them are typed. */
const MIN_WORD = 2;

const LORA_OPENING = /<(lora|lyco):([^:<>\s]*)$/i;
const WORD = /[\w.-]+$/;

/** Names starting with the query first, then names containing it; case-insensitive, each list in its given order. */
function matching(names: string[], query: string): string[] {
  const q = query.toLowerCase();
  const starts = names.filter((n) => n.toLowerCase().startsWith(q));
  const contains = names.filter((n) => !n.toLowerCase().startsWith(q) && n.toLowerCase().includes(q));
  return [...starts, ...contains].slice(0, MAX_SUGGESTIONS);
}

/** What can be completed at `caret`, or null when nothing fits (the list then stays closed). */
export function completionAt(text: string, caret: number, names: PromptNames): Completion | null {
  const before = text.slice(0, caret);
  const tag = LORA_OPENING.exec(before);
  if (tag) {
    const suggestions = matching(names.loras, tag[2]).map((name): Suggestion => ({
      label: name,
      insert: `<${tag[1].toLowerCase()}:${name}:${DEFAULT_LORA_WEIGHT}>`,
      kind: 'lora',
    }));
    return suggestions.length ? { start: tag.index, query: tag[2], suggestions } : null;
  }
  const word = WORD.exec(before);
  if (!word || word[0].length < MIN_WORD || (word.index > 0 && before[word.index - 1] === ':')) return null;
  const typed = word[0];
  const suggestions = matching(names.embeddings, typed)
    .filter((name) => name !== typed)
    .map((name): Suggestion => ({ label: name, insert: name, kind: 'embedding' }));
  return suggestions.length ? { start: word.index, query: typed, suggestions } : null;
}

/** The prompt with the typed part replaced, and where the caret goes (after the insertion). */
export function applySuggestion(text: string, caret: number, completion: Completion, suggestion: Suggestion): { text: string; caret: number } {
  let insert = suggestion.insert;
  let tail = text.slice(caret);
  if (suggestion.kind === 'lora') {
    // Inside a tag that is already closed (`<lora:ti|ny:0.5>`): the name is replaced, its weight kept.
    const rest = /^[^:<>\s]*(:[^<>\s]*)?>/.exec(tail);
    if (rest) {
      if (rest[1]) insert = insert.replace(/:[^:]*>$/, `${rest[1]}>`);
      tail = tail.slice(rest[0].length);
    }
  } else {
    tail = tail.replace(/^[\w.-]+/, '');
  }
  const head = text.slice(0, completion.start) + insert;
  return { text: head + tail, caret: head.length };
}
