import { describe, expect, it } from 'vitest';
import type { TranscriptEntry } from '@/lib/types';
import { elapsed, highlight, matches, mergeEntries, searchTerms } from './transcript';

const entry = (id: number, text: string): TranscriptEntry => ({
  id,
  speaker: 'patient',
  text,
  spokenAt: `2026-12-02T10:00:${String(id).padStart(2, '0')}Z`,
});

describe('transcript', () => {
  it('merges live and fetched lines once each, in order', () => {
    const merged = mergeEntries([entry(1, 'a'), entry(3, 'c')], [entry(2, 'b'), entry(3, 'c')]);
    expect(merged.map((e) => e.id)).toEqual([1, 2, 3]);
  });

  it('matches every search word, case-insensitively', () => {
    const terms = searchTerms('  Sleep  WORK ');
    expect(terms).toEqual(['sleep', 'work']);
    expect(matches(entry(1, 'Work ruins my sleep'), terms)).toBe(true);
    expect(matches(entry(1, 'Work is fine'), terms)).toBe(false);
  });

  it('highlights every occurrence as text parts', () => {
    expect(highlight('Sleep, sleep <b>', ['sleep'])).toEqual([
      { text: 'Sleep', match: true },
      { text: ', ', match: false },
      { text: 'sleep', match: true },
      { text: ' <b>', match: false },
    ]);
    expect(highlight('abc', [])).toEqual([{ text: 'abc', match: false }]);
  });

  it('shows the time into the session', () => {
    expect(elapsed('2026-12-02T10:00:00Z', '2026-12-02T10:03:07Z')).toBe('3:07');
    expect(elapsed('2026-12-02T10:00:00Z', '2026-12-02T11:00:05Z')).toBe('1:00:05');
    expect(elapsed('2026-12-02T10:00:05Z', '2026-12-02T10:00:00Z')).toBe('0:00');
  });
});
