'use client';

import { useState } from 'react';
import Link from 'next/link';
import { useApiResource } from '@/lib/useApiResource';
import { usePatientNames } from '@/lib/usePatientNames';
import { useDebouncedValue } from '@/lib/useDebouncedValue';
import type { Page, Patient, TherapySession } from '@/lib/types';
import { StartSessionButton } from './StartSessionButton';
import { SessionList } from './SessionList';

export function QuickStart() {
  const [search, setSearch] = useState('');
  const patientNames = usePatientNames();
  const query = useDebouncedValue(search.trim());
  const params = new URLSearchParams({ pageSize: '10' });
  if (query) params.set('search', query);
  const patients = useApiResource<Page<Patient>>(`/api/patients?${params.toString()}`);
  const active = useApiResource<Page<TherapySession>>('/api/sessions?status=active&pageSize=10');

  return (
    <section className="stack">
      <h1>Quick start</h1>
      {active.data && active.data.items.length > 0 && (
        <>
          <h2>Resume an active session</h2>
          <SessionList sessions={active.data.items} patientNames={patientNames} />
        </>
      )}
      <h2>Start a new session</h2>
      <div className="field">
        <label htmlFor="quick-search">Find a patient</label>
        <input id="quick-search" type="search" value={search} onChange={(event) => setSearch(event.target.value)} />
      </div>
      {patients.data?.items.length === 0 && (
        <p className="muted">
          No patients found. <Link href="/patients" prefetch={false}>Add a patient</Link> first.
        </p>
      )}
      <ul className="stack" style={{ listStyle: 'none', padding: 0 }}>
        {patients.data?.items.map((patient) => (
          <li key={patient.id} className="card row spread">
            <Link href={`/patients/${patient.id}`} prefetch={false}>{patient.name}</Link>
            <StartSessionButton patientId={patient.id} label={`Start session with ${patient.name}`} />
          </li>
        ))}
      </ul>
    </section>
  );
}
