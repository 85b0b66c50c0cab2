'use client';

import { useState } from 'react';
import { useRouter } from 'next/navigation';
import { api, ApiError } from '@/lib/api';
import { useApiResource } from '@/lib/useApiResource';
import { useDocumentTitle } from '@/lib/useDocumentTitle';
import { onTabListKeyDown } from '@/lib/tabs';
import type { Page, Patient, TherapySession } from '@/lib/types';
import { formatDateTime, humanise } from '@/lib/format';
import { NotFoundMessage } from '../NotFoundMessage';
import { Alert } from '../Alert';
import { SessionList } from '../SessionList';
import { StartSessionButton } from '../StartSessionButton';
import { PatientFormDialog } from './PatientFormDialog';
import { PatientHistory } from '../records/PatientHistory';

type Tab = 'overview' | 'sessions';

export function PatientDetail({ patientId }: { patientId: string }) {
  const router = useRouter();
  const patient = useApiResource<Patient>(`/api/patients/${patientId}`);
  const sessions = useApiResource<Page<TherapySession>>(
    patient.data ? `/api/patients/${patientId}/sessions?pageSize=50` : null,
  );
  const [tab, setTab] = useState<Tab>('overview');
  const [editing, setEditing] = useState(false);
  const [deleteError, setDeleteError] = useState<string | null>(null);
  useDocumentTitle(patient.data?.name ?? null);

  if (patient.error?.isNotFound) return <NotFoundMessage what="Patient" />;
  if (patient.error) return <Alert kind="error">{patient.error.message}</Alert>;
  if (!patient.data) return <p aria-busy="true">Loading patient…</p>;
  const current = patient.data;
  const demographics = current.demographics ?? {};

  async function remove() {
    if (!window.confirm(`Delete ${current.name} and all their sessions? This cannot be undone.`)) return;
    try {
      await api(`/api/patients/${current.id}`, { method: 'DELETE' });
      router.push('/patients');
    } catch (error) {
      setDeleteError(
        error instanceof ApiError && error.status === 409
          ? 'End the active session before deleting this patient.'
          : error instanceof Error
            ? error.message
            : 'Delete failed.',
      );
    }
  }

  return (
    <section className="stack">
      <div className="row spread">
        <h1>{current.name}</h1>
        <div className="row">
          <StartSessionButton patientId={current.id} />
          <button type="button" className="button secondary" onClick={() => setEditing(true)}>
            Edit
          </button>
          <button type="button" className="button danger" onClick={remove}>
            Delete
          </button>
        </div>
      </div>
      {deleteError && <Alert kind="error">{deleteError}</Alert>}
      <div className="tabs" role="tablist" aria-label="Patient" onKeyDown={onTabListKeyDown}>
        {(['overview', 'sessions'] as const).map((name) => (
          <button
            key={name}
            type="button"
            role="tab"
            id={`tab-${name}`}
            aria-selected={tab === name}
            tabIndex={tab === name ? 0 : -1}
            aria-controls={`panel-${name}`}
            onClick={() => setTab(name)}
          >
            {humanise(name)}
          </button>
        ))}
      </div>
      {tab === 'overview' ? (
        <div role="tabpanel" id="panel-overview" aria-labelledby="tab-overview" className="grid">
          <dl className="card">
            <dt className="muted">Email</dt>
            <dd>{current.email ?? '—'}</dd>
            <dt className="muted">Phone</dt>
            <dd>{current.phone ?? '—'}</dd>
            <dt className="muted">Age</dt>
            <dd>{demographics.age ?? '—'}</dd>
            <dt className="muted">Gender</dt>
            <dd>{demographics.gender ? humanise(demographics.gender) : '—'}</dd>
            <dt className="muted">Occupation</dt>
            <dd>{demographics.occupation ?? '—'}</dd>
            <dt className="muted">Referral source</dt>
            <dd>{demographics.referralSource ?? '—'}</dd>
          </dl>
          <div className="card stack">
            <h2>Sessions</h2>
            <p>Total: {current.stats?.totalSessions ?? 0}</p>
            <p>Active: {current.stats?.activeSessions ?? 0}</p>
            <p>Last: {formatDateTime(current.stats?.lastSessionAt)}</p>
            <h2>Initial concerns</h2>
            {demographics.initialConcerns?.length ? (
              <ul>
                {demographics.initialConcerns.map((concern) => (
                  <li key={concern}>{concern}</li>
                ))}
              </ul>
            ) : (
              <p className="muted">None recorded.</p>
            )}
          </div>
        </div>
      ) : (
        <div role="tabpanel" id="panel-sessions" aria-labelledby="tab-sessions">
          {sessions.error && <Alert kind="error">{sessions.error.message}</Alert>}
          {sessions.data ? <SessionList sessions={sessions.data.items} /> : <p aria-busy="true">Loading sessions…</p>}
        </div>
      )}
      <PatientHistory patientId={current.id} />
      <PatientFormDialog
        open={editing}
        patient={current}
        onClose={() => setEditing(false)}
        onSaved={() => {
          setEditing(false);
          patient.reload();
        }}
      />
    </section>
  );
}
