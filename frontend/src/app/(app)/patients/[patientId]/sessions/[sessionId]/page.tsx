import type { Metadata } from 'next';
import { preload } from 'react-dom';
import { LiveSessionView } from '@/components/session/LiveSessionView';

export const metadata: Metadata = { title: 'Session' };

export default async function SessionPage({ params }: { params: Promise<{ patientId: string; sessionId: string }> }) {
  const { patientId, sessionId } = await params;
  // The two GETs the page waits for start with the HTML, not after hydration; the browser hands
  // them to LiveSessionView's fetches (same URL, cors mode, same-origin credentials) (issue 18).
  for (const path of [`/api/sessions/${sessionId}`, `/api/patients/${patientId}`]) preload(path, { as: 'fetch', crossOrigin: 'anonymous' });
  return <LiveSessionView patientId={patientId} sessionId={sessionId} />;
}
