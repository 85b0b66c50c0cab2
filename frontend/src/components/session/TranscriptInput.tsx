'use client';

import { useState, type FormEvent } from 'react';
import { api, ApiError, redirectToLogin } from '@/lib/api';
import { FormField } from '../FormField';

/** Typed input for what the patient said, for sessions held without the voice assistant. */
export function TranscriptInput({ sessionId }: { sessionId: string }) {
  const [text, setText] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [sent, setSent] = useState(false);
  const [sending, setSending] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setSent(false);
    if (!text.trim()) {
      setError('Type what the patient said first.');
      return;
    }
    setError(undefined);
    setSending(true);
    try {
      await api(`/api/sessions/${sessionId}/transcript`, { method: 'POST', body: { text: text.trim() } });
      setText('');
      setSent(true);
    } catch (failure) {
      // On the live page this opens the re-login dialog; the typed text stays in the box.
      if (failure instanceof ApiError && failure.isUnauthorized) redirectToLogin();
      setError(failure instanceof Error ? failure.message : 'Could not add the text.');
    } finally {
      setSending(false);
    }
  }

  return (
    <form className="card stack" onSubmit={submit} noValidate aria-labelledby="transcript-title">
      <h2 id="transcript-title">Add to transcript</h2>
      <FormField label="What the patient said" error={error}>
        {(props) => <textarea {...props} rows={3} value={text} onChange={(e) => setText(e.target.value)} />}
      </FormField>
      <div className="row">
        <button type="submit" className="button secondary" disabled={sending}>
          Add
        </button>
        {sent && (
          <span role="status" className="muted">
            Added. The graph updates in a moment.
          </span>
        )}
      </div>
    </form>
  );
}
