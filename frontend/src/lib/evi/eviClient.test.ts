import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { AddressInfo } from 'node:net';
import {
  EviClient,
  LOST_CONNECTION_MESSAGE,
  topEmotions,
  type EviClientOptions,
  type EviStatus,
  type EviToolCall,
  type ToolRelayResult,
  type WebSocketLike,
} from './eviClient';
import { startRecorder, type MediaRecorderLike } from './audio';
import { clientMessageViolation, evi } from './humeWire.testkit';

/** A scripted MediaRecorder: the test decides when each chunk is "recorded". */
class FakeMediaRecorder implements MediaRecorderLike {
  static instances: FakeMediaRecorder[] = [];
  static onStart: (recorder: FakeMediaRecorder) => void = () => undefined;
  static isTypeSupported = (type: string) => type === 'audio/webm;codecs=opus';
  state: 'inactive' | 'recording' = 'inactive';
  ondataavailable: ((event: { data: Blob }) => void) | null = null;
  startedWhile: { socketIndex: number; readyState: number } | null = null;
  constructor(
    readonly stream: MediaStream,
    readonly options?: { mimeType?: string },
  ) {
    FakeMediaRecorder.instances.push(this);
  }
  start(): void {
    this.state = 'recording';
    FakeMediaRecorder.onStart(this);
  }
  stop(): void {
    this.state = 'inactive';
  }
  record(text: string): void {
    this.ondataavailable?.({ data: new Blob([text]) });
  }
}

const b64 = (text: string) => Buffer.from(text).toString('base64');

/** A stand-in for Hume's EVI endpoint: records each connection's URL and the JSON it receives. */
class FakeEviServer {
  readonly server: WebSocketServer;
  readonly connections: { url: URL; socket: WebSocket; received: Record<string, unknown>[] }[] = [];
  /** Every message the client sent that Hume's schemas refuse; must stay empty. */
  readonly violations: string[] = [];
  refuse = false;

  constructor() {
    this.server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    this.server.on('connection', (socket, request) => {
      if (this.refuse) {
        socket.close(1011, 'unavailable');
        return;
      }
      const entry = { url: new URL(request.url ?? '/', 'ws://fake'), socket, received: [] as Record<string, unknown>[] };
      this.connections.push(entry);
      socket.on('message', (data) => {
        const message = JSON.parse(String(data)) as Record<string, unknown>;
        const violation = clientMessageViolation(message);
        if (violation) this.violations.push(violation);
        entry.received.push(message);
      });
    });
  }

  async ready(): Promise<string> {
    if (!this.server.address()) await new Promise((resolve) => this.server.once('listening', resolve));
    const { port } = this.server.address() as AddressInfo;
    return `ws://127.0.0.1:${port}/v0/evi/chat`;
  }

  latest() {
    const entry = this.connections.at(-1);
    if (!entry) throw new Error('no connection yet');
    return entry;
  }

  sendToLatest(message: Record<string, unknown>): void {
    this.latest().socket.send(JSON.stringify(message));
  }

