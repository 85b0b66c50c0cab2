import Link from 'next/link';
import type { Patient } from '@/lib/types';
import { formatDateTime } from '@/lib/format';

export function PatientTable({ patients, onEdit }: { patients: Patient[]; onEdit: (patient: Patient) => void }) {
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Email</th>
          <th scope="col">Phone</th>
          <th scope="col">Added</th>
          <th scope="col">
            <span className="visually-hidden">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {patients.map((patient) => (
          <tr key={patient.id}>
            <td>
              <Link href={`/patients/${patient.id}`} prefetch={false}>{patient.name}</Link>
            </td>
            <td>{patient.email ?? '—'}</td>
            <td>{patient.phone ?? '—'}</td>
            <td>{formatDateTime(patient.createdAt)}</td>
            <td>
              <button type="button" className="button secondary" onClick={() => onEdit(patient)}>
                Edit<span className="visually-hidden"> {patient.name}</span>
              </button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
