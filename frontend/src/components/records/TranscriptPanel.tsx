'use client';

import { useEffect, useId, useRef, useState } from 'react';
import { useTranscript } from '@/lib/records/useTranscript';
import { elapsed, highlight, matches, searchTerms } from '@/lib/records/transcript';
import { humanise } from '@/lib/format';
import { Alert } from '../Alert';
import '@/app/records.css';

const clock = new Intl.DateTimeFormat('en-GB', { timeStyle: 'medium' });

/** Who said what and when, live while the session runs; searchable within the session. */
export function TranscriptPanel({ sessionId, startedAt, live }: { sessionId: string; startedAt: string; live: boolean }) {
  const { entries, loaded, error } = useTranscript(sessionId, live);
  const [query, setQuery] = useState('');
  const terms = searchTerms(query);
  const shown = terms.length ? entries.filter((entry) => matches(entry, terms)) : entries;
  const listRef = useRef<HTMLOListElement>(null);
  const searchId = useId();
  const countId = useId();

  // Follow new lines while live, unless the reader scrolled up or is searching.
  const atBottom = useRef(true);
  useEffect(() => {
    const list = listRef.current;
    if (list && live && atBottom.current && !terms.length) list.scrollTop = list.scrollHeight;
  }, [entries.length, live, terms.length]);

  return (
    <section className="card stack transcript-panel" aria-labelledby={`${searchId}-title`}>
      <div className="row spread">
        <h2 id={`${searchId}-title`}>Transcript</h2>
        <span id={countId} className="muted" data-testid="transcript-count">
          {terms.length ? `${shown.length} of ${entries.length} lines` : `${entries.length} lines`}
        </span>
      </div>
      <div className="field">
        <label htmlFor={searchId}>Search the transcript</label>
        <input
          id={searchId}
          type="search"
          value={query}
          onChange={(event) => setQuery(event.target.value)}
          aria-describedby={countId}
        />
      </div>
      {error && <Alert kind="error">{error}</Alert>}
      {!loaded ? (
        <p aria-busy="true">Loading transcript…</p>
      ) : entries.length === 0 ? (
        <p className="muted">Nothing said yet.</p>
      ) : (
        <ol
          ref={listRef}
          className="transcript-lines"
          // Scrollable, so it must be reachable and scrollable by keyboard.
          tabIndex={0}
          aria-label="Transcript lines"
          onScroll={(event) => {
            const list = event.currentTarget;
            atBottom.current = list.scrollHeight - list.scrollTop - list.clientHeight < 24;
          }}
        >
          {shown.map((entry) => (
            <li key={entry.id} className={`transcript-line speaker-${entry.speaker}`} data-testid="transcript-entry">
              <span className="transcript-meta">
                <strong className="transcript-speaker">{humanise(entry.speaker)}</strong>{' '}
                <time dateTime={entry.spokenAt} title={clock.format(new Date(entry.spokenAt))}>
                  {elapsed(startedAt, entry.spokenAt)}
                </time>
              </span>
              <span className="transcript-text">
                {highlight(entry.text, terms).map((part, index) =>
                  part.match ? <mark key={index}>{part.text}</mark> : <span key={index}>{part.text}</span>,
                )}
              </span>
            </li>
          ))}
        </ol>
      )}
      {loaded && terms.length > 0 && shown.length === 0 && <p className="muted">No line matches “{query}”.</p>}
    </section>
  );
}
