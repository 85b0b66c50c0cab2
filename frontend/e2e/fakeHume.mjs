// A stand-in for Hume on loopback, for the e2e run and the bench. It speaks Hume's shapes only:
// every message it sends is built with the npm `hume` package's serializers, and every message a
// client sends is parsed with Hume's publish-event schemas, unknown keys refused. What Hume would
// refuse is recorded in `violations` (the test fails on any) and answered with an EVI `error`.
//
// Serves: POST /oauth2-cc/token (client credentials), the EVI chat WebSocket /v0/evi/chat, the
// control plane POST /v0/evi/chat/{chatId}/send; sends signed webhooks (chat_started, chat_ended,
// tool_call) to `webhookUrl`. Time is virtual: `now()` is the wall clock plus `advance()`d offset,
// so the page's clock, the backend's (libfaketime) and this one move together.
import { spawnSync } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { serialization } from 'hume';
import { WebSocketServer } from 'ws';

const evi = serialization.empathicVoice;
const STRICT = { unrecognizedObjectKeys: 'fail', allowUnrecognizedEnumValues: false, allowUnrecognizedUnionMembers: false };
export const MAX_DURATION_MS = 30 * 60 * 1000; // Hume's default and maximum max_duration timeout
export const TOKEN_LIFETIME_S = 30 * 60;
export const SIGNATURE_HEADER = 'X-Hume-AI-Webhook-Signature';
export const TIMESTAMP_HEADER = 'X-Hume-AI-Webhook-Timestamp';

// What a client may publish on the chat socket, by `type` (the union is checked as well).
const PUBLISH = {
  audio_input: evi.AudioInput,
  session_settings: evi.SessionSettings,
  user_input: evi.UserInput,
  assistant_input: evi.AssistantInput,
  tool_response: evi.ToolResponseMessage,
  tool_error: evi.ToolErrorMessage,
  pause_assistant_message: evi.PauseAssistantMessage,
  resume_assistant_message: evi.ResumeAssistantMessage,
};
const CONTROL_PLANE = {
  session_settings: evi.SessionSettings,
  user_input: evi.UserInput,
  assistant_input: evi.AssistantInput,
  tool_response: evi.ToolResponseMessage,
  tool_error: evi.ToolErrorMessage,
  pause_assistant_message: evi.PauseAssistantMessage,
  resume_assistant_message: evi.ResumeAssistantMessage,
};
// The connect query parameters of Hume's SDKs (npm hume 0.16.0 ChatClient.connect, Python
// hume 0.14.1 chat.connect); session_settings travels flattened as session_settings[key].
const SDK_QUERY = new Set([
  'access_token', 'allow_connection', 'config_id', 'config_version', 'event_limit',
  'resumed_chat_group_id', 'verbose_transcription', 'voice_id', 'api_key',
]);
// Not an SDK parameter; the issue's contract asks the browser to send it, so it is read and noted.
const CONTRACT_QUERY = new Set(['custom_session_id']);

// Hume's 48 prosody dimensions, raw names as on the wire (EmotionScores).
const EMOTIONS = [
  'Admiration', 'Adoration', 'Aesthetic Appreciation', 'Amusement', 'Anger', 'Anxiety', 'Awe',
  'Awkwardness', 'Boredom', 'Calmness', 'Concentration', 'Confusion', 'Contemplation', 'Contempt',
  'Contentment', 'Craving', 'Desire', 'Determination', 'Disappointment', 'Disgust', 'Distress',
  'Doubt', 'Ecstasy', 'Embarrassment', 'Empathic Pain', 'Entrancement', 'Envy', 'Excitement',
  'Fear', 'Guilt', 'Horror', 'Interest', 'Joy', 'Love', 'Nostalgia', 'Pain', 'Pride',
  'Realization', 'Relief', 'Romance', 'Sadness', 'Satisfaction', 'Shame', 'Surprise (negative)',
  'Surprise (positive)', 'Sympathy', 'Tiredness', 'Triumph',
];

