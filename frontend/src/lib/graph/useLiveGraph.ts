'use client';

import { useEffect, useState } from 'react';
import type { Socket } from 'socket.io-client';
import { api, ApiError, redirectToLogin } from '../api';
import type { GraphSnapshot, SessionStatus } from '../types';
import { applyBatch, applyMetrics, applySnapshot, emptyGraph, type GraphState } from './graphStore';
import { describeConnectError, LIVE_SOCKET_OPTIONS } from './liveSocket';

export type LiveConnection = 'connecting' | 'live' | 'offline';

export interface ProcessingUpdate {
  status: 'extracting' | 'embedding' | 'linking' | 'done' | 'error' | string;
  message?: string;
}

export interface LiveGraph {
  graph: GraphState;
  connection: LiveConnection;
  processing: ProcessingUpdate | null;
  pushedStatus: SessionStatus | null;
  lastUpdateAt: number | null;
  /** Changes whenever the voice agent's tools saved a note, progress or concern. */
  recordsChangedAt: number | null;
  /** Why live updates cannot connect, when we know (e.g. websockets blocked). */
  connectionMessage: string | null;
}

// The backend announces records saved by the voice agent's tools with these events.
const RECORD_EVENTS = ['note_added', 'progress_marked', 'concern_flagged'] as const;

/**
 * The session's graph: loaded once over REST, then kept current by Socket.IO room events. The
 * socket authenticates with the httpOnly cookie sent on the same-origin handshake.
 */
export function useLiveGraph(sessionId: string): LiveGraph {
  const [graph, setGraph] = useState<GraphState>(emptyGraph);
  const [connection, setConnection] = useState<LiveConnection>('connecting');
  const [processing, setProcessing] = useState<ProcessingUpdate | null>(null);
  const [pushedStatus, setPushedStatus] = useState<SessionStatus | null>(null);
  const [lastUpdateAt, setLastUpdateAt] = useState<number | null>(null);
  const [recordsChangedAt, setRecordsChangedAt] = useState<number | null>(null);
  const [connectionMessage, setConnectionMessage] = useState<string | null>(null);

  useEffect(() => {
    const controller = new AbortController();
    api<GraphSnapshot>(`/api/sessions/${sessionId}/graph`, { signal: controller.signal })
      .then((snapshot) => setGraph(applySnapshot(snapshot)))
      .catch((error: unknown) => {
        if (error instanceof ApiError && error.isUnauthorized) redirectToLogin();
      });

    let socket: Socket | null = null;
    let disposed = false;
    // socket.io-client is loaded with the session page only, not with every route.
    void import('socket.io-client').then(({ io }) => {
      if (disposed) return;
      socket = io(LIVE_SOCKET_OPTIONS);
      socket.on('connect', () => {
        setConnectionMessage(null);
        socket?.emit('join_session', { sessionId });
      });
      socket.on('joined_session', () => setConnection('live'));
      socket.on('disconnect', (reason: string) => {
        setConnection('offline');
        // The server cuts a socket when the token it opened with expires; socket.io-client does
        // not reconnect by itself then. Reconnect with the renewed cookie (a logout refuses it).
        if (reason === 'io server disconnect') socket?.connect();
      });
      socket.on('connect_error', (error: Error) => {
        setConnection('offline');
        setConnectionMessage(describeConnectError(error));
      });
      socket.on('graph_state', (snapshot: GraphSnapshot) => {
        setGraph(applySnapshot(snapshot));
        setLastUpdateAt(Date.now());
      });
      socket.on('graph_batch_update', (batch: { nodes?: unknown; edges?: unknown; links?: unknown }) => {
        setGraph((current) => applyBatch(current, batch));
        setLastUpdateAt(Date.now());
      });
      socket.on('metrics_updated', (update: { nodes?: unknown }) => setGraph((current) => applyMetrics(current, update)));
      socket.on('processing_update', (update: ProcessingUpdate) => setProcessing(update));
      for (const event of RECORD_EVENTS) socket.on(event, () => setRecordsChangedAt(Date.now()));
      socket.on('session_update', (update: { status?: SessionStatus }) => {
        if (update.status) setPushedStatus(update.status);
      });
    });

    return () => {
      disposed = true;
      controller.abort();
      if (socket) {
        socket.emit('leave_session', { sessionId });
        socket.disconnect();
      }
    };
  }, [sessionId]);

  return { graph, connection, processing, pushedStatus, lastUpdateAt, recordsChangedAt, connectionMessage };
}
