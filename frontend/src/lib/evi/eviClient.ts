// Framework-free Hume EVI client: opens the chat WebSocket with a short-lived token, sends
// session_settings (patient context + custom_session_id), relays tool calls to the backend and
// answers them, and reconnects (resuming the chat group) when the connection drops unexpectedly.
// No React, no DOM: the socket factory and timers are injectable so tests drive it with `ws`.

export const DEFAULT_EVI_URL = 'wss://api.hume.ai/v0/evi/chat';

export type EviStatus = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'disconnected' | 'error';

/** The subset of the WebSocket API the client uses (browser WebSocket and `ws` both fit). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

const OPEN = 1;

export interface EviToken {
  accessToken: string;
  configId?: string | null;
  /** From /api/hume/token, so a deployment (or a test) can point the browser at another EVI. */
  eviUrl?: string | null;
}

export interface EviChat {
  chatId: string;
  chatGroupId: string;
}

/** One recording for one socket; stopped when that socket closes. */
export interface RecorderHandle {
  stop(): void;
}

/** Starts a fresh recording whose chunks (base64) go to `onChunk`; called once per opened socket. */
export type RecorderFactory = (onChunk: (base64: string) => void) => RecorderHandle | Promise<RecorderHandle>;

export interface EviToolCall {
  toolCallId: string;
  name: string;
  parameters: Record<string, unknown>;
  responseRequired: boolean;
}

export type ToolRelayResult = { ok: true; content: string } | { ok: false; error: string; content?: string };

export interface EmotionScore {
  name: string;
  score: number;
}

export interface EviEvents {
  status: { status: EviStatus; message?: string };
  chatMetadata: { chatId: string; chatGroupId: string };
  userMessage: { text: string; interim: boolean; topEmotions: EmotionScore[] };
  assistantMessage: { text: string };
  audioOutput: { data: string; id?: string };
  userInterruption: Record<string, never>;
  toolCall: EviToolCall;
  toolResult: { toolCallId: string; name: string; result: ToolRelayResult };
  serverError: { code: string; message: string; slug?: string };
  socketOpen: { socketNumber: number };
  socketClose: { socketNumber: number };
  /** Audio chunks that arrived after their socket closed (the tail of a finished stream). */
  audioDropped: { socketNumber: number; count: number };
  audioError: { message: string };
  chatBindError: { chatId: string; message: string };
}

type Listener<T> = (payload: T) => void;

