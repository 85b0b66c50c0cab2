'use client';

import { useEffect, useRef, useState } from 'react';
import { api, ApiError } from '@/lib/api';
import type { SessionSummary, SummaryResponse } from '@/lib/types';
import { Alert } from '../Alert';

const SECTIONS: { key: keyof SessionSummary; title: string }[] = [
  { key: 'keyTopics', title: 'Key topics' },
  { key: 'emotionalThemes', title: 'Emotional themes' },
  { key: 'insights', title: 'Insights' },
  { key: 'recommendations', title: 'Recommendations' },
  { key: 'progressNotes', title: 'Progress notes' },
];

const POLL_MS = 1500;
const MAX_POLLS = 80;

/**
 * The summary is written in the background after the end, so this polls until it exists. Shown
 * right after the therapist ended the session (`focusOnMount`), it takes the focus, and its
 * arrival is announced once.
 */
export function SummaryView({
  sessionId,
  onReady,
  focusOnMount = false,
}: {
  sessionId: string;
  onReady?: () => void;
  focusOnMount?: boolean;
}) {
  const headingRef = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (focusOnMount) headingRef.current?.focus();
  }, [focusOnMount]);
  const [summary, setSummary] = useState<SessionSummary | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [gaveUp, setGaveUp] = useState(false);
  const onReadyRef = useRef(onReady);
  useEffect(() => {
    onReadyRef.current = onReady;
  }, [onReady]);

  useEffect(() => {
    let cancelled = false;
    let polls = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const response = await api<SummaryResponse>(`/api/sessions/${sessionId}/summary`);
        if (cancelled) return;
        if (response.summary) {
          setSummary(response.summary);
          onReadyRef.current?.();
          return;
        }
      } catch (failure) {
        if (cancelled) return;
        if (failure instanceof ApiError && failure.status !== 503) {
          setError(failure.message);
          return;
        }
      }
      polls += 1;
      if (polls >= MAX_POLLS) setGaveUp(true);
      else timer = setTimeout(poll, POLL_MS);
    };
    void poll();
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [sessionId]);

  return (
    <section className="card stack" aria-labelledby="summary-title" data-testid="session-summary">
      <h2 id="summary-title" ref={headingRef} tabIndex={-1}>
        Session summary
      </h2>
      <p role="status" className="visually-hidden">
        {summary ? 'The session summary is ready.' : ''}
      </p>
      {error && <Alert kind="error">{error}</Alert>}
      {!summary && !error && !gaveUp && (
        <p aria-busy="true" className="muted">
          Writing the summary…
        </p>
      )}
      {gaveUp && !summary && <Alert kind="info">The summary is not ready yet. Reload this page later.</Alert>}
      {summary &&
        SECTIONS.map(({ key, title }) => (
          <div key={key}>
            <h3>{title}</h3>
            {summary[key]?.length ? (
              <ul>
                {summary[key]!.map((item, index) => (
                  <li key={index}>{item}</li>
                ))}
              </ul>
            ) : (
              <p className="muted">None.</p>
            )}
          </div>
        ))}
    </section>
  );
}
