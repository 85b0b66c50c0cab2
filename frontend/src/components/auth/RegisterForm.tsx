'use client';

import { useState, type FormEvent } from 'react';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { api, ApiError } from '@/lib/api';
import { FormField } from '../FormField';
import { Alert } from '../Alert';

interface RegisterValues {
  name: string;
  email: string;
  password: string;
}

type RegisterErrors = Partial<Record<keyof RegisterValues, string>>;

export const MIN_PASSWORD_LENGTH = 8;

function validate(values: RegisterValues): RegisterErrors {
  const errors: RegisterErrors = {};
  if (!values.name.trim()) errors.name = 'Name is required.';
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(values.email.trim())) errors.email = 'Enter a valid email address.';
  if (values.password.length < MIN_PASSWORD_LENGTH) {
    errors.password = `Password must be at least ${MIN_PASSWORD_LENGTH} characters.`;
  }
  return errors;
}

export function RegisterForm() {
  const router = useRouter();
  const [values, setValues] = useState<RegisterValues>({ name: '', email: '', password: '' });
  const [errors, setErrors] = useState<RegisterErrors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [submitting, setSubmitting] = useState(false);

  const update = (field: keyof RegisterValues) => (event: React.ChangeEvent<HTMLInputElement>) =>
    setValues((current) => ({ ...current, [field]: event.target.value }));

  async function submit(event: FormEvent) {
    event.preventDefault();
    const found = validate(values);
    setErrors(found);
    setFormError(null);
    if (Object.keys(found).length) return;
    setSubmitting(true);
    try {
      await api('/api/auth/register', {
        method: 'POST',
        body: { name: values.name.trim(), email: values.email.trim(), password: values.password },
      });
      router.push('/login?registered=1');
    } catch (error) {
      // No 409 branch: the API answers a taken email like a new one (it never says who has an account).
      if (error instanceof ApiError && Object.keys(error.fieldErrors).length) {
        setErrors(error.fieldErrors as RegisterErrors);
      } else {
        setFormError(error instanceof Error ? error.message : 'Registration failed.');
      }
      setSubmitting(false);
    }
  }

  return (
    <form className="card stack auth-card" onSubmit={submit} noValidate aria-labelledby="register-title">
      <h1 id="register-title">Create your account</h1>
      {formError && <Alert kind="error">{formError}</Alert>}
      <FormField label="Full name" error={errors.name}>
        {(props) => <input {...props} autoComplete="name" value={values.name} onChange={update('name')} />}
      </FormField>
      <FormField label="Email" error={errors.email}>
        {(props) => <input {...props} type="email" autoComplete="email" value={values.email} onChange={update('email')} />}
      </FormField>
      <FormField label="Password" error={errors.password} hint={`At least ${MIN_PASSWORD_LENGTH} characters; not a common password or your name.`}>
        {(props) => (
          <input {...props} type="password" autoComplete="new-password" value={values.password} onChange={update('password')} />
        )}
      </FormField>
      <button className="button" type="submit" disabled={submitting}>
        {submitting ? 'Creating account…' : 'Create account'}
      </button>
      <p className="muted">
        Already registered? <Link href="/login" prefetch={false}>Log in</Link>
      </p>
    </form>
  );
}
