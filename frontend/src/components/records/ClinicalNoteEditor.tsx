'use client';

import { useCallback, useEffect, useId, useState, type FormEvent } from 'react';
import { api, ApiError, redirectToLogin } from '@/lib/api';
import type { ClinicalNote, ClinicalNoteDraft, ClinicalNoteInput, NoteFormat, NoteSection } from '@/lib/types';
import { formatDateTime } from '@/lib/format';
import { Alert } from '../Alert';
import { NoteVersions } from './NoteVersions';
import '@/app/records.css';

const FORMATS: { value: NoteFormat; title: string; hint: string }[] = [
  { value: 'soap', title: 'SOAP', hint: 'Subjective, Objective, Assessment, Plan' },
  { value: 'dap', title: 'DAP', hint: 'Data, Assessment, Plan' },
  { value: 'birp', title: 'BIRP', hint: 'Behavior, Intervention, Response, Plan' },
];
const titleOf = (format: NoteFormat) => FORMATS.find((f) => f.value === format)?.title ?? format;

interface Editing {
  format: NoteFormat;
  sections: NoteSection[];
  /** What the editor shows came from the session's records, not from a save. */
  prefilled: boolean;
  /** The therapist changed something since it was loaded. */
  touched: boolean;
}

function message(error: unknown, fallback: string): string {
  if (error instanceof ApiError && error.isUnauthorized) redirectToLogin();
  return error instanceof Error ? error.message : fallback;
}

/** The session's progress note: prefilled in a chosen format, edited, saved as versions, exported. */
/** `summaryReady` turning true refills an untouched, unsaved draft (the summary is written after
 * the end, often after the editor first loaded). */
export function ClinicalNoteEditor({ sessionId, summaryReady = false }: { sessionId: string; summaryReady?: boolean }) {
  const base = `/api/sessions/${sessionId}/clinical-note`;
  const [saved, setSaved] = useState<ClinicalNote | null | undefined>(undefined);
  const [editing, setEditing] = useState<Editing | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const [versionsKey, setVersionsKey] = useState(0);
  const formatName = useId();

  const loadDraft = useCallback(
    async (format: NoteFormat) => {
      try {
        const draft = await api<ClinicalNoteDraft>(`${base}/draft?format=${format}`);
        setEditing({ format, sections: draft.sections, prefilled: true, touched: false });
        setError(null);
      } catch (failure) {
        setError(message(failure, 'Could not prefill the note.'));
      }
    },
    [base],
  );

  useEffect(() => {
    let cancelled = false;
    api<ClinicalNote | null>(base)
      .then((note) => {
        if (cancelled) return;
        setSaved(note);
        if (note) setEditing({ format: note.format, sections: note.sections, prefilled: false, touched: false });
        else void loadDraft('soap');
      })
      .catch((failure: unknown) => {
        if (!cancelled) setError(message(failure, 'Could not load the note.'));
      });
    return () => {
      cancelled = true;
    };
  }, [base, loadDraft]);

  const refill = editing && !saved && editing.prefilled && !editing.touched ? editing.format : null;
  useEffect(() => {
    if (!summaryReady || !refill) return;
    let cancelled = false;
    api<ClinicalNoteDraft>(`${base}/draft?format=${refill}`)
      .then((draft) => {
        if (cancelled) return;
        // Still untouched and in the same format: an edit made meanwhile is never overwritten.
        setEditing((current) =>
          current && current.prefilled && !current.touched && current.format === refill
            ? { ...current, sections: draft.sections }
            : current,
        );
      })
      // The earlier draft stays; choosing the format again reloads it.
      .catch(() => undefined);
    return () => {
      cancelled = true;
    };
  }, [summaryReady, refill, base]);

  function edit(key: string, text: string) {
    setStatus(null);
    setEditing((current) =>
      current && { ...current, touched: true, sections: current.sections.map((s) => (s.key === key ? { ...s, text } : s)) },
    );
  }

  async function save(event: FormEvent) {
    event.preventDefault();
    if (!editing) return;
    setSaving(true);
    setStatus(null);
    const body: ClinicalNoteInput = {
      format: editing.format,
      sections: Object.fromEntries(editing.sections.map((s) => [s.key, s.text])),
      baseVersion: saved?.version ?? null,
    };
    try {
      const note = await api<ClinicalNote>(`${base}/versions`, { method: 'POST', body });
      setSaved(note);
      setEditing({ format: note.format, sections: note.sections, prefilled: false, touched: false });
      setVersionsKey((k) => k + 1);
      setError(null);
      setStatus(`Saved as version ${note.version}.`);
    } catch (failure) {
      setError(message(failure, 'Could not save the note.'));
    } finally {
      setSaving(false);
    }
  }

  return (
    <section className="card stack clinical-note" aria-labelledby={`${formatName}-title`}>
      <div className="row spread">
        <h2 id={`${formatName}-title`}>Progress note</h2>
        <div className="row no-print">
          <a className="button secondary" href={`/api/sessions/${sessionId}/export.md`} download>
            Download Markdown
          </a>
          <button type="button" className="button secondary" onClick={() => window.print()}>
            Print or save as PDF
          </button>
        </div>
      </div>
      {error && <Alert kind="error">{error}</Alert>}
      {saved === undefined && !error && <p aria-busy="true">Loading note…</p>}
      {editing && (
        <form className="stack no-print" onSubmit={save} aria-labelledby={`${formatName}-title`}>
          <fieldset className="note-formats">
            <legend>Format</legend>
            {FORMATS.map((format) => (
              <label key={format.value} className="note-format">
                <input
                  type="radio"
                  name={formatName}
                  value={format.value}
                  checked={editing.format === format.value}
                  onChange={() => void loadDraft(format.value)}
                />{' '}
                {format.title} <span className="muted">({format.hint})</span>
              </label>
            ))}
          </fieldset>
          <p className="muted" data-testid="note-origin">
            {editing.prefilled
              ? 'Prefilled from the summary, notes, progress and concerns; not saved yet.'
              : saved
                ? `Version ${saved.version}, saved ${formatDateTime(saved.createdAt)}.`
                : ''}
          </p>
          {editing.sections.map((section) => (
            <div className="field" key={`${editing.format}-${section.key}`}>
              <label htmlFor={`${formatName}-${section.key}`}>{section.title}</label>
              <textarea
                id={`${formatName}-${section.key}`}
                rows={5}
                value={section.text}
                onChange={(event) => edit(section.key, event.target.value)}
              />
            </div>
          ))}
          <div className="row">
            <button type="submit" className="button" disabled={saving}>
              Save note
            </button>
            <span role="status" className="muted" data-testid="note-status">
              {status}
            </span>
          </div>
        </form>
      )}
      {editing && (
        // What prints: textareas clip their text on paper, so the note prints as text.
        <div className="print-only" data-testid="note-print">
          <h3>
            {titleOf(editing.format)} note{saved ? `, version ${saved.version}` : ' (not saved)'}
          </h3>
          {editing.sections.map((section) => (
            <div key={section.key}>
              <h4>{section.title}</h4>
              <p className="note-text">{section.text || '—'}</p>
            </div>
          ))}
        </div>
      )}
      {saved && <NoteVersions sessionId={sessionId} refreshKey={versionsKey} />}
    </section>
  );
}
