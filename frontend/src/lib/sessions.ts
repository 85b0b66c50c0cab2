import { api } from './api';
import type { TherapySession } from './types';

export function sessionPath(session: Pick<TherapySession, 'id' | 'patientId'>): string {
  return `/patients/${session.patientId}/sessions/${session.id}`;
}

/** Starts a session (completing any active one of that patient, as the backend does). */
export function startSession(patientId: string): Promise<TherapySession> {
  return api<TherapySession>('/api/sessions/start', { method: 'POST', body: { patientId } });
}
