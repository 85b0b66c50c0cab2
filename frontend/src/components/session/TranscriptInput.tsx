'use client';

import { useState, type FormEvent } from 'react';
import { api, ApiError, redirectToLogin } from '@/lib/api';
import type { Speaker, TranscriptLine } from '@/lib/types';
import { FormField } from '../FormField';

/** Typed input for what the patient said, for sessions held without the voice assistant. */
export function TranscriptInput({ sessionId }: { sessionId: string }) {
  const [text, setText] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [sent, setSent] = useState(false);
  const [sending, setSending] = useState(false);
  const [speaker, setSpeaker] = useState<Speaker>('patient');

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
      const body: TranscriptLine = { text: text.trim(), speaker };
      await api(`/api/sessions/${sessionId}/transcript`, { method: 'POST', body });
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
      <FormField label="Who said it" hint="Only the patient's words feed the graph and the summary.">
        {(props) => (
          <select {...props} value={speaker} onChange={(e) => setSpeaker(e.target.value as Speaker)}>
            <option value="patient">Patient</option>
            <option value="therapist">Therapist</option>
          </select>
        )}
      </FormField>
      <FormField label={speaker === 'patient' ? 'What the patient said' : 'What you said'} error={error}>
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
