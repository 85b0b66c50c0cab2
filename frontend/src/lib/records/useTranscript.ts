'use client';

import { useEffect, useState } from 'react';
import type { Socket } from 'socket.io-client';
import { api, ApiError, redirectToLogin } from '@/lib/api';
import { LIVE_SOCKET_OPTIONS } from '@/lib/graph/liveSocket';
import type { ClientToServerEvents, ServerToClientEvents, Transcript, TranscriptEntry } from '@/lib/types';
import { mergeEntries } from './transcript';

export interface TranscriptState {
  entries: TranscriptEntry[];
  loaded: boolean;
  error: string | null;
}

/**
 * The session's transcript: fetched once, then (while `live`) every `transcript_entry` event of its
 * room, refetched on each (re)join so a line said while disconnected is not missed.
 */
export function useTranscript(sessionId: string, live: boolean): TranscriptState {
  const [state, setState] = useState<TranscriptState>({ entries: [], loaded: false, error: null });

  useEffect(() => {
    const controller = new AbortController();
    const load = () =>
      api<Transcript>(`/api/sessions/${sessionId}/transcript`, { signal: controller.signal })
        .then((body) => setState((s) => ({ entries: mergeEntries(s.entries, body.entries), loaded: true, error: null })))
        .catch((error: unknown) => {
          if (controller.signal.aborted) return;
          if (error instanceof ApiError && error.isUnauthorized) redirectToLogin();
          const message = error instanceof Error ? error.message : 'Could not load the transcript.';
          setState((s) => ({ ...s, loaded: true, error: message }));
        });
    void load();
    if (!live) return () => controller.abort();

    // Its own socket (the graph's lives in useLiveGraph): the room is the same, the events are typed.
    let socket: Socket<ServerToClientEvents, ClientToServerEvents> | null = null;
    let disposed = false;
    void import('socket.io-client').then(({ io }) => {
      if (disposed) return;
      socket = io(LIVE_SOCKET_OPTIONS);
      socket.on('connect', () => socket?.emit('join_session', { sessionId }));
      socket.on('joined_session', () => void load());
      socket.on('disconnect', (reason) => {
        // As useLiveGraph: the server cuts a socket at token expiry; reconnect with the renewed cookie.
        if (reason === 'io server disconnect') socket?.connect();
      });
      socket.on('transcript_entry', ({ id, speaker, text, spokenAt }) =>
        setState((s) => ({ ...s, entries: mergeEntries(s.entries, [{ id, speaker, text, spokenAt }]) })),
      );
    });
    return () => {
      disposed = true;
      controller.abort();
      if (socket) {
        socket.emit('leave_session', { sessionId });
        socket.disconnect();
      }
    };
  }, [sessionId, live]);

  return state;
}