export interface Scheduler {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface EviClientOptions {
  sessionId: string;
  patientContext: string;
  getToken: () => Promise<EviToken>;
  relayToolCall: (call: EviToolCall) => Promise<ToolRelayResult>;
  /** Reports each chat (one per socket) to the backend; that binding authorises its webhooks. */
  bindChat?: (chat: EviChat) => Promise<void>;
  url?: string;
  createSocket?: (url: string) => WebSocketLike;
  /** Without it no audio is sent (text-only tests). */
  startRecorder?: RecorderFactory;
  maxReconnectAttempts?: number;
  reconnectBaseDelayMs?: number;
  scheduler?: Scheduler;
}

const defaultScheduler: Scheduler = {
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export const LOST_CONNECTION_MESSAGE = 'The connection to the voice assistant was lost.';

export class EviClient {
  private socket: WebSocketLike | null = null;
  private status: EviStatus = 'idle';
  private chatGroupId: string | null = null;
  private reconnectAttempts = 0;
  private reconnectTimer: unknown = null;
  private userClosed = false;
  // One relay and one answer per tool_call_id, even when EVI resends the call after a reconnect
  // (the backend is idempotent too). `socket` is where the answer goes: the latest socket that sent it.
  private readonly toolCalls = new Map<string, { socket: WebSocketLike; answer: Record<string, unknown> | null; sent: boolean }>();
  private readonly listeners = new Map<keyof EviEvents, Set<Listener<never>>>();
  private socketCount = 0;
  private recorder: RecorderHandle | null = null;
  private readonly options: Required<Omit<EviClientOptions, 'createSocket' | 'startRecorder' | 'bindChat'>> & {
    createSocket: (url: string) => WebSocketLike;
    startRecorder?: RecorderFactory;
    bindChat?: (chat: EviChat) => Promise<void>;
  };

  constructor(options: EviClientOptions) {
    this.options = {
      url: DEFAULT_EVI_URL,
      maxReconnectAttempts: 3,
      reconnectBaseDelayMs: 500,
      scheduler: defaultScheduler,
      createSocket: (url) => new WebSocket(url) as unknown as WebSocketLike,
      ...options,
    };
  }

  get currentStatus(): EviStatus {
    return this.status;
  }

  on<K extends keyof EviEvents>(event: K, listener: Listener<EviEvents[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    const stored = listener as Listener<never>;
    set.add(stored);
    return () => set.delete(stored);
  }

  /** Opens the chat. Resolves once the attempt has settled (connected or failed). */
  async connect(): Promise<void> {
    this.userClosed = false;
    this.reconnectAttempts = 0;
    this.cancelReconnect();
    await this.open('connecting');
  }

  /** User-initiated retry after an error or a lost connection. */
  retry(): Promise<void> {
    return this.connect();
  }

  disconnect(): void {
    this.userClosed = true;
    this.cancelReconnect();
    this.stopRecorder();
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onclose = null;
      socket.close(1000, 'client closed');
    }
    this.setStatus('disconnected');
  }


  private async open(status: 'connecting' | 'reconnecting'): Promise<void> {
    // 'reconnecting' was already announced (with the attempt number) when the retry was scheduled.
    if (status === 'connecting') this.setStatus(status);
    let token: EviToken;
    try {
      token = await this.options.getToken();
    } catch (error) {
      if (this.userClosed) return;
      const reason = error instanceof Error ? error.message : String(error);
      if (status === 'reconnecting') return this.scheduleReconnect();
      this.setStatus('error', `Could not start the voice assistant: ${reason}`);
      return;
    }
    if (this.userClosed) return;

    const params = new URLSearchParams({ access_token: token.accessToken });
    if (token.configId) params.set('config_id', token.configId);
    // Also in session_settings; on the URL it is part of the chat from its very first event.
    params.set('custom_session_id', this.options.sessionId);
    // Resuming the chat group keeps the conversation's context across a reconnect.
    if (this.chatGroupId) params.set('resumed_chat_group_id', this.chatGroupId);

    await new Promise<void>((settle) => {
      let socket: WebSocketLike;
      try {
        socket = this.options.createSocket(`${token.eviUrl || this.options.url}?${params.toString()}`);
      } catch {
        this.handleUnexpectedClose();
        settle();
        return;
      }
      this.socket = socket;
      const socketNumber = ++this.socketCount;
      let opened = false;
      socket.onopen = () => {
        opened = true;
        this.sendSessionSettings();
        this.setStatus('connected');
        this.emit('socketOpen', { socketNumber });
        // A new recorder per socket: its first chunk carries the container header EVI needs to
        // decode the stream, so a resumed chat must never get the middle of an older recording.
        this.startRecorderFor(socket, socketNumber);
        settle();
      };
      socket.onmessage = (event) => this.handleMessage(event.data, socket);
      socket.onerror = () => {
        // A close event always follows; it decides between reconnecting and reporting.
      };
      socket.onclose = () => {
        if (this.socket !== socket) return;
        this.socket = null;
        if (opened) {
          this.stopRecorder();
          this.emit('socketClose', { socketNumber });
        }
        if (!this.userClosed) this.handleUnexpectedClose();
        if (!opened) settle();
      };
    });
  }

  private startRecorderFor(socket: WebSocketLike, socketNumber: number): void {
    const factory = this.options.startRecorder;
    if (!factory) return;
    let dropped = 0;
    const onChunk = (base64: string) => {
      // Bound to this socket: a late chunk of a stopped recording is reported, never sent elsewhere.
      if (this.socket === socket && this.sendOn(socket, { type: 'audio_input', data: base64 })) return;
      dropped += 1;
      this.emit('audioDropped', { socketNumber, count: dropped });
    };
    Promise.resolve()
      .then(() => factory(onChunk))
      .then(
        (handle) => {
          if (this.socket === socket && !this.userClosed) this.recorder = handle;
          else handle.stop(); // the socket closed while the recorder was starting
        },
        (error: unknown) => {
          this.emit('audioError', { message: error instanceof Error ? error.message : 'The microphone could not be started.' });
        },
      );
  }

  private stopRecorder(): void {
    const recorder = this.recorder;
    this.recorder = null;
    recorder?.stop();
  }

  private sendSessionSettings(): void {
    this.send({
      type: 'session_settings',
      custom_session_id: this.options.sessionId,
      // Context, not a spoken message: EVI keeps it for the whole chat without saying it aloud.
      context: { text: this.options.patientContext, type: 'persistent' },
    });
  }

  private handleUnexpectedClose(): void {
    if (this.reconnectAttempts >= this.options.maxReconnectAttempts) {
      this.setStatus('error', LOST_CONNECTION_MESSAGE);
      return;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.reconnectAttempts >= this.options.maxReconnectAttempts) {
      this.setStatus('error', LOST_CONNECTION_MESSAGE);
      return;
    }
    const delay = this.options.reconnectBaseDelayMs * 2 ** this.reconnectAttempts;
    this.reconnectAttempts += 1;
    this.setStatus('reconnecting', `Reconnecting (attempt ${this.reconnectAttempts})…`);
    this.reconnectTimer = this.options.scheduler.setTimeout(() => {
      this.reconnectTimer = null;
      void this.open('reconnecting');
    }, delay);
  }

  private cancelReconnect(): void {
    if (this.reconnectTimer !== null) {
      this.options.scheduler.clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
    }
  }

  private handleMessage(raw: unknown, socket: WebSocketLike): void {
    let message: Record<string, unknown>;
    try {
      const text = typeof raw === 'string' ? raw : String(raw);
      message = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return; // EVI only sends JSON; anything else is ignored rather than crashing the session.
    }
    // Only a server that talks counts as a working connection: one that accepts and then drops us
    // straight away must not reset the attempt budget, or we would retry forever.
    this.reconnectAttempts = 0;
    switch (message.type) {
      case 'chat_metadata': {
        this.chatGroupId = String(message.chat_group_id ?? '') || this.chatGroupId;
        const chat = { chatId: String(message.chat_id ?? ''), chatGroupId: this.chatGroupId ?? '' };
        this.emit('chatMetadata', chat);
        if (chat.chatId && this.options.bindChat) {
          this.options.bindChat(chat).catch((error: unknown) => {
            this.emit('chatBindError', {
              chatId: chat.chatId,
              message: error instanceof Error ? error.message : 'Could not link the voice chat to this session',
            });
          });
        }
        break;
      }
      case 'user_message': {
        const inner = (message.message ?? {}) as { content?: unknown };
        this.emit('userMessage', {
          text: typeof inner.content === 'string' ? inner.content : '',
          interim: message.interim === true,
          topEmotions: topEmotions(message.models),
        });
        break;
      }
      case 'assistant_message': {
        const inner = (message.message ?? {}) as { content?: unknown };
        this.emit('assistantMessage', { text: typeof inner.content === 'string' ? inner.content : '' });
        break;
      }
      case 'audio_output':
        if (typeof message.data === 'string') {
          this.emit('audioOutput', { data: message.data, id: typeof message.id === 'string' ? message.id : undefined });
        }
        break;
      case 'user_interruption':
        this.emit('userInterruption', {});
        break;
      case 'tool_call':
        void this.handleToolCall(message, socket);
        break;
      case 'error':
        this.emit('serverError', {
          code: String(message.code ?? ''),
          message: String(message.message ?? 'Voice assistant error'),
          slug: typeof message.slug === 'string' ? message.slug : undefined,
        });
        break;
      default:
        break;
    }
  }

  private async handleToolCall(message: Record<string, unknown>, socket: WebSocketLike): Promise<void> {
    const toolCallId = String(message.tool_call_id ?? '');
    const name = String(message.name ?? '');
    if (!toolCallId) return;
    const known = this.toolCalls.get(toolCallId);
    if (known) {
      // A resend: answer it here if our answer never reached EVI; otherwise once was enough.
      known.socket = socket;
      if (known.answer && !known.sent) known.sent = this.sendOn(socket, known.answer);
      return;
    }
    const entry = { socket, answer: null as Record<string, unknown> | null, sent: false };
    this.toolCalls.set(toolCallId, entry);

    let parameters: Record<string, unknown> | null = null;
    let result: ToolRelayResult;
    try {
      const raw = message.parameters;
      parameters = typeof raw === 'string' ? (raw ? JSON.parse(raw) : {}) : ((raw ?? {}) as Record<string, unknown>);
    } catch {
      parameters = null;
    }
    if (parameters === null) {
      result = { ok: false, error: 'Tool parameters were not valid JSON' };
    } else {
      const call: EviToolCall = { toolCallId, name, parameters, responseRequired: message.response_required !== false };
      this.emit('toolCall', call);
      try {
        result = await this.options.relayToolCall(call);
      } catch (error) {
        result = { ok: false, error: error instanceof Error ? error.message : 'Tool call failed' };
      }
    }
    entry.answer = toolAnswer(toolCallId, result);
    // Only on a socket that is still the live one; a closed chat's answer waits for EVI's resend.
    if (entry.socket === this.socket) entry.sent = this.sendOn(entry.socket, entry.answer);
    this.emit('toolResult', { toolCallId, name, result });
  }

  private send(payload: Record<string, unknown>): boolean {
    const socket = this.socket;
    return socket ? this.sendOn(socket, payload) : false;
  }

  private sendOn(socket: WebSocketLike, payload: Record<string, unknown>): boolean {
    if (socket.readyState !== OPEN) return false;
    socket.send(JSON.stringify(payload));
    return true;
  }

  private setStatus(status: EviStatus, message?: string): void {
    this.status = status;
    this.emit('status', { status, message });
  }

  private emit<K extends keyof EviEvents>(event: K, payload: EviEvents[K]): void {
    const set = this.listeners.get(event) as Set<Listener<EviEvents[K]>> | undefined;
    set?.forEach((listener) => listener(payload));
  }
}

function toolAnswer(toolCallId: string, result: ToolRelayResult): Record<string, unknown> {
  if (result.ok) return { type: 'tool_response', tool_call_id: toolCallId, content: result.content };
  return { type: 'tool_error', tool_call_id: toolCallId, error: result.error, content: result.content ?? result.error, level: 'warn' };
}

/** The strongest prosody emotions of a user message, highest first. */
export function topEmotions(models: unknown, count = 3): EmotionScore[] {
  const scores = (models as { prosody?: { scores?: Record<string, unknown> } } | undefined)?.prosody?.scores;
  if (!scores || typeof scores !== 'object') return [];
  return Object.entries(scores)
    .filter((entry): entry is [string, number] => typeof entry[1] === 'number')
    .map(([name, score]) => ({ name, score }))
    .sort((a, b) => b.score - a.score)
    .slice(0, count);
}
