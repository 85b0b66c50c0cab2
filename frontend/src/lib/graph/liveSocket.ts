import type { ManagerOptions, SocketOptions } from 'socket.io-client';

// Websocket-only on both sides: the backend runs several workers and replicas without sticky
// sessions, where long-polling would land on a worker that never saw the handshake.
export const LIVE_SOCKET_OPTIONS = {
  path: '/socket.io',
  withCredentials: true,
  transports: ['websocket'],
} satisfies Partial<ManagerOptions & SocketOptions>;

export const WEBSOCKETS_BLOCKED_MESSAGE = 'Live updates need WebSockets, which this network appears to block.';

/** A transport failure means the websocket itself could not open; a server refusal is something else. */
export function describeConnectError(error: unknown): string | null {
  const type = (error as { type?: unknown } | null)?.type;
  const message = error instanceof Error ? error.message : '';
  return type === 'TransportError' || message === 'websocket error' ? WEBSOCKETS_BLOCKED_MESSAGE : null;
}
