import Link from 'next/link';
import type { TherapySession } from '@/lib/types';
import { formatDateTime, humanise } from '@/lib/format';
import { sessionPath } from '@/lib/sessions';

export function SessionList({ sessions, showPatient = false }: { sessions: TherapySession[]; showPatient?: boolean }) {
  if (sessions.length === 0) return <p className="muted">No sessions yet.</p>;
  return (
    <table>
      <thead>
        <tr>
          {showPatient && <th scope="col">Patient</th>}
          <th scope="col">Started</th>
          <th scope="col">Ended</th>
          <th scope="col">Status</th>
          <th scope="col">
            <span className="visually-hidden">Open</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {sessions.map((session) => (
          <tr key={session.id}>
            {showPatient && <td>{session.patientName ?? 'Patient'}</td>}
            <td>{formatDateTime(session.startedAt)}</td>
            <td>{formatDateTime(session.endedAt)}</td>
            <td>
              <span className={`badge ${session.status}`}>{humanise(session.status)}</span>
            </td>
            <td>
              <Link href={sessionPath(session)}>{session.status === 'active' ? 'Resume' : 'View'}</Link>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
