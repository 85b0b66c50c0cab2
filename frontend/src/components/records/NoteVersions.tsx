'use client';

import { useEffect, useState } from 'react';
import { useApiResource } from '@/lib/useApiResource';
import type { ClinicalNote } from '@/lib/types';
import { formatDateTime } from '@/lib/format';
import { Alert } from '../Alert';

/** Every saved version of the note, newest first; loaded when opened. */
export function NoteVersions({ sessionId, refreshKey }: { sessionId: string; refreshKey: number }) {
  const [open, setOpen] = useState(false);
  const versions = useApiResource<ClinicalNote[]>(open ? `/api/sessions/${sessionId}/clinical-note/versions` : null);
  const reload = versions.reload;
  useEffect(() => {
    if (refreshKey > 0) reload(); // a save happened: the list has a new version
  }, [refreshKey, reload]);
  return (
    <details className="no-print" onToggle={(event) => setOpen(event.currentTarget.open)}>
      <summary>Version history</summary>
      {versions.error && <Alert kind="error">{versions.error.message}</Alert>}
      {open && !versions.data && !versions.error && <p aria-busy="true">Loading versions…</p>}
      {versions.data && (
        <ol className="note-versions" data-testid="note-versions">
          {versions.data.map((version) => (
            <li key={version.id}>
              <details>
                <summary>
                  Version {version.version} ({version.format.toUpperCase()}), {formatDateTime(version.createdAt)}
                </summary>
                {version.sections.map((section) => (
                  <div key={section.key}>
                    <h4>{section.title}</h4>
                    <p className="note-text">{section.text || '—'}</p>
                  </div>
                ))}
              </details>
            </li>
          ))}
        </ol>
      )}
    </details>
  );
}
