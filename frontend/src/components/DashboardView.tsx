'use client';

import Link from 'next/link';
import { useApiResource } from '@/lib/useApiResource';
import { usePatientNames } from '@/lib/usePatientNames';
import type { Page, Patient, TherapySession } from '@/lib/types';
import { useCurrentUser } from './AppShell';
import { SessionList } from './SessionList';

export function DashboardView() {
  const user = useCurrentUser();
  const patientNames = usePatientNames();
  const patients = useApiResource<Page<Patient>>('/api/patients?pageSize=1');
  const active = useApiResource<Page<TherapySession>>('/api/sessions?status=active&pageSize=10');
  const recent = useApiResource<Page<TherapySession>>('/api/sessions?pageSize=5');

  return (
    <section className="stack">
      <h1>Welcome{user ? `, ${user.name}` : ''}</h1>
      <div className="grid">
        <div className="card">
          <h2>Patients</h2>
          <p className="timer">{patients.data?.total ?? '…'}</p>
          <Link href="/patients" prefetch={false}>Manage patients</Link>
        </div>
        <div className="card">
          <h2>Active sessions</h2>
          <p className="timer">{active.data?.total ?? '…'}</p>
          <Link href="/sessions" prefetch={false}>Quick start a session</Link>
        </div>
        <div className="card">
          <h2>Search</h2>
          <p>Find what was said in any of your sessions.</p>
          <Link href="/search" prefetch={false}>Search sessions</Link>
        </div>
      </div>
      {active.data && active.data.items.length > 0 && (
        <>
          <h2>In progress</h2>
          <SessionList sessions={active.data.items} patientNames={patientNames} />
        </>
      )}
      <h2>Recent sessions</h2>
      {recent.data ? <SessionList sessions={recent.data.items} patientNames={patientNames} /> : <p aria-busy="true">Loading…</p>}
    </section>
  );
}
