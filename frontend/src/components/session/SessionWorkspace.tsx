'use client';

import { useCallback, useEffect, useState } from 'react';
import Link from 'next/link';
import dynamic from 'next/dynamic';
import { useLiveGraph } from '@/lib/graph/useLiveGraph';
import { rankedNodes } from '@/lib/graph/graphStore';
import { useEviVoice } from '@/lib/evi/useEviVoice';
import { describePatientForEvi } from '@/lib/patientForm';
import type { Patient, TherapySession } from '@/lib/types';
import { humanise } from '@/lib/format';
import { Alert } from '../Alert';
import { SessionTimer } from './SessionTimer';
import { GraphPanel } from './GraphPanel';
import { VoicePanel } from './VoicePanel';
import { NotesPanel } from './NotesPanel';
import { TranscriptInput } from './TranscriptInput';
import { EndSessionButton } from './EndSessionButton';
import { ReloginDialog } from './ReloginDialog';
import { TranscriptQueueStatus } from './TranscriptQueueStatus';
import { useLiveSessionAuth } from '@/lib/useLiveSessionAuth';
import { TranscriptPanel } from '../records/TranscriptPanel';
import { useDocumentTitle } from '@/lib/useDocumentTitle';

// Only an ended session shows these: they load when it ends, not with the live page.
const SummaryView = dynamic(() => import('./SummaryView').then((module) => module.SummaryView));
const ClinicalNoteEditor = dynamic(() => import('../records/ClinicalNoteEditor').then((module) => module.ClinicalNoteEditor));

/** The live page once its session and patient have loaded (its own chunk, see LiveSessionView). */
export function SessionWorkspace({ initialSession, patient }: { initialSession: TherapySession; patient: Patient }) {
  const [session, setSession] = useState(initialSession);
  const [notesVersion, setNotesVersion] = useState(0);
  const [endedHere, setEndedHere] = useState(false);
  useDocumentTitle(`Session with ${patient.name}`);
  const live = useLiveGraph(session.id);
  // A session ended elsewhere (another tab, the voice agent) arrives as a session_update.
  const status = live.pushedStatus && live.pushedStatus !== 'active' ? live.pushedStatus : session.status;
  const isActive = status === 'active';
  const refreshNotes = useCallback(() => setNotesVersion((v) => v + 1), []);
  const [summaryReady, setSummaryReady] = useState(false);
  const onSummaryReady = useCallback(() => setSummaryReady(true), []);
  const auth = useLiveSessionAuth(session.id);
  const voice = useEviVoice({
    sessionId: session.id,
    patientContext: describePatientForEvi(patient),
    onToolResult: refreshNotes,
    onPatientText: auth.enqueueTranscript,
  });
  const voiceConnected = voice.status === 'connected' || voice.status === 'reconnecting';
  const setAuthLive = auth.setLive;
  useEffect(() => setAuthLive(voiceConnected), [setAuthLive, voiceConnected]);
  const stopVoice = voice.stop;
  useEffect(() => {
    if (!isActive) stopVoice();
  }, [isActive, stopVoice]);
  const emotionFromGraph = rankedNodes(live.graph).find((node) => node.type === 'emotion');
  const topEmotion = voice.topEmotion?.name ?? emotionFromGraph?.label ?? null;

  return (
    <section className="stack">
      <nav aria-label="Breadcrumb" className="muted">
        <Link href="/patients" prefetch={false}>Patients</Link> / <Link href={`/patients/${patient.id}`} prefetch={false}>{patient.name}</Link> / Session
      </nav>
      <div className="row spread">
        <div>
          <h1>Session with {patient.name}</h1>
          <div className="row">
            <span className={`badge ${status}`} data-testid="session-status">
              {humanise(status)}
            </span>
            <SessionTimer startedAt={session.startedAt} endedAt={session.endedAt} />
            <span>
              Top emotion: <strong data-testid="top-emotion">{topEmotion ? humanise(topEmotion) : '—'}</strong>
            </span>
          </div>
        </div>
        {isActive && (
          <EndSessionButton
            sessionId={session.id}
            onEnded={(ended) => {
              voice.stop();
              setEndedHere(true);
              setSession((current) => ({ ...current, ...ended }));
            }}
          />
        )}
      </div>
      <ReloginDialog
        open={auth.reloginOpen}
        onSignedIn={() => {
          auth.onSignedIn();
          // A reconnect that failed while signed out (no EVI token) starts again now.
          if (isActive && voice.status === 'error' && !voice.micError) void voice.retry();
        }}
      />
      <TranscriptQueueStatus state={auth.transcript} />
      {isActive && live.connectionMessage && (
        <div data-testid="live-updates-status">
          <Alert kind="error">{live.connectionMessage}</Alert>
        </div>
      )}
      {!isActive && <SummaryView sessionId={session.id} onReady={onSummaryReady} focusOnMount={endedHere} />}
      {!isActive && <ClinicalNoteEditor sessionId={session.id} summaryReady={summaryReady} />}
      <div className="session-layout">
        <div className="stack">
          <GraphPanel
            graph={live.graph}
            sessionId={session.id}
            startedAt={session.startedAt}
            connection={isActive ? live.connection : undefined} processing={live.processing} />
          {isActive && <TranscriptInput sessionId={session.id} />}
          <TranscriptPanel sessionId={session.id} startedAt={session.startedAt} live={isActive} />
        </div>
        <div className="stack">
          {isActive && <VoicePanel voice={voice} />}
          <NotesPanel sessionId={session.id} refreshKey={`${notesVersion}-${live.recordsChangedAt ?? 0}`} />
        </div>
      </div>
    </section>
  );
}
