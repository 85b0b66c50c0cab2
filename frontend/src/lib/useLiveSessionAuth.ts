'use client';

import { useCallback, useEffect, useState } from 'react';
import { api, refreshSession, setUnauthorizedHandler } from './api';
import { SessionRenewal } from './auth/sessionRenewal';
import { TranscriptQueue, type TranscriptQueueState } from './transcriptQueue';

const INPUT_EVENTS = ['keydown', 'pointerdown', 'input'] as const;

export interface LiveSessionAuth {
  reloginOpen: boolean;
  onSignedIn: () => void;
  transcript: TranscriptQueueState;
  enqueueTranscript: (text: string) => void;
  /** Whether a live EVI session is connected (counts as activity for renewal). */
  setLive: (live: boolean) => void;
}

/**
 * Keeps a long live session signed in: renews while the therapist is active, queues transcript lines,
 * and turns any 401 into the re-login dialog (no navigation) that resumes both afterwards.
 */
export function useLiveSessionAuth(sessionId: string): LiveSessionAuth {
  const [reloginOpen, setReloginOpen] = useState(false);
  const askToSignIn = useCallback(() => setReloginOpen(true), []);
  const [queue] = useState(
    () =>
      new TranscriptQueue({
        post: (text) => api(`/api/sessions/${sessionId}/transcript`, { method: 'POST', body: { text } }),
        onUnauthorized: askToSignIn,
      }),
  );
  const [renewal] = useState(() => new SessionRenewal({ refresh: refreshSession, onUnauthorized: askToSignIn }));
  const [transcript, setTranscript] = useState<TranscriptQueueState>(() => queue.state);

  useEffect(() => setUnauthorizedHandler(askToSignIn), [askToSignIn]);
  useEffect(() => queue.subscribe(setTranscript), [queue]);
  useEffect(() => () => queue.dispose(), [queue]);
  useEffect(() => {
    renewal.start();
    const onInput = () => renewal.noteInput();
    INPUT_EVENTS.forEach((name) => window.addEventListener(name, onInput, { passive: true }));
    return () => {
      renewal.stop();
      INPUT_EVENTS.forEach((name) => window.removeEventListener(name, onInput));
    };
  }, [renewal]);
  const setLive = useCallback((live: boolean) => renewal.setLive(live), [renewal]);

  const onSignedIn = useCallback(() => {
    setReloginOpen(false);
    renewal.resume();
    queue.resume();
  }, [renewal, queue]);
  const enqueueTranscript = useCallback((text: string) => queue.enqueue(text), [queue]);

  return { reloginOpen, onSignedIn, transcript, enqueueTranscript, setLive };
}