function prosody(top = {}) {
  const raw = Object.fromEntries(EMOTIONS.map((name) => [name, top[name] ?? 0.01]));
  return { prosody: { scores: evi.EmotionScores.parseOrThrow(raw, STRICT) } };
}

/** 40 ms of 16 kHz mono silence as WAV: real decodable audio, like EVI's audio_output chunks. */
function silentWav() {
  const samples = 640;
  const buffer = Buffer.alloc(44 + samples * 2);
  buffer.write('RIFF', 0);
  buffer.writeUInt32LE(36 + samples * 2, 4);
  buffer.write('WAVEfmt ', 8);
  buffer.writeUInt32LE(16, 16);
  buffer.writeUInt16LE(1, 20);
  buffer.writeUInt16LE(1, 22);
  buffer.writeUInt32LE(16000, 24);
  buffer.writeUInt32LE(32000, 28);
  buffer.writeUInt16LE(2, 32);
  buffer.writeUInt16LE(16, 34);
  buffer.write('data', 36);
  buffer.writeUInt32LE(samples * 2, 40);
  return buffer.toString('base64');
}
const SILENCE = silentWav();

/** The first bytes of a recorder's stream start: WebM/Matroska EBML magic, or an MP4 `ftyp` box. */
export function isStreamStart(base64) {
  const bytes = Buffer.from(base64, 'base64');
  const ebml = bytes.length >= 4 && bytes.readUInt32BE(0) === 0x1a45dfa3;
  const mp4 = bytes.length >= 8 && bytes.toString('latin1', 4, 8) === 'ftyp';
  return ebml || mp4;
}

export function signWebhook(key, rawBody, timestamp) {
  return createHmac('sha256', key).update(`${rawBody}.${timestamp}`).digest('hex');
}

const REPO = path.resolve(import.meta.dirname, '..', '..');
const PYTHON = path.join(process.env.DIMINI_VENV ?? path.join(REPO, '.venv'), 'bin', 'python');

// Validates webhook bodies with hume==0.14.1's own models (the backend's contract), not ours.
const VALIDATE_PY = `
import json, sys
from hume.empathic_voice import WebhookEventChatEnded, WebhookEventChatStarted, WebhookEventToolCall
models = {"chat_started": WebhookEventChatStarted, "chat_ended": WebhookEventChatEnded, "tool_call": WebhookEventToolCall}
for item in json.load(sys.stdin):
    model = models[item["event"]].model_validate(item["body"])
    dumped = model.model_dump(mode="json", exclude_none=True)
    extra = sorted(set(item["body"]) - set(type(model).model_fields))
    assert not extra, (item["event"], extra)
    assert dumped["chat_id"] == item["body"]["chat_id"]
print("ok")
`;

/** Runs VALIDATE_PY in the backend venv; returns spawnSync's result (status 0 = all accepted). */
export function validateWithPythonSdk(webhooks) {
  return spawnSync(PYTHON, ['-c', VALIDATE_PY], {
    input: JSON.stringify(webhooks.map(({ event, body }) => ({ event, body }))),
    encoding: 'utf8',
  });
}