  close(): Promise<void> {
    for (const client of this.server.clients) client.terminate();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

let server: FakeEviServer;
let url: string;
let client: EviClient | null;

beforeEach(async () => {
  server = new FakeEviServer();
  url = await server.ready();
  client = null;
});

afterEach(async () => {
  client?.disconnect();
  await server.close();
  expect(server.violations).toEqual([]);
});

function makeClient(overrides: Partial<EviClientOptions> = {}) {
  const statuses: { status: EviStatus; message?: string }[] = [];
  const getToken = vi.fn(async () => ({ accessToken: `token-${getToken.mock.calls.length}`, configId: 'config-1' }));
  const relayToolCall = vi.fn(async (call: EviToolCall): Promise<ToolRelayResult> => ({
    ok: true,
    content: JSON.stringify({ saved: call.name }),
  }));
  client = new EviClient({
    sessionId: 'session-123',
    patientContext: 'Patient: Ada. Age 41.',
    url,
    getToken,
    relayToolCall,
    createSocket: (target) => new WebSocket(target) as unknown as WebSocketLike,
    reconnectBaseDelayMs: 10,
    ...overrides,
  });
  client.on('status', (event) => statuses.push(event));
  return { client, statuses, getToken, relayToolCall };
}

describe('EviClient connection', () => {
  it('opens the chat with the token and config, then sends session_settings with context and session id', async () => {
    const { client, statuses } = makeClient();
    await client.connect();

    expect(client.currentStatus).toBe('connected');
    expect(statuses.map((s) => s.status)).toEqual(['connecting', 'connected']);
    const connection = server.latest();
    expect(connection.url.pathname).toBe('/v0/evi/chat');
    expect(connection.url.searchParams.get('access_token')).toBe('token-1');
    expect(connection.url.searchParams.get('config_id')).toBe('config-1');
    expect(connection.url.searchParams.get('custom_session_id')).toBe('session-123');
    await vi.waitFor(() => expect(connection.received).toHaveLength(1));
    expect(connection.received[0]).toEqual({
      type: 'session_settings',
      custom_session_id: 'session-123',
      context: { text: 'Patient: Ada. Age 41.', type: 'persistent' },
    });
  });

  it("connects to the token's eviUrl when the backend gives one", async () => {
    const { client } = makeClient({
      url: 'ws://127.0.0.1:9/not-used',
      getToken: async () => ({ accessToken: 't', configId: null, eviUrl: url }),
    });
    await client.connect();
    expect(client.currentStatus).toBe('connected');
    expect(server.latest().url.searchParams.get('config_id')).toBeNull();
  });

  it('binds every chat (also the new chat after a reconnect) to the session through bindChat', async () => {
    const bindChat = vi.fn(async () => undefined);
    const { client } = makeClient({ bindChat });
    await client.connect();
    server.sendToLatest(evi.chatMetadata('chat-1', 'group-9'));
    await vi.waitFor(() => expect(bindChat).toHaveBeenCalledWith({ chatId: 'chat-1', chatGroupId: 'group-9' }));
    server.latest().socket.terminate();
    await vi.waitFor(() => expect(server.connections).toHaveLength(2));
    await vi.waitFor(() => expect(client.currentStatus).toBe('connected'));
    server.sendToLatest(evi.chatMetadata('chat-2', 'group-9'));
    await vi.waitFor(() => expect(bindChat).toHaveBeenLastCalledWith({ chatId: 'chat-2', chatGroupId: 'group-9' }));
    expect(bindChat).toHaveBeenCalledTimes(2);
  });

  it('reports a chat that cannot be bound', async () => {
    const { client } = makeClient({ bindChat: async () => Promise.reject(new Error('Chat already bound')) });
    const errors: unknown[] = [];
    client.on('chatBindError', (event) => errors.push(event));
    await client.connect();
    server.sendToLatest(evi.chatMetadata('chat-1', 'group-9'));
    await vi.waitFor(() => expect(errors).toEqual([{ chatId: 'chat-1', message: 'Chat already bound' }]));
  });

  it('reports a token failure as an error without opening a socket', async () => {
    const { client, statuses } = makeClient({
      getToken: async () => {
        throw new Error('Voice is not configured');
      },
    });
    await client.connect();

    expect(client.currentStatus).toBe('error');
    expect(statuses.at(-1)?.message).toContain('Voice is not configured');
    expect(server.connections).toHaveLength(0);
  });

});

describe('EviClient audio', () => {
  it("starts a new recorder after each socket opens, so every socket's first audio_input is its recorder's first chunk", async () => {
    FakeMediaRecorder.instances = [];
    const sockets: WebSocketLike[] = [];
    FakeMediaRecorder.onStart = (recorder) => {
      recorder.startedWhile = { socketIndex: sockets.length - 1, readyState: sockets.at(-1)?.readyState ?? -1 };
    };
    const dropped: unknown[] = [];
    const { client } = makeClient({
      createSocket: (target) => {
        const socket = new WebSocket(target) as unknown as WebSocketLike;
        sockets.push(socket);
        return socket;
      },
      startRecorder: (onChunk) => startRecorder({} as MediaStream, onChunk, FakeMediaRecorder),
    });
    client.on('audioDropped', (event) => dropped.push(event));
    await client.connect();

    await vi.waitFor(() => expect(FakeMediaRecorder.instances).toHaveLength(1));
    const first = FakeMediaRecorder.instances[0]!;
    expect(first.startedWhile).toEqual({ socketIndex: 0, readyState: 1 });
    expect(first.options).toEqual({ mimeType: 'audio/webm;codecs=opus' });
    first.record('HEADER-A');
    first.record('chunk-A2');
    const audioOf = (index: number) => server.connections[index]!.received.filter((m) => m.type === 'audio_input');
    await vi.waitFor(() => expect(audioOf(0)).toHaveLength(2));
    expect(audioOf(0)[0]).toEqual({ type: 'audio_input', data: b64('HEADER-A') });

    server.latest().socket.terminate();
    await vi.waitFor(() => expect(first.state).toBe('inactive'));
    // A real recorder flushes one last chunk after stop(); it belongs to the closed socket.
    first.record('tail-A');
    await vi.waitFor(() => expect(dropped).toEqual([{ socketNumber: 1, count: 1 }]));

    await vi.waitFor(() => expect(FakeMediaRecorder.instances).toHaveLength(2));
    const second = FakeMediaRecorder.instances[1]!;
    expect(second.startedWhile).toEqual({ socketIndex: 1, readyState: 1 });
    second.record('HEADER-B');
    await vi.waitFor(() => expect(audioOf(1)).toHaveLength(1));
    expect(audioOf(1)[0]).toEqual({ type: 'audio_input', data: b64('HEADER-B') });
    expect(audioOf(0)).toHaveLength(2);
  });

  it('stops a recorder that finished starting only after its socket had closed', async () => {
    let finishStart: () => void = () => undefined;
    const stop = vi.fn();
    const { client } = makeClient({
      startRecorder: () => new Promise((resolve) => (finishStart = () => resolve({ stop }))),
    });
    await client.connect();
    client.disconnect();
    finishStart();
    await vi.waitFor(() => expect(stop).toHaveBeenCalledTimes(1));
  });

  it('sends no audio before a socket opens and stops the recorder on disconnect', async () => {
    FakeMediaRecorder.instances = [];
    const { client } = makeClient({
      startRecorder: (onChunk) => startRecorder({} as MediaStream, onChunk, FakeMediaRecorder),
    });
    const connecting = client.connect();
    expect(FakeMediaRecorder.instances).toHaveLength(0);
    await connecting;
    await vi.waitFor(() => expect(FakeMediaRecorder.instances).toHaveLength(1));
    client.disconnect();
    expect(FakeMediaRecorder.instances[0]!.state).toBe('inactive');
  });
});

describe('EviClient messages', () => {
  it('emits user messages with their strongest emotions and assistant messages', async () => {
    const { client } = makeClient();
    const userMessages: unknown[] = [];
    const assistantMessages: unknown[] = [];
    client.on('userMessage', (m) => userMessages.push(m));
    client.on('assistantMessage', (m) => assistantMessages.push(m));
    await client.connect();

    server.sendToLatest(evi.userMessage('I feel anxious about work', { calmness: 0.1, anxiety: 0.8, sadness: 0.4, joy: 0.05 }));
    server.sendToLatest(evi.assistantMessage('Noted.'));

    await vi.waitFor(() => expect(assistantMessages).toHaveLength(1));
    expect(userMessages).toEqual([
      {
        text: 'I feel anxious about work',
        interim: false,
        topEmotions: [
          { name: 'Anxiety', score: 0.8 },
          { name: 'Sadness', score: 0.4 },
          { name: 'Calmness', score: 0.1 },
        ],
      },
    ]);
    expect(assistantMessages).toEqual([{ text: 'Noted.' }]);
  });

  it("emits Hume's audio_output and marks interim user messages", async () => {
    const { client } = makeClient();
    const audio: unknown[] = [];
    const users: { interim: boolean }[] = [];
    client.on('audioOutput', (m) => audio.push(m));
    client.on('userMessage', (m) => users.push(m));
    await client.connect();
    server.sendToLatest(evi.userMessage('I was', {}, true));
    server.sendToLatest(evi.audioOutput('audio-1', 'UklGRg=='));
    await vi.waitFor(() => expect(audio).toEqual([{ data: 'UklGRg==', id: 'audio-1' }]));
    expect(users.map((m) => m.interim)).toEqual([true]);
  });

  it('ignores frames that are not JSON and keeps working', async () => {
    const { client } = makeClient();
    const errors: unknown[] = [];
    client.on('serverError', (e) => errors.push(e));
    await client.connect();
    server.latest().socket.send('not json');
    server.sendToLatest(evi.error('E0101', 'Bad audio', 'bad_audio'));
    await vi.waitFor(() => expect(errors).toEqual([{ code: 'E0101', message: 'Bad audio', slug: 'bad_audio' }]));
    expect(client.currentStatus).toBe('connected');
  });
});

describe('EviClient tool relay', () => {
  it('relays a tool_call to the backend and answers with tool_response', async () => {
    const { client, relayToolCall } = makeClient();
    await client.connect();
    server.sendToLatest(
      evi.toolCall('call-1', 'save_session_note', '{"content":"Sleeps badly","category":"observation","importance":"medium"}'),
    );

    await vi.waitFor(() => expect(server.latest().received.some((m) => m.type === 'tool_response')).toBe(true));
    expect(relayToolCall).toHaveBeenCalledWith({
      toolCallId: 'call-1',
      name: 'save_session_note',
      parameters: { content: 'Sleeps badly', category: 'observation', importance: 'medium' },
      responseRequired: true,
    });
    expect(server.latest().received.find((m) => m.type === 'tool_response')).toEqual({
      type: 'tool_response',
      tool_call_id: 'call-1',
      content: JSON.stringify({ saved: 'save_session_note' }),
    });
  });

  it('answers a failed relay with tool_error', async () => {
    const { client } = makeClient({
      relayToolCall: async () => ({ ok: false, error: 'Invalid severity' }),
    });
    await client.connect();
    server.sendToLatest(evi.toolCall('call-2', 'flag_concern', '{}'));
    await vi.waitFor(() =>
      expect(server.latest().received.find((m) => m.type === 'tool_error')).toMatchObject({
        tool_call_id: 'call-2',
        error: 'Invalid severity',
      }),
    );
  });

  it('answers with tool_error when the relay throws, and when parameters are not JSON (without relaying)', async () => {
    const relayToolCall = vi.fn(async (): Promise<ToolRelayResult> => {
      throw new Error('Network down');
    });
    const { client } = makeClient({ relayToolCall });
    await client.connect();
    server.sendToLatest(evi.toolCall('call-3', 'mark_progress', '{}'));
    server.sendToLatest(evi.toolCall('call-4', 'mark_progress', '{oops'));

    await vi.waitFor(() => expect(server.latest().received.filter((m) => m.type === 'tool_error')).toHaveLength(2));
    const errors = server.latest().received.filter((m) => m.type === 'tool_error');
    expect(errors.find((m) => m.tool_call_id === 'call-3')?.error).toBe('Network down');
    expect(errors.find((m) => m.tool_call_id === 'call-4')?.error).toMatch(/not valid JSON/);
    expect(relayToolCall).toHaveBeenCalledTimes(1);
  });

  it('relays a repeated tool_call id only once', async () => {
    const { client, relayToolCall } = makeClient();
    await client.connect();
    const call = evi.toolCall('call-5', 'mark_progress', '{}');
    server.sendToLatest(call);
    server.sendToLatest(call);
    server.sendToLatest(evi.assistantMessage('marker'));
    const done = vi.fn();
    client.on('assistantMessage', done);
    server.sendToLatest(evi.assistantMessage('marker 2'));
    await vi.waitFor(() => expect(done).toHaveBeenCalled());
    await vi.waitFor(() => expect(server.latest().received.filter((m) => m.type === 'tool_response')).toHaveLength(1));
    expect(relayToolCall).toHaveBeenCalledTimes(1);
  });
});

describe('EviClient tool answers across a reconnect', () => {
  /** Runs reconnect timers only when the test says so. */
  function manualScheduler() {
    const pending: (() => void)[] = [];
    return {
      scheduler: { setTimeout: (callback: () => void) => pending.push(callback), clearTimeout: () => undefined },
      runAll: () => pending.splice(0).forEach((callback) => callback()),
    };
  }
  const answers = (index: number) =>
    server.connections[index]!.received.filter((m) => m.type === 'tool_response' || m.type === 'tool_error');

  it('answers once, on the new socket, when the relay finished while disconnected and EVI resends the call', async () => {
    let release: (result: ToolRelayResult) => void = () => undefined;
    const relayToolCall = vi.fn(() => new Promise<ToolRelayResult>((resolve) => (release = resolve)));
    const { scheduler, runAll } = manualScheduler();
    const { client } = makeClient({ relayToolCall, scheduler });
    await client.connect();
    const call = evi.toolCall('call-r1', 'mark_progress', '{}');
    server.sendToLatest(call);
    await vi.waitFor(() => expect(relayToolCall).toHaveBeenCalledTimes(1));

    server.latest().socket.terminate();
    await vi.waitFor(() => expect(client.currentStatus).toBe('reconnecting'));
    release({ ok: true, content: 'Progress marked' });
    await Promise.resolve();
    runAll();
    await vi.waitFor(() => expect(client.currentStatus).toBe('connected'));
    expect(server.connections).toHaveLength(2);

    server.sendToLatest(call);
    await vi.waitFor(() => expect(answers(1)).toHaveLength(1));
    expect(answers(1)[0]).toEqual({ type: 'tool_response', tool_call_id: 'call-r1', content: 'Progress marked' });
    server.sendToLatest(call);
    server.sendToLatest(evi.assistantMessage('marker'));
    const marker = vi.fn();
    client.on('assistantMessage', marker);
    server.sendToLatest(evi.assistantMessage('marker'));
    await vi.waitFor(() => expect(marker).toHaveBeenCalled());
    expect(answers(0)).toHaveLength(0);
    expect(answers(1)).toHaveLength(1);
    expect(relayToolCall).toHaveBeenCalledTimes(1);
  });

  it('does not answer again when EVI resends a call that was already answered before the reconnect', async () => {
    const { client, relayToolCall } = makeClient();
    await client.connect();
    const call = evi.toolCall('call-r2', 'mark_progress', '{}');
    server.sendToLatest(call);
    await vi.waitFor(() => expect(answers(0)).toHaveLength(1));
    server.latest().socket.terminate();
    await vi.waitFor(() => expect(server.connections).toHaveLength(2));
    await vi.waitFor(() => expect(client.currentStatus).toBe('connected'));
    const marker = vi.fn();
    client.on('assistantMessage', marker);
    server.sendToLatest(call);
    server.sendToLatest(evi.assistantMessage('marker'));
    await vi.waitFor(() => expect(marker).toHaveBeenCalled());
    await new Promise((resolve) => setImmediate(resolve));
    expect(answers(1)).toHaveLength(0);
    expect(relayToolCall).toHaveBeenCalledTimes(1);
  });

  it('answers a call still being relayed on the socket EVI resent it on', async () => {
    let release: (result: ToolRelayResult) => void = () => undefined;
    const relayToolCall = vi.fn(() => new Promise<ToolRelayResult>((resolve) => (release = resolve)));
    const { client } = makeClient({ relayToolCall });
    await client.connect();
    const call = evi.toolCall('call-r3', 'flag_concern', '{}');
    server.sendToLatest(call);
    await vi.waitFor(() => expect(relayToolCall).toHaveBeenCalledTimes(1));
    server.latest().socket.terminate();
    await vi.waitFor(() => expect(server.connections).toHaveLength(2));
    await vi.waitFor(() => expect(client.currentStatus).toBe('connected'));
    server.sendToLatest(call);
    const marker = vi.fn();
    client.on('assistantMessage', marker);
    server.sendToLatest(evi.assistantMessage('marker'));
    await vi.waitFor(() => expect(marker).toHaveBeenCalled());
    release({ ok: false, error: 'Invalid severity' });
    await vi.waitFor(() => expect(answers(1)).toHaveLength(1));
    expect(answers(1)[0]).toMatchObject({ type: 'tool_error', tool_call_id: 'call-r3', error: 'Invalid severity' });
    expect(answers(0)).toHaveLength(0);
    expect(relayToolCall).toHaveBeenCalledTimes(1);
  });
});

describe('EviClient reconnect', () => {
  it('reconnects after an unexpected close with a fresh token, resuming the chat group', async () => {
    const { client, statuses, getToken } = makeClient();
    await client.connect();
    server.sendToLatest(evi.chatMetadata('chat-1', 'group-9'));
    await vi.waitFor(() => expect(server.connections).toHaveLength(1));
    const metadata = vi.fn();
    client.on('chatMetadata', metadata);
    server.sendToLatest(evi.chatMetadata('chat-1', 'group-9'));
    await vi.waitFor(() => expect(metadata).toHaveBeenCalled());

    server.latest().socket.terminate();

    await vi.waitFor(() => expect(server.connections).toHaveLength(2));
    await vi.waitFor(() => expect(client.currentStatus).toBe('connected'));
    const second = server.latest();
    expect(second.url.searchParams.get('resumed_chat_group_id')).toBe('group-9');
    expect(second.url.searchParams.get('access_token')).toBe('token-2');
    expect(getToken).toHaveBeenCalledTimes(2);
    await vi.waitFor(() => expect(second.received[0]).toMatchObject({ type: 'session_settings', custom_session_id: 'session-123' }));
    expect(statuses.map((s) => s.status)).toContain('reconnecting');
  });

  it('gives up after the allowed attempts, reports the lost connection, and retry() connects again', async () => {
    const { client, statuses } = makeClient({ maxReconnectAttempts: 2 });
    await client.connect();
    server.refuse = true;
    server.latest().socket.terminate();

    await vi.waitFor(() => expect(client.currentStatus).toBe('error'));
    expect(statuses.at(-1)?.message).toBe(LOST_CONNECTION_MESSAGE);
    expect(statuses.filter((s) => s.status === 'reconnecting')).toHaveLength(2);

    server.refuse = false;
    await client.retry();
    expect(client.currentStatus).toBe('connected');
    expect(server.connections).toHaveLength(2);
  });

  it('does not reconnect after the user disconnects', async () => {
    const { client, getToken } = makeClient();
    await client.connect();
    client.disconnect();
    expect(client.currentStatus).toBe('disconnected');
    // The server sees the close; no second connection or token request may follow.
    await vi.waitFor(() => expect(server.server.clients.size).toBe(0));
    expect(server.connections).toHaveLength(1);
    expect(getToken).toHaveBeenCalledTimes(1);
  });
});

describe('topEmotions', () => {
  it('returns nothing without prosody scores', () => {
    expect(topEmotions(undefined)).toEqual([]);
    expect(topEmotions({ prosody: {} })).toEqual([]);
  });
});

describe('the Hume contract check itself', () => {
  it('refuses unknown keys and unknown client message types', () => {
    expect(clientMessageViolation({ type: 'audio_input', data: 'AAAA' })).toBeNull();
    expect(clientMessageViolation({ type: 'audio_input', data: 'AAAA', extra: 1 })).toMatch(/extra/);
    expect(clientMessageViolation({ type: 'tool_response', content: 'x' })).toMatch(/tool_call_id/);
    expect(clientMessageViolation({ type: 'made_up' })).toMatch(/no Hume schema/);
  });
});
