'use client';

import { useEffect, useState } from 'react';
import { formatDuration } from '@/lib/format';

/** Elapsed time since the start; frozen at `endedAt` once the session is over. */
export function SessionTimer({ startedAt, endedAt }: { startedAt: string; endedAt?: string | null }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (endedAt) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [endedAt]);
  const end = endedAt ? new Date(endedAt).getTime() : now;
  const seconds = (end - new Date(startedAt).getTime()) / 1000;
  return (
    <span className="timer" aria-label="Session duration" role="timer">
      {formatDuration(seconds)}
    </span>
  );
}
