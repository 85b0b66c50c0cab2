'use client';

import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api, ApiError } from '@/lib/api';
import { FormField } from '../FormField';
import { Alert } from '../Alert';

export const RELOGIN_TITLE = 'Sign in again';

/**
 * Shown on the live session page when the sign-in expired (401). A modal <dialog> traps focus like
 * the other dialogs; Escape does not close it, because without a sign-in nothing more can be saved.
 * Signing in here keeps the page, so EVI and the unsent transcript lines survive.
 */
export function ReloginDialog({ open, onSignedIn }: { open: boolean; onSignedIn: () => void }) {
  const dialogRef = useRef<HTMLDialogElement>(null);
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [submitting, setSubmitting] = useState(false);

  useEffect(() => {
    const dialog = dialogRef.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    else if (!open && dialog.open) dialog.close();
  }, [open]);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!email.trim() || !password) {
      setError('Enter your email and password.');
      return;
    }
    setError(null);
    setSubmitting(true);
    try {
      await api('/api/auth/login', { method: 'POST', body: { email: email.trim(), password } });
      setPassword('');
      onSignedIn();
    } catch (failure) {
      const status = failure instanceof ApiError ? failure.status : 0;
      setError(status === 401 || status === 400 ? 'Incorrect email or password.' : failure instanceof Error ? failure.message : 'Sign-in failed.');
    } finally {
      setSubmitting(false);
    }
  }

  return (
    <dialog
      ref={dialogRef}
      aria-labelledby="relogin-title"
      aria-describedby="relogin-description"
      onCancel={(event) => event.preventDefault()}
      data-testid="relogin-dialog"
    >
      <form className="stack" onSubmit={submit} noValidate>
        <h2 id="relogin-title">{RELOGIN_TITLE}</h2>
        <p id="relogin-description">
          Your sign-in has expired. The voice session keeps running and unsaved transcript lines are kept; sign in to
          continue saving them.
        </p>
        {error && <Alert kind="error">{error}</Alert>}
        <FormField label="Email">
          {(props) => <input {...props} type="email" autoComplete="email" value={email} onChange={(e) => setEmail(e.target.value)} />}
        </FormField>
        <FormField label="Password">
          {(props) => (
            <input
              {...props}
              type="password"
              autoComplete="current-password"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          )}
        </FormField>
        <button type="submit" className="button" disabled={submitting}>
          {submitting ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </dialog>
  );
}
