'use client';

import { useState } from 'react';
import { useRouter } from 'next/navigation';
import { sessionPath, startSession } from '@/lib/sessions';
import { Alert } from './Alert';

export function StartSessionButton({ patientId, label = 'Start session' }: { patientId: string; label?: string }) {
  const router = useRouter();
  const [starting, setStarting] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function start() {
    setStarting(true);
    setError(null);
    try {
      const session = await startSession(patientId);
      router.push(sessionPath(session));
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : 'Could not start the session.');
      setStarting(false);
    }
  }

  return (
    <div className="stack">
      <button type="button" className="button" onClick={start} disabled={starting}>
        {starting ? 'Starting…' : label}
      </button>
      {error && <Alert kind="error">{error}</Alert>}
    </div>
  );
}
