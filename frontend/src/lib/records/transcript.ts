import type { TranscriptEntry } from '@/lib/types';

/** Entries by id, oldest first: a live event and a refetch may deliver the same line twice. */
export function mergeEntries(current: readonly TranscriptEntry[], incoming: readonly TranscriptEntry[]): TranscriptEntry[] {
  const byId = new Map<number, TranscriptEntry>();
  for (const entry of current) byId.set(entry.id, entry);
  for (const entry of incoming) byId.set(entry.id, entry);
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

/** Lowercase words of a search box; an entry matches when it contains every one. */
export function searchTerms(query: string): string[] {
  return query.toLowerCase().split(/\s+/).filter(Boolean);
}

export function matches(entry: TranscriptEntry, terms: readonly string[]): boolean {
  const text = entry.text.toLowerCase();
  return terms.every((term) => text.includes(term));
}

export interface TextPart {
  text: string;
  match: boolean;
}

/** `text` cut into matching and non-matching parts, for highlighting (never as HTML). */
export function highlight(text: string, terms: readonly string[]): TextPart[] {
  if (!terms.length) return [{ text, match: false }];
  const lower = text.toLowerCase();
  const marked = new Array<boolean>(text.length).fill(false);
  for (const term of terms) {
    for (let at = lower.indexOf(term); at !== -1; at = lower.indexOf(term, at + term.length)) {
      marked.fill(true, at, at + term.length);
    }
  }
  const parts: TextPart[] = [];
  // By UTF-16 unit, like indexOf: a surrogate pair stays whole because both halves share a mark.
  for (let i = 0; i < text.length; i += 1) {
    const char = text.charAt(i);
    const match = marked[i] === true;
    const last = parts[parts.length - 1];
    if (last && last.match === match) last.text += char;
    else parts.push({ text: char, match });
  }
  return parts;
}

/** Time into the session, h:mm:ss or m:ss (never negative). */
export function elapsed(startedAt: string, at: string): string {
  const seconds = Math.max(0, Math.floor((Date.parse(at) - Date.parse(startedAt)) / 1000));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = String(seconds % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}
