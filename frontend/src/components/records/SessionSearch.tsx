'use client';

import Link from 'next/link';
import { useState, type FormEvent } from 'react';
import { useApiResource } from '@/lib/useApiResource';
import type { SearchResults } from '@/lib/types';
import { formatDateTime, humanise } from '@/lib/format';
import { sessionPath } from '@/lib/sessions';
import { Alert } from '../Alert';
import '@/app/records.css';

/** Full-text search over the transcripts of all your sessions. */
export function SessionSearch() {
  const [draft, setDraft] = useState('');
  const [query, setQuery] = useState('');
  const [tooShort, setTooShort] = useState(false);
  const results = useApiResource<SearchResults>(query ? `/api/search?q=${encodeURIComponent(query)}&limit=50` : null);

  function submit(event: FormEvent) {
    event.preventDefault();
    const trimmed = draft.trim();
    setTooShort(trimmed.length < 2);
    if (trimmed.length >= 2) setQuery(trimmed);
  }

  return (
    <section className="stack">
      <h1>Search sessions</h1>
      <form role="search" className="row" onSubmit={submit} aria-label="Search your sessions">
        <div className="field">
          <label htmlFor="session-search">Words or “a phrase” said in a session</label>
          <input
            id="session-search"
            type="search"
            value={draft}
            onChange={(event) => setDraft(event.target.value)}
            aria-invalid={tooShort}
            aria-describedby={tooShort ? 'session-search-error' : undefined}
          />
          {tooShort && (
            <span id="session-search-error" className="field-error" role="alert">
              Type at least two characters.
            </span>
          )}
        </div>
        <button type="submit" className="button">
          Search
        </button>
      </form>
      {results.error && <Alert kind="error">{results.error.message}</Alert>}
      {results.loading && <p aria-busy="true">Searching…</p>}
      {results.data && (
        <div className="stack">
          <p role="status" data-testid="search-count">
            {results.data.total === 0
              ? `No lines match “${results.data.query}”.`
              : `${results.data.total} matching ${results.data.total === 1 ? 'line' : 'lines'}${results.data.total > results.data.items.length ? ` (best ${results.data.items.length} shown)` : ''}.`}
          </p>
          <ol className="search-results">
            {results.data.items.map((hit) => (
              <li key={hit.entryId} className="card" data-testid="search-hit">
                <p>
                  <Link href={sessionPath({ id: hit.sessionId, patientId: hit.patientId })} prefetch={false}>
                    {hit.patientName}, {formatDateTime(hit.sessionStartedAt)}
                  </Link>
                </p>
                <blockquote>
                  <span className="muted">{humanise(hit.speaker)}:</span> {hit.snippet}
                </blockquote>
              </li>
            ))}
          </ol>
        </div>
      )}
    </section>
  );
}
