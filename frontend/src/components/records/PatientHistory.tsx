'use client';

import Link from 'next/link';
import { useApiResource } from '@/lib/useApiResource';
import type { HistorySession, PatientHistory as History, TrendSeries } from '@/lib/types';
import { formatDateTime, humanise } from '@/lib/format';
import { sessionPath } from '@/lib/sessions';
import { Alert } from '../Alert';
import '@/app/records.css';

// Day and time: two sessions on one day stay distinguishable.
const shortDate = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });

/** The patient's sessions with their summaries and top themes, newest first, and the trend. */
export function PatientHistory({ patientId }: { patientId: string }) {
  const history = useApiResource<History>(`/api/patients/${patientId}/history`);
  if (history.error) return <Alert kind="error">{history.error.message}</Alert>;
  if (!history.data) return <p aria-busy="true">Loading history…</p>;
  const { sessions, trend } = history.data;
  return (
    <section className="stack patient-history" aria-labelledby="history-title">
      <h2 id="history-title">Session history</h2>
      {sessions.length === 0 ? (
        <p className="muted">No sessions yet.</p>
      ) : (
        <>
          {trend.length > 0 && <Trend sessions={sessions} trend={trend} />}
          <ol className="history-list" reversed>
            {[...sessions].reverse().map((session) => (
              <HistoryItem key={session.id} patientId={patientId} session={session} />
            ))}
          </ol>
        </>
      )}
    </section>
  );
}

function HistoryItem({ patientId, session }: { patientId: string; session: HistorySession }) {
  const summary = session.summary;
  const headingId = `history-${session.id}`;
  return (
    <li className="card stack" data-testid="history-session" aria-labelledby={headingId}>
      <div className="row spread">
        <h3 id={headingId}>{formatDateTime(session.startedAt)}</h3>
        <div className="row">
          <span className={`badge ${session.status}`}>{humanise(session.status)}</span>
          <Link href={sessionPath({ id: session.id, patientId })} prefetch={false}>
            Open<span className="visually-hidden"> the session of {formatDateTime(session.startedAt)}</span>
          </Link>
        </div>
      </div>
      {session.topThemes.length > 0 && (
        <ul className="theme-chips" aria-label="Top themes">
          {session.topThemes.map((theme) => (
            <li key={theme.key} className={`theme-chip ${theme.type}`}>
              {theme.label}
              <span className="visually-hidden"> ({theme.type})</span>
            </li>
          ))}
        </ul>
      )}
      {summary ? (
        <dl className="history-summary" data-testid="history-summary">
          {summary.keyTopics?.length ? (
            <>
              <dt>Key topics</dt>
              <dd>{summary.keyTopics.join(', ')}</dd>
            </>
          ) : null}
          {summary.emotionalThemes?.length ? (
            <>
              <dt>Emotional themes</dt>
              <dd>{summary.emotionalThemes.join(', ')}</dd>
            </>
          ) : null}
          {summary.insights?.length ? (
            <>
              <dt>Insights</dt>
              <dd>{summary.insights.join(' ')}</dd>
            </>
          ) : null}
        </dl>
      ) : (
        <p className="muted">{session.status === 'active' ? 'In progress.' : 'No summary.'}</p>
      )}
    </li>
  );
}

/** Mentions per session of the most frequent themes: a table, with a bar in each cell. */
function Trend({ sessions, trend }: { sessions: HistorySession[]; trend: TrendSeries[] }) {
  const most = Math.max(1, ...trend.flatMap((series) => series.mentions));
  return (
    <div className="trend-scroll" tabIndex={0} role="region" aria-labelledby="trend-title">
      <table className="trend" data-testid="trend">
        <caption id="trend-title">Themes and emotions over time (mentions per session)</caption>
        <thead>
          <tr>
            <th scope="col">Theme</th>
            {sessions.map((session) => (
              <th scope="col" key={session.id}>
                <time dateTime={session.startedAt}>{shortDate.format(new Date(session.startedAt))}</time>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {trend.map((series) => (
            <tr key={series.key}>
              <th scope="row">
                {series.label} <span className="muted">({series.type})</span>
              </th>
              {series.mentions.map((count, index) => (
                <td key={sessions[index]?.id ?? index}>
                  <span
                    className={`trend-bar ${series.type}`}
                    style={{ inlineSize: `${((count / most) * 3).toFixed(2)}rem` }}
                    aria-hidden="true"
                  />
                  <span className="trend-count">{count}</span>
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
