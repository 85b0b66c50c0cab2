'use client';

import { useApiResource } from '@/lib/useApiResource';
import type { Page, SessionConcern, SessionNote, SessionProgress } from '@/lib/types';
import { humanise } from '@/lib/format';

/** Records saved by the voice agent's tools; `refreshKey` changes when new ones may exist. */
export function NotesPanel({ sessionId, refreshKey }: { sessionId: string; refreshKey: string }) {
  const notes = useApiResource<Page<SessionNote>>(`/api/sessions/${sessionId}/notes?pageSize=100&r=${refreshKey}`);
  const concerns = useApiResource<Page<SessionConcern>>(`/api/sessions/${sessionId}/concerns?pageSize=100&r=${refreshKey}`);
  const progress = useApiResource<Page<SessionProgress>>(`/api/sessions/${sessionId}/progress?pageSize=100&r=${refreshKey}`);
  return (
    <section className="card stack" aria-labelledby="notes-title">
      <h2 id="notes-title">Notes, progress and concerns</h2>
      <h3>Concerns</h3>
      {concerns.data?.items.length ? (
        <ul>
          {concerns.data.items.map((concern) => (
            <li key={concern.id}>
              <span className={`badge ${concern.severity === 'moderate' ? 'connecting' : 'error'}`}>
                {humanise(concern.severity)}
              </span>{' '}
              {humanise(concern.concernType)}: {concern.description}
              {concern.recommendedAction && <div className="muted">Recommended: {concern.recommendedAction}</div>}
            </li>
          ))}
        </ul>
      ) : (
        <p className="muted">No concerns flagged.</p>
      )}
      <h3>Progress</h3>
      {progress.data?.items.length ? (
        <ul>
          {progress.data.items.map((item) => (
            <li key={item.id}>
              <span className="badge completed">{humanise(item.progressType)}</span> {item.description}
              {item.evidence && <div className="muted">Evidence: {item.evidence}</div>}
            </li>
          ))}
        </ul>
      ) : (
        <p className="muted">No progress marked.</p>
      )}
      <h3>Notes</h3>
      {notes.data?.items.length ? (
        <ul>
          {notes.data.items.map((note) => (
            <li key={note.id}>
              <span className="badge">{humanise(note.category)}</span> {note.content}{' '}
              <span className="muted">({note.importance})</span>
            </li>
          ))}
        </ul>
      ) : (
        <p className="muted">No notes yet. Ask Chloe to save one.</p>
      )}
    </section>
  );
}