function readBody(request) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function reply(response, status, body) {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

/**
 * Starts the fake. Options: apiKey, secretKey, webhookSigningKey, configId, webhookUrl (settable
 * later), log. Returns the handle described at the end of this function.
 */
export async function startFakeHume({
  apiKey = `fake-api-${randomBytes(6).toString('hex')}`,
  secretKey = `fake-secret-${randomBytes(12).toString('hex')}`,
  webhookSigningKey = randomBytes(24).toString('hex'),
  configId = randomUUID(),
  webhookUrl = null,
  log = () => {},
} = {}) {
  let offsetMs = 0;
  const now = () => Date.now() + offsetMs;
  const tokens = new Map(); // access token -> virtual expiry (ms)
  const groups = new Set();
  const sockets = []; // one record per accepted chat socket, oldest first
  const violations = []; // what Hume would refuse, with where it came from
  const answers = []; // every tool_response/tool_error: { toolCallId, via, type, chatId, at, hr }
  const toolCalls = new Map(); // toolCallId -> { message (parsed), sentHr: [per send] }
  const webhooks = []; // { event, body, status, response }
  const controlPlane = []; // raw control-plane posts
  const pending = new Set(); // in-flight webhook deliveries
  const waiters = new Set();
  const state = { webhookUrl };

  const violation = (where, detail) => {
    violations.push({ where, detail, at: now() });
    log(`VIOLATION ${where}: ${detail}`);
  };
  const changed = () => waiters.forEach((check) => check());

  function parseStrict(schemas, raw, where) {
    let json;
    try {
      json = JSON.parse(raw);
    } catch {
      violation(where, 'not JSON');
      return null;
    }
    const schema = schemas[json?.type];
    if (!schema) {
      violation(where, `unknown message type ${JSON.stringify(json?.type)}`);
      return null;
    }
    const parsed = schema.parse(json, STRICT);
    if (!parsed.ok) {
      violation(where, `${json.type}: ${parsed.errors.map((e) => `${e.path.join('.')}: ${e.message}`).join('; ')}`);
      return null;
    }
    return { raw: json, parsed: parsed.value };
  }

  // ---- webhooks ---------------------------------------------------------------------------
  function sendWebhook(event, schema, value) {
    const body = JSON.stringify(schema.jsonOrThrow(value, { ...STRICT, omitUndefined: true }));
    const record = { event, body: JSON.parse(body), status: null, response: null };
    webhooks.push(record);
    if (!state.webhookUrl) {
      record.status = 'no webhook url';
      return Promise.resolve(record);
    }
    const timestamp = String(Math.floor(now() / 1000));
    const delivery = fetch(state.webhookUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [SIGNATURE_HEADER]: signWebhook(webhookSigningKey, body, timestamp),
        [TIMESTAMP_HEADER]: timestamp,
      },
      body,
    })
      .then(async (response) => {
        record.status = response.status;
        record.response = await response.text();
      })
      .catch((error) => {
        record.status = `failed: ${error.message}`;
      })
      .then(() => {
        pending.delete(delivery);
        changed();
        return record;
      });
    pending.add(delivery);
    return delivery;
  }

  const base = (chat) => ({ chatId: chat.chatId, chatGroupId: chat.chatGroupId, configId: chat.configId ?? undefined });

  // ---- the chat socket ----------------------------------------------------------------------
  function send(chat, schema, value) {
    if (chat.ws.readyState !== chat.ws.OPEN) return false;
    const withSession = chat.customSessionId ? { customSessionId: chat.customSessionId, ...value } : value;
    const raw = schema.jsonOrThrow(withSession, { ...STRICT, omitUndefined: true });
    // Belt and braces: whatever we send must also be one of Hume's subscribe events.
    const check = evi.SubscribeEvent.parse(raw, STRICT);
    if (!check.ok) throw new Error(`fake Hume built a message Hume would not send: ${JSON.stringify(check.errors)}`);
    chat.ws.send(JSON.stringify(raw));
    chat.sent.push(raw);
    return true;
  }

  function refuseUpgrade(socket, status, text) {
    socket.write(`HTTP/1.1 ${status} ${text}\r\ncontent-type: text/plain\r\ncontent-length: ${text.length}\r\nconnection: close\r\n\r\n${text}`);
    socket.destroy();
  }

  function endChat(chat, endReason) {
    if (chat.endedAt !== null) return null;
    chat.endedAt = now();
    chat.endReason = endReason;
    return sendWebhook('chat_ended', evi.WebhookEventChatEnded, {
      ...base(chat),
      eventName: 'chat_ended',
      customSessionId: chat.customSessionId ?? undefined,
      durationSeconds: Math.round((chat.endedAt - chat.startedAt) / 1000),
      endReason,
      endTime: chat.endedAt,
    });
  }

  const wss = new WebSocketServer({ noServer: true });

  async function onChat(ws, query) {
    const resumed = query.get('resumed_chat_group_id');
    const chat = {
      index: sockets.length,
      ws,
      chatId: randomUUID(),
      chatGroupId: resumed ?? randomUUID(),
      resumed: Boolean(resumed),
      configId: query.get('config_id'),
      customSessionId: query.get('custom_session_id') ?? query.get('session_settings[custom_session_id]') ?? null,
      query: Object.fromEntries(query),
      startedAt: now(),
      endedAt: null,
      endReason: null,
      closeCode: null,
      closedBy: null,
      received: [], // parsed client messages, in order
      sent: [],
      audioChunks: 0,
      firstAudioIsStreamStart: null,
      settingsBeforeAudio: null,
      dropped: false,
      lostAfterDrop: 0,
    };
    groups.add(chat.chatGroupId);
    sockets.push(chat);
    log(`chat ${chat.index}: ${chat.chatId} group ${chat.chatGroupId}${chat.resumed ? ' (resumed)' : ''}`);

    ws.on('message', (data, isBinary) => {
      // After a simulated network drop nothing the client still writes would reach Hume.
      if (chat.dropped) {
        chat.lostAfterDrop += 1;
        return;
      }
      if (isBinary) return violation(`chat ${chat.index}`, 'binary frame (EVI takes JSON text frames)');
      const message = parseStrict(PUBLISH, data.toString('utf8'), `chat ${chat.index}`);
      if (!message) {
        send(chat, evi.WebSocketError, { type: 'error', code: 'E0101', slug: 'invalid_message', message: 'Invalid message' });
        return;
      }
      const { raw } = message;
      chat.received.push(raw);
      if (raw.type === 'audio_input') {
        if (chat.audioChunks === 0) {
          chat.firstAudioIsStreamStart = isStreamStart(raw.data);
          chat.settingsBeforeAudio = chat.received.some((m) => m.type === 'session_settings');
        }
        chat.audioChunks += 1;
      } else if (raw.type === 'tool_response' || raw.type === 'tool_error') {
        recordAnswer(raw, 'socket', chat.chatId);
      }
      changed();
    });
    ws.on('close', (code) => {
      chat.closeCode = code;
      chat.closedBy ??= 'client';
      // A client that hangs up ends the chat (USER_ENDED); our own closes already sent chat_ended.
      endChat(chat, 'USER_ENDED');
      changed();
    });
    ws.on('error', () => {});

    // Worst-case order on purpose: chat_started reaches the backend before the browser can learn
    // the chat id from chat_metadata and bind it, so the backend must route by group or record.
    await sendWebhook('chat_started', evi.WebhookEventChatStarted, {
      ...base(chat),
      eventName: 'chat_started',
      chatStartType: chat.resumed ? 'resumed_chat_group' : 'new_chat_group',
      customSessionId: chat.customSessionId ?? undefined,
      startTime: chat.startedAt,
    });
    send(chat, evi.ChatMetadata, { type: 'chat_metadata', chatId: chat.chatId, chatGroupId: chat.chatGroupId, requestId: randomUUID() });
    chat.metadataSent = true;
    changed();
  }

  function recordAnswer(raw, via, chatId) {
    const call = toolCalls.get(raw.tool_call_id);
    if (!call) violation(via, `${raw.type} for unknown tool_call_id ${raw.tool_call_id}`);
    answers.push({ toolCallId: raw.tool_call_id, via, type: raw.type, chatId, at: now(), hr: performance.now(), message: raw });
  }

  // ---- HTTP: token and control plane -------------------------------------------------------
  const server = http.createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://fake-hume');
    const body = await readBody(request);
    if (request.method === 'POST' && url.pathname === '/oauth2-cc/token') {
      const expected = `Basic ${Buffer.from(`${apiKey}:${secretKey}`).toString('base64')}`;
      if (request.headers.authorization !== expected) return reply(response, 401, { error: 'invalid_client' });
      if (!String(request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
        violation('token', `content-type ${request.headers['content-type']}`);
        return reply(response, 400, { error: 'invalid_request' });
      }
      if (new URLSearchParams(body).get('grant_type') !== 'client_credentials') {
        return reply(response, 400, { error: 'unsupported_grant_type' });
      }
      const token = randomBytes(24).toString('base64url');
      tokens.set(token, now() + TOKEN_LIFETIME_S * 1000);
      return reply(response, 200, { access_token: token, token_type: 'Bearer', expires_in: TOKEN_LIFETIME_S });
    }
    const controlPath = url.pathname.match(/^\/v0\/evi\/chat\/([^/]+)\/send$/);
    if (request.method === 'POST' && controlPath) {
      const chatId = decodeURIComponent(controlPath[1]);
      controlPlane.push({ chatId, body, apiKey: request.headers['x-hume-api-key'] ?? null });
      if (request.headers['x-hume-api-key'] !== apiKey) return reply(response, 401, { message: 'Unauthorized' });
      if (!sockets.some((chat) => chat.chatId === chatId && chat.endedAt === null)) {
        return reply(response, 404, { message: 'Chat not active' });
      }
      const message = parseStrict(CONTROL_PLANE, body, `control plane ${chatId}`);
      if (!message) return reply(response, 422, { message: 'Invalid message' });
      if (message.raw.type === 'tool_response' || message.raw.type === 'tool_error') recordAnswer(message.raw, 'control-plane', chatId);
      changed();
      response.writeHead(200);
      return response.end();
    }
    reply(response, 404, { message: 'not served by the fake' });
  });

  server.on('upgrade', (request, socket, head) => {
    const url = new URL(request.url ?? '/', 'http://fake-hume');
    if (url.pathname !== '/v0/evi/chat') return refuseUpgrade(socket, 404, 'Not Found');
    for (const key of url.searchParams.keys()) {
      if (SDK_QUERY.has(key) || CONTRACT_QUERY.has(key) || /^session_settings\[[a-z_]+\]$/.test(key)) continue;
      violation('connect', `unknown query parameter ${key}`);
    }
    const token = url.searchParams.get('access_token');
    const expiry = token ? tokens.get(token) : undefined;
    if (expiry === undefined || expiry <= now()) {
      violation('connect', token ? (expiry === undefined ? 'unknown access token' : 'expired access token') : 'no access_token');
      return refuseUpgrade(socket, 401, 'Unauthorized');
    }
    const resumed = url.searchParams.get('resumed_chat_group_id');
    if (resumed && !groups.has(resumed)) {
      violation('connect', `resumed_chat_group_id ${resumed} is not a chat group`);
      return refuseUpgrade(socket, 400, 'Bad Request');
    }
    wss.handleUpgrade(request, socket, head, (ws) => void onChat(ws, url.searchParams));
  });

  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${server.address().port}`;
  log(`fake Hume: ${baseUrl}`);

  async function settled() {
    while (pending.size) await Promise.all([...pending]);
  }

  const current = () => {
    const open = sockets.filter((chat) => chat.endedAt === null && chat.metadataSent);
    if (!open.length) throw new Error('no open EVI chat');
    return open[open.length - 1];
  };

  /** Resolves when check() holds, re-checked on every event of the fake; rejects after timeoutMs. */
  function until(description, check, timeoutMs = 30_000) {
    return new Promise((resolve, reject) => {
      const probe = () => {
        let value;
        try {
          value = check();
        } catch {
          value = undefined;
        }
        if (value) {
          waiters.delete(probe);
          clearTimeout(timer);
          resolve(value);
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(probe);
        reject(new Error(`fake Hume: timed out waiting for ${description}`));
      }, timeoutMs);
      waiters.add(probe);
      probe();
    });
  }

  return {
    baseUrl,
    apiKey,
    secretKey,
    webhookSigningKey,
    configId,
    sockets,
    violations,
    answers,
    toolCalls,
    webhooks,
    controlPlane,
    now,
    until,
    set webhookUrl(value) {
      state.webhookUrl = value;
    },
    get offsetMs() {
      return offsetMs;
    },
    current,

    /** Moves virtual time; a chat open for MAX_DURATION_MS is closed as Hume does. */
    async advance(ms) {
      offsetMs += ms;
      const due = sockets.filter((chat) => chat.endedAt === null && now() - chat.startedAt >= MAX_DURATION_MS);
      await Promise.all(
        due.map((chat) => {
          chat.closedBy = 'server: max duration';
          const ended = endChat(chat, 'MAX_DURATION_TIMEOUT');
          chat.ws.close(1000, 'Max duration reached');
          return ended;
        }),
      );
      changed();
    },

    /** A patient's final utterance and EVI's reply, as EVI sends them (text, prosody, audio). */
    say(userText, assistantText, { chat = current(), top = { Anxiety: 0.6, Calmness: 0.2 } } = {}) {
      const begin = now() - chat.startedAt;
      send(chat, evi.UserMessage, {
        type: 'user_message',
        fromText: false,
        interim: false,
        message: { role: 'user', content: userText },
        models: prosody(top),
        time: { begin, end: begin + 1500 },
      });
      if (assistantText) {
        const id = randomUUID();
        send(chat, evi.AssistantMessage, {
          type: 'assistant_message',
          id,
          fromText: false,
          isQuickResponse: false,
          message: { role: 'assistant', content: assistantText },
          models: prosody({ Calmness: 0.7 }),
        });
        send(chat, evi.AudioOutput, { type: 'audio_output', id, index: 0, data: SILENCE });
        send(chat, evi.AssistantEnd, { type: 'assistant_end' });
      }
      changed();
    },

    /**
     * Sends a tool_call on the chat socket (and Hume's tool_call webhook). `drop: true` then ends
     * the TCP connection without a close frame (a network drop: the browser sees 1006).
     */
    toolCall(name, parameters, { chat = current(), toolCallId = `toolu_${randomBytes(8).toString('hex')}`, drop = false } = {}) {
      const message = {
        type: 'tool_call',
        name,
        parameters: JSON.stringify(parameters),
        responseRequired: true,
        toolCallId,
        toolType: 'function',
      };
      const call = toolCalls.get(toolCallId) ?? { message, name, sentHr: [], chats: [] };
      toolCalls.set(toolCallId, call);
      call.sentHr.push(performance.now());
      call.chats.push(chat.chatId);
      const raw = evi.ToolCallMessage.jsonOrThrow({ customSessionId: chat.customSessionId ?? undefined, ...message }, { ...STRICT, omitUndefined: true });
      // The link is gone from the moment the call is out: nothing the client writes back counts.
      if (drop) chat.dropped = true;
      chat.ws.send(JSON.stringify(raw), () => {
        if (!drop) return;
        chat.closedBy = 'server: network drop';
        endChat(chat, 'ERROR');
        chat.ws._socket?.end(); // FIN without a WebSocket close frame
      });
      chat.sent.push(raw);
      void sendWebhook('tool_call', evi.WebhookEventToolCall, {
        ...base(chat),
        eventName: 'tool_call',
        customSessionId: chat.customSessionId ?? undefined,
        timestamp: now(),
        toolCallMessage: { customSessionId: chat.customSessionId ?? undefined, ...message },
      });
      changed();
      return toolCallId;
    },

    /** EVI resending a tool call it has no answer for (after a reconnect). */
    resendToolCall(toolCallId, options = {}) {
      const call = toolCalls.get(toolCallId);
      if (!call) throw new Error(`no tool call ${toolCallId}`);
      const parameters = JSON.parse(call.message.parameters);
      return this.toolCall(call.name, parameters, { ...options, toolCallId });
    },

    answersFor(toolCallId) {
      return answers.filter((answer) => answer.toolCallId === toolCallId);
    },

    /** Resolves when every webhook sent so far has been answered. */
    settled,

    async stop() {
      for (const chat of sockets) if (chat.ws.readyState === chat.ws.OPEN) chat.ws.terminate();
      await settled();
      wss.close();
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
