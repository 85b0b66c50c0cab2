import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { io, type Socket } from 'socket.io-client';
import { describeConnectError, LIVE_SOCKET_OPTIONS, WEBSOCKETS_BLOCKED_MESSAGE } from './liveSocket';

let server: Server | null = null;
let socket: Socket | null = null;

afterEach(async () => {
  socket?.disconnect();
  socket = null;
  server?.closeAllConnections();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = null;
});

describe('live Socket.IO transport', () => {
  it('is websocket-only: against a network that blocks upgrades it never long-polls and reports the block', async () => {
    const requests: string[] = [];
    server = createServer((request, response) => {
      requests.push(request.url ?? '');
      response.writeHead(400).end();
    });
    // A proxy that refuses WebSocket upgrades, as some corporate networks do.
    server.on('upgrade', (_request, raw) => raw.destroy());
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;

    socket = io(`http://127.0.0.1:${port}`, { ...LIVE_SOCKET_OPTIONS, reconnection: false });
    const error = await new Promise<Error>((resolve) => socket!.on('connect_error', resolve));

    expect(LIVE_SOCKET_OPTIONS.transports).toEqual(['websocket']);
    expect(requests.filter((url) => url.includes('transport=polling'))).toEqual([]);
    expect(describeConnectError(error)).toBe(WEBSOCKETS_BLOCKED_MESSAGE);
    expect(WEBSOCKETS_BLOCKED_MESSAGE).toBe('Live updates need WebSockets, which this network appears to block.');
  });

  it('does not blame the network for a refusal by the server itself', () => {
    expect(describeConnectError(new Error('unauthorized'))).toBeNull();
  });
});
