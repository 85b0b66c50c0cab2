import type { Metadata } from 'next';
import { LiveSessionView } from '@/components/session/LiveSessionView';

export const metadata: Metadata = { title: 'Session' };

export default async function SessionPage({ params }: { params: Promise<{ patientId: string; sessionId: string }> }) {
  const { patientId, sessionId } = await params;
  return <LiveSessionView patientId={patientId} sessionId={sessionId} />;
}
