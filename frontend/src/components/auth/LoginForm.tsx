'use client';

import { useState, type FormEvent } from 'react';
import Link from 'next/link';
import { api, ApiError } from '@/lib/api';
import { safeNextPath } from '@/lib/safeRedirect';
import { hardNavigate } from '@/lib/navigation';
import { FormField } from '../FormField';
import { Alert } from '../Alert';

interface LoginErrors {
  email?: string;
  password?: string;
}

export function LoginForm({ next, justRegistered }: { next?: string | string[]; justRegistered: boolean }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [errors, setErrors] = useState<LoginErrors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [submitting, setSubmitting] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const found: LoginErrors = {};
    if (!email.trim()) found.email = 'Email is required.';
    if (!password) found.password = 'Password is required.';
    setErrors(found);
    setFormError(null);
    if (Object.keys(found).length) return;
    setSubmitting(true);
    try {
      await api('/api/auth/login', { method: 'POST', body: { email: email.trim(), password } });
      // A full navigation so the proxy sees the new cookie and every page starts fresh.
      hardNavigate(safeNextPath(next));
    } catch (error) {
      setFormError(error instanceof ApiError ? loginMessage(error) : 'Login failed.');
      setSubmitting(false);
    }
  }

  return (
    <form className="card stack auth-card" onSubmit={submit} noValidate aria-labelledby="login-title">
      <h1 id="login-title">Log in</h1>
      {justRegistered && <Alert kind="success">Registration received. Log in with the email and password you chose.</Alert>}
      {formError && <Alert kind="error">{formError}</Alert>}
      <FormField label="Email" error={errors.email}>
        {(props) => (
          <input {...props} type="email" autoComplete="email" value={email} onChange={(e) => setEmail(e.target.value)} />
        )}
      </FormField>
      <FormField label="Password" error={errors.password}>
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
      <button className="button" type="submit" disabled={submitting}>
        {submitting ? 'Logging in…' : 'Log in'}
      </button>
      <p className="muted">
        No account yet? <Link href="/register" prefetch={false}>Create one</Link>
      </p>
    </form>
  );
}

function loginMessage(error: ApiError): string {
  if (error.status === 401 || error.status === 400) return 'Incorrect email or password.';
  return error.message;
}
