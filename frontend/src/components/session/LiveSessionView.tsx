'use client';

import { useEffect, useState } from 'react';
import { useApiResource } from '@/lib/useApiResource';
import { sessionViewState } from '@/lib/session/viewState';
import type { Patient, TherapySession } from '@/lib/types';
import type { SessionWorkspace as Workspace } from './SessionWorkspace';
import { NotFoundMessage } from '../NotFoundMessage';
import { Alert } from '../Alert';

// The workspace (graph, voice, transcript, notes) is its own chunk, fetched while the session and
// patient load: the page's first-load JS is only what it needs to ask for them (issue 18).
const loadWorkspace = () => import('./SessionWorkspace');
const LOADING = <p aria-busy="true">Loading session…</p>;

export function LiveSessionView({ patientId, sessionId }: { patientId: string; sessionId: string }) {
  const session = useApiResource<TherapySession>(`/api/sessions/${sessionId}`);
  const patient = useApiResource<Patient>(`/api/patients/${patientId}`);
  // Rendered only once its module is here, not through a lazy component: a lazy one suspends when
  // the data arrives and React holds that reveal back (~300 ms Suspense throttle), delaying the
  // page's heading, its largest paint (Lighthouse LCP, issue 18).
  const [SessionWorkspace, setSessionWorkspace] = useState<typeof Workspace | null>(null);
  const [loadFailed, setLoadFailed] = useState(false);
  useEffect(() => {
    let current = true;
    loadWorkspace().then(
      (module) => current && setSessionWorkspace(() => module.SessionWorkspace),
      () => current && setLoadFailed(true),
    );
    return () => {
      current = false;
    };
  }, []);

  const view = sessionViewState(patientId, { session, patient, workspace: SessionWorkspace !== null, workspaceFailed: loadFailed });
  if (view.kind === 'notFound') return <NotFoundMessage what="Session" />;
  if (view.kind === 'error') return <Alert kind="error">{view.message}</Alert>;
  // 'ready' means all three are here; the checks only narrow their types.
  if (view.kind !== 'ready' || !session.data || !patient.data || !SessionWorkspace) return LOADING;
  return <SessionWorkspace initialSession={session.data} patient={patient.data} />;
}
