'use client';

import { useState } from 'react';
import { useApiResource } from '@/lib/useApiResource';
import { useDebouncedValue } from '@/lib/useDebouncedValue';
import type { Page, Patient } from '@/lib/types';
import { PatientTable } from './PatientTable';
import { PatientFormDialog } from './PatientFormDialog';
import { Alert } from '../Alert';

const PAGE_SIZE = 20;

export function PatientsView() {
  const [search, setSearch] = useState('');
  const [page, setPage] = useState(1);
  const [editing, setEditing] = useState<Patient | null>(null);
  const [formOpen, setFormOpen] = useState(false);
  const [saved, setSaved] = useState<string | null>(null);
  const query = useDebouncedValue(search.trim());
  const params = new URLSearchParams({ page: String(page), pageSize: String(PAGE_SIZE) });
  if (query) params.set('search', query);
  const patients = useApiResource<Page<Patient>>(`/api/patients?${params.toString()}`);
  const totalPages = patients.data ? Math.max(1, Math.ceil(patients.data.total / PAGE_SIZE)) : 1;

  function openForm(patient: Patient | null) {
    setEditing(patient);
    setFormOpen(true);
  }

  return (
    <section className="stack">
      <div className="row spread">
        <h1>Patients</h1>
        <button type="button" className="button" onClick={() => openForm(null)}>
          Add patient
        </button>
      </div>
      <p className="muted">Only you can see these patients. Search by name, email or phone, or open one to start a session.</p>
      {saved && <Alert kind="success">{saved}</Alert>}
      <div className="field">
        <label htmlFor="patient-search">Search patients</label>
        <input
          id="patient-search"
          type="search"
          placeholder="Name, email or phone"
          value={search}
          onChange={(event) => {
            setSearch(event.target.value);
            setPage(1);
          }}
        />
      </div>
      {patients.error && <Alert kind="error">{patients.error.message}</Alert>}
      {patients.data && patients.data.items.length === 0 && (
        <p className="muted">{query ? 'No patients match your search.' : 'No patients yet. Add your first patient.'}</p>
      )}
      {patients.data && patients.data.items.length > 0 && (
        <>
          <PatientTable patients={patients.data.items} onEdit={(patient) => openForm(patient)} />
          <nav className="row" aria-label="Pagination">
            <button type="button" className="button secondary" disabled={page <= 1} onClick={() => setPage(page - 1)}>
              Previous
            </button>
            <span className="muted">
              Page {page} of {totalPages} · {patients.data.total} patients
            </span>
            <button
              type="button"
              className="button secondary"
              disabled={page >= totalPages}
              onClick={() => setPage(page + 1)}
            >
              Next
            </button>
          </nav>
        </>
      )}
      {patients.loading && !patients.data && <p aria-busy="true">Loading patients…</p>}
      <PatientFormDialog
        open={formOpen}
        patient={editing}
        onClose={() => setFormOpen(false)}
        onSaved={(patient) => {
          setFormOpen(false);
          setSaved(`${editing ? 'Updated' : 'Added'} ${patient.name}.`);
          patients.reload();
        }}
      />
    </section>
  );
}
