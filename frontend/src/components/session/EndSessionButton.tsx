'use client';

import { useRef, useState } from 'react';
import { api } from '@/lib/api';
import type { TherapySession } from '@/lib/types';
import { Alert } from '../Alert';

/** Ending is final, so it asks for confirmation in a modal dialog first. */
export function EndSessionButton({ sessionId, onEnded }: { sessionId: string; onEnded: (session: TherapySession) => void }) {
  const dialogRef = useRef<HTMLDialogElement>(null);
  const [ending, setEnding] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function end() {
    setEnding(true);
    setError(null);
    try {
      const session = await api<TherapySession>(`/api/sessions/${sessionId}/end`, { method: 'POST' });
      dialogRef.current?.close();
      onEnded(session);
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : 'Could not end the session.');
    } finally {
      setEnding(false);
    }
  }

  return (
    <>
      <button type="button" className="button danger" onClick={() => dialogRef.current?.showModal()}>
        End session
      </button>
      <dialog ref={dialogRef} aria-labelledby="end-title" aria-describedby="end-description">
        <div className="stack">
          <h2 id="end-title">End this session?</h2>
          <p id="end-description">The voice assistant stops and a summary is written. This cannot be undone.</p>
          {error && <Alert kind="error">{error}</Alert>}
          <div className="row">
            <button type="button" className="button danger" onClick={end} disabled={ending}>
              {ending ? 'Ending…' : 'Yes, end session'}
            </button>
            <button type="button" className="button secondary" onClick={() => dialogRef.current?.close()}>
              Keep going
            </button>
          </div>
        </div>
      </dialog>
    </>
  );
}
