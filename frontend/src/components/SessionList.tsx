import Link from 'next/link';
import type { TherapySession } from '@/lib/types';
import { formatDateTime, humanise } from '@/lib/format';
import { sessionPath } from '@/lib/sessions';

interface SessionListProps {
  sessions: TherapySession[];
  /** When given, a Patient column shows each session's patient by name. */
  patientNames?: Map<string, string>;
}

export function SessionList({ sessions, patientNames }: SessionListProps) {
  const showPatient = patientNames !== undefined;
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
            {showPatient && <td>{patientNames.get(session.patientId) ?? 'Patient'}</td>}
            <td>{formatDateTime(session.startedAt)}</td>
            <td>{formatDateTime(session.endedAt)}</td>
            <td>
              <span className={`badge ${session.status}`}>{humanise(session.status)}</span>
            </td>
            <td>
              <Link href={sessionPath(session)} prefetch={false}>{session.status === 'active' ? 'Resume' : 'View'}</Link>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
