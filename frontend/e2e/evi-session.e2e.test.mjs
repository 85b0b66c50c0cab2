// A 60-minute live session in Debian's Chromium against the real backend, Postgres and the
// standalone Next server, with Hume played by fakeHume.mjs (Hume's own serializers and schemas).
// Three clocks move together, a minute at a time: the page's (Playwright's page.clock), the
// backend's and Postgres' (libfaketime, see stack.mjs) and the fake Hume's. So the JWT really
// expires unless it is renewed, Hume ends the first chat at its 30-minute max duration, and every
// webhook is signed with a timestamp the backend accepts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { cspViolations, launchChromium } from './browser.mjs';
import { startFakeHume, validateWithPythonSdk } from './fakeHume.mjs';
import { startStack, waitFor } from './stack.mjs';

const SHOTS = path.resolve(import.meta.dirname, '..', 'test-results', 'evi-session');
const MINUTE = 60_000;
const SUMMARY_TIMEOUT_MS = Number(process.env.E2E_SUMMARY_TIMEOUT_MS ?? 60_000);
const unique = Date.now().toString(36);
const therapist = { name: 'Dr Evi Long', email: `evi-${unique}@example.com`, password: 'an hour of talking 60' };

// What the patient says, by minute; the first and second halves name different things, so the
// summary can be checked for both.
const FIRST_HALF = [
  [2, 'I have been sleeping badly because deadlines at work keep me awake.', 'That sounds exhausting. Tell me more about the deadlines.'],
  [12, 'My manager sends emails at midnight and I feel anxious about answering.', 'What happens in your body when you see them?'],
  [24, 'My chest gets tight and I cannot stop checking my phone.', 'Let us notice that tightness together.'],
];
const SECOND_HALF = [
  [36, 'My sister offered to look after the kids on Sundays so I can rest.', 'How does accepting her help feel?'],
  [48, 'I tried the breathing exercise with my sister and slept six hours.', 'That is real progress.'],
  [56, 'I feel hopeful about talking to my manager about boundaries.', 'What would you like to say to them?'],
];
const NOTE = 'First half: patient links poor sleep to work deadlines and midnight emails';
const PROGRESS = 'Second half: patient practised breathing with her sister and slept six hours';
const CONCERN = 'Second half: tight chest when work emails arrive at night';

let hume;
let stack;
let browser;
let context;
let page;
let shot = 0;
let minute = 0; // virtual minutes since voice started
const state = {};
const responses = []; // every response the page received: { method, url, status, minute }
const navigations = []; // main-frame navigations after the session page opened
const transcriptPosts = []; // { text, status }
const pageSockets = []; // URLs of every WebSocket the page opened
const inflight = new Set();

async function screenshot(name) {
  shot += 1;
  await page.screenshot({ path: path.join(SHOTS, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
}

function needs(t, ...keys) {
  const missing = keys.filter((key) => !state[key]);
  if (missing.length) t.skip(`needs ${missing.join(', ')} from an earlier step`);
  return missing.length === 0;
}

/** The test's own API calls share the page's cookie jar, so they ride on the page's renewals. */
async function api(method, url, data) {
  const csrf = (await context.cookies(stack.baseUrl)).find((cookie) => cookie.name === 'dimini_csrf')?.value ?? '';
  const response = await context.request.fetch(`${stack.baseUrl}${url}`, { method, data, headers: method === 'GET' ? {} : { 'X-CSRF-Token': csrf } });
  const body = await response.json().catch(() => null);
  return { status: response.status(), body };
}

/** Waits until the page has no HTTP request in flight (Socket.IO's transport excluded). */
function quiet() {
  return waitFor('the page to finish its requests', () => inflight.size === 0, { timeoutMs: 30_000, intervalMs: 25 });
}

/** One minute later on all three clocks; servers first, so the page's timers meet a moved backend. */
async function step() {
  stack.clock.advance(MINUTE);
  await hume.advance(MINUTE); // closes a chat that reached Hume's max duration
  minute += 1;
  await page.clock.fastForward(MINUTE);
  await quiet();
}

async function advanceTo(target) {
  while (minute < target) await step();
}

/** The page binds every chat it is told about (chat_metadata -> POST /api/sessions/{id}/chats). */
function boundByPage(chat) {
  return waitFor(
    `the page to bind chat ${chat.index} (POST /api/sessions/{id}/chats after its chat_metadata)`,
    async () => (await chatsOfSession()).some((bound) => bound.chatId === chat.chatId),
    { timeoutMs: 15_000 },
  );
}

const conversation = () => page.getByRole('list', { name: 'Conversation' });

/** The patient speaks (EVI's user_message) and the page shows and posts the line. */
async function patientSays([at, userText, assistantText]) {
  await advanceTo(at);
  hume.say(userText, assistantText);
  await conversation().getByText(userText).waitFor();
  await waitFor(`the transcript post of "${userText}"`, () => transcriptPosts.some((post) => post.text === userText && post.status === 202));
}

/** The session's chats as the backend has them (GET /api/sessions/{id}/chats). */
async function chatsOfSession() {
  const { status, body } = await api('GET', `/api/sessions/${state.sessionId}/chats`);
  assert.equal(status, 200, `GET /chats answered ${status}`);
  return body;
}

describe('A 60-minute EVI session in Chromium (controlled clock, fake Hume)', () => {
  before(async () => {
    rmSync(SHOTS, { recursive: true, force: true });
    mkdirSync(SHOTS, { recursive: true });
    hume = await startFakeHume({ log: (line) => process.env.E2E_VERBOSE && console.log(`  [hume] ${line}`) });
    stack = await startStack({
      fakeTime: true,
      log: (line) => console.log(`  [stack] ${line}`),
      env: {
        HUME_API_KEY: hume.apiKey,
        HUME_SECRET_KEY: hume.secretKey,
        HUME_CONFIG_ID: hume.configId,
        HUME_WEBHOOK_SIGNING_KEY: hume.webhookSigningKey,
        HUME_BASE_URL: hume.baseUrl,
      },
      // The page reaches the fake EVI socket directly, as it reaches api.hume.ai in production.
      frontendEnv: { CSP_CONNECT_SRC: `${hume.baseUrl} ${hume.baseUrl.replace(/^http/, 'ws')}` },
    });
    hume.webhookUrl = `${stack.baseUrl}/api/webhooks/hume`; // through the ingress, as Hume reaches us
    browser = await launchChromium();
    context = await browser.newContext({ baseURL: stack.baseUrl, viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(15_000);
    context.on('request', (request) => {
      if (!request.url().includes('/socket.io/')) inflight.add(request);
      if (request.method() === 'POST' && /\/api\/sessions\/[^/]+\/transcript$/.test(request.url())) {
        const post = { text: request.postDataJSON()?.text, status: null };
        transcriptPosts.push(post);
        request.response().then((response) => (post.status = response?.status() ?? 'failed'), () => (post.status = 'failed'));
      }
    });
    context.on('requestfinished', (request) => inflight.delete(request));
    context.on('requestfailed', (request) => inflight.delete(request));
    context.on('response', (response) => {
      responses.push({ method: response.request().method(), url: new URL(response.url()).pathname, status: response.status(), minute });
    });
    // The page's clock starts now and runs on its own; step() jumps it with the servers'.
    await context.clock.install({ time: Date.now() });
    page = await context.newPage();
    page.on('websocket', (ws) => pageSockets.push(ws.url().replace(/access_token=[^&]+/, 'access_token=…')));
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame() && state.sessionPath) navigations.push(new URL(frame.url()).pathname);
    });
  });

  after(async () => {
    await browser?.close();
    await stack?.stop();
    await hume?.stop();
  });

  it('logs in, adds a patient and starts a session whose voice connects to EVI', async () => {
    const registered = await context.request.post(`${stack.baseUrl}/api/auth/register`, { data: therapist });
    assert.equal(registered.status(), 202);
    await page.goto('/login');
    await page.getByLabel('Email').fill(therapist.email);
    await page.getByLabel('Password').fill(therapist.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL('**/dashboard');
    const patient = await api('POST', '/api/patients', { name: 'Nora Night', email: `nora-${unique}@example.com` });
    assert.equal(patient.status, 201, JSON.stringify(patient.body));

    await page.goto(`/patients/${patient.body.id}`);
    await page.getByRole('button', { name: 'Start session' }).click();
    await page.waitForURL(/\/patients\/[0-9a-f-]+\/sessions\/[0-9a-f-]+$/);
    state.sessionPath = new URL(page.url()).pathname;
    state.sessionId = state.sessionPath.split('/').pop();
    await page.evaluate(() => {
      window.__dimini_same_page = true; // gone if the page ever reloads or navigates
    });

    await page.getByRole('button', { name: 'Start voice' }).click();
    const first = await hume.until('the first EVI chat', () => hume.sockets[0]?.metadataSent && hume.sockets[0]).catch(async (error) => {
      // Say where the page went instead: the contract has it follow the token's eviUrl.
      const token = await api('GET', '/api/hume/token');
      const voice = await page.getByTestId('voice-status').textContent();
      throw new Error(
        `${error.message}; voice status "${voice}"; the page opened ${JSON.stringify(pageSockets.filter((url) => !url.includes('/socket.io/')))}; ` +
          `GET /api/hume/token gave eviUrl ${JSON.stringify(token.body?.eviUrl)} (the fake is ${hume.baseUrl})`,
      );
    });
    assert.equal(first.resumed, false);
    assert.equal(first.query.config_id, hume.configId, 'the page connects with the configured EVI config');
    await page.getByTestId('voice-status').filter({ hasText: 'Listening' }).waitFor();
    await boundByPage(first);
    await screenshot('voice-connected');
    state.voice = true;
  });

  it('first half: transcript lines flow and a tool call is answered exactly once', async (t) => {
    if (!needs(t, 'voice')) return;
    await patientSays(FIRST_HALF[0]);
    await advanceTo(8);
    state.noteCall = hume.toolCall('save_session_note', { content: NOTE, category: 'observation', importance: 'high' });
    await hume.until('the answer to the first tool call', () => hume.answersFor(state.noteCall).length > 0);
    await page.getByText(NOTE).first().waitFor(); // the note reaches the open page live
    for (const line of FIRST_HALF.slice(1)) await patientSays(line);
    await screenshot('first-half');
    state.firstHalf = true;
  });

  it("minute 30: Hume ends the chat at its max duration and the page resumes the group as a new chat", async (t) => {
    if (!needs(t, 'voice')) return;
    await advanceTo(30);
    const [first] = hume.sockets;
    await hume.until('the first chat to end', () => first.endReason === 'MAX_DURATION_TIMEOUT');
    const second = await hume.until('the resumed chat', () => hume.sockets[1]?.metadataSent && hume.sockets[1]);
    assert.equal(second.query.resumed_chat_group_id, first.chatGroupId, 'the page resumes the chat group');
    assert.equal(second.chatGroupId, first.chatGroupId);
    assert.notEqual(second.chatId, first.chatId, 'a resumed socket is a new chat');
    await page.getByTestId('voice-status').filter({ hasText: 'Listening' }).waitFor();
    await boundByPage(second);
    await screenshot('resumed');
    state.resumed = true;
  });

  it('second half: a tool call on the resumed chat is answered exactly once', async (t) => {
    if (!needs(t, 'resumed')) return;
    await patientSays(SECOND_HALF[0]);
    await advanceTo(40);
    state.progressCall = hume.toolCall('mark_progress', { progress_type: 'coping_skill', description: PROGRESS });
    await hume.until('the answer on the resumed chat', () => hume.answersFor(state.progressCall).length > 0);
    // Parameters the tool refuses: EVI must get one tool_error, not silence and not a retry storm.
    state.invalidCall = hume.toolCall('flag_concern', { concern_type: 'emotional_distress', severity: 'apocalyptic', description: 'x' });
    await hume.until('the answer to the invalid tool call', () => hume.answersFor(state.invalidCall).length > 0);
    state.secondHalf = true;
  });

  it('a tool call cut off by a network drop is resent after the reconnect and answered exactly once', async (t) => {
    if (!needs(t, 'resumed')) return;
    await advanceTo(44);
    const dropped = hume.sockets[1];
    state.concernCall = hume.toolCall(
      'flag_concern',
      { concern_type: 'emotional_distress', severity: 'moderate', description: CONCERN },
      { drop: true },
    );
    const third = await hume.until('the chat after the drop', () => hume.sockets[2]?.metadataSent && hume.sockets[2]);
    assert.equal(dropped.endReason, 'ERROR');
    assert.equal(third.query.resumed_chat_group_id, dropped.chatGroupId);
    // EVI never got an answer on the dropped socket, so it asks again on the new one.
    assert.equal(hume.answersFor(state.concernCall).length, 0, 'nothing reached EVI over the dropped socket');
    hume.resendToolCall(state.concernCall, { chat: third });
    await boundByPage(third);
    for (const line of SECOND_HALF.slice(1)) await patientSays(line);
    await hume.until('the answer to the resent tool call', () => hume.answersFor(state.concernCall).length > 0);
    await screenshot('second-half');
    state.reconnected = true;
  });

  it('ends the session at minute 60; the summary covers both halves', async (t) => {
    if (!needs(t, 'voice')) return;
    await advanceTo(60);
    await page.getByRole('button', { name: 'End session' }).click();
    await page.getByRole('dialog', { name: 'End this session?' }).getByRole('button', { name: 'Yes, end session' }).click();
    await page.getByTestId('session-status').filter({ hasText: 'Completed' }).waitFor();
    const last = hume.sockets[hume.sockets.length - 1];
    await hume.until('the last chat to end when the session ends', () => last.endReason !== null);
    assert.equal(last.endReason, 'USER_ENDED');
    await page.getByTestId('session-summary').getByRole('heading', { name: 'Key topics' }).waitFor({ timeout: SUMMARY_TIMEOUT_MS });
    await screenshot('summary');

    const { body } = await api('GET', `/api/sessions/${state.sessionId}/summary`);
    const summary = JSON.stringify(body?.summary ?? body);
    assert.ok(summary.includes(NOTE), `the summary has the first half's note: ${summary}`);
    assert.ok(summary.includes(PROGRESS), `the summary has the second half's progress: ${summary}`);
    assert.ok(summary.includes(CONCERN), `the summary has the second half's concern: ${summary}`);
    state.ended = true;
  });

  it('authentication renewed across the hour; no 401 reached the page and it never navigated away', async (t) => {
    if (!needs(t, 'voice')) return;
    const refreshes = responses.filter((r) => r.method === 'POST' && r.url === '/api/auth/refresh');
    assert.ok(refreshes.length >= 2, `an hour with 30-minute tokens needs at least 2 renewals; saw ${JSON.stringify(refreshes)}`);
    assert.ok(refreshes.every((r) => r.status === 200), `every renewal succeeded: ${JSON.stringify(refreshes)}`);
    assert.ok(refreshes.some((r) => r.minute < 30) && refreshes.some((r) => r.minute >= 30), 'renewed in both halves');
    const unauthorized = responses.filter((r) => r.status === 401);
    assert.deepEqual(unauthorized, [], 'no 401 reached the page');
    assert.deepEqual(navigations, [], 'the live page never navigated');
    assert.equal(await page.evaluate(() => window.__dimini_same_page), true, 'the page was never reloaded');
    assert.equal(await page.getByRole('dialog', { name: /log in/i }).count(), 0, 'no re-login dialog was needed');
  });

  it('webhooks for every chat landed in the same session', async (t) => {
    if (!needs(t, 'ended')) return;
    await hume.settled();
    const failed = hume.webhooks.filter((hook) => hook.status !== 200);
    assert.deepEqual(failed.map((hook) => `${hook.event} ${hook.status} ${hook.response}`), [], 'the backend accepted every signed webhook');
    const checked = validateWithPythonSdk(hume.webhooks);
    assert.equal(checked.status, 0, `hume (Python SDK) refused a webhook body:\n${checked.stderr}`);

    const groupIds = new Set(hume.sockets.map((chat) => chat.chatGroupId));
    assert.equal(groupIds.size, 1, 'every socket resumed the one chat group');
    const chats = await chatsOfSession();
    assert.deepEqual(chats.map((chat) => chat.chatId), hume.sockets.map((chat) => chat.chatId), 'every chat, oldest first');
    for (const [index, chat] of chats.entries()) {
      const fake = hume.sockets[index];
      assert.equal(chat.chatGroupId, fake.chatGroupId);
      assert.ok(chat.startedAt, `chat ${index} has its start (chat_started) applied`);
      assert.ok(chat.endedAt, `chat ${index} has its end (chat_ended) applied`);
      assert.equal(chat.endReason, fake.endReason, `chat ${index} end reason`);
    }
    const rows = stack.sql(
      `select event_name, chat_id, coalesce(session_id::text, '') from hume_events where chat_group_id = :'p1' order by id`,
      [...groupIds][0],
    );
    assert.equal(rows.length, hume.webhooks.length, 'every webhook is recorded');
    const elsewhere = rows.filter(([, , sessionId]) => sessionId !== state.sessionId);
    assert.deepEqual(elsewhere, [], 'every recorded webhook belongs to this session');
  });

  it('every transcript line posted is in the database', async (t) => {
    if (!needs(t, 'ended')) return;
    const spoken = [...FIRST_HALF, ...SECOND_HALF].map(([, text]) => text);
    const posted = transcriptPosts.map((post) => post.text);
    assert.deepEqual([...new Set(posted)].sort(), [...spoken].sort(), 'the page posted each patient line');
    const [[transcript]] = stack.sql(`select transcript from sessions where id = :'p1'`, state.sessionId);
    for (const text of spoken) assert.ok(transcript.includes(text), `the database transcript has "${text}"`);
  });

  it('exactly one tool answer reached EVI per tool call, in every flow', async (t) => {
    if (!needs(t, 'ended')) return;
    await hume.settled();
    const flows = [
      ['first chat', state.noteCall, 'tool_response'],
      ['resumed chat', state.progressCall, 'tool_response'],
      ['invalid parameters', state.invalidCall, 'tool_error'],
      ['resent after a drop', state.concernCall, 'tool_response'],
    ];
    for (const [flow, id, type] of flows) {
      if (!id) continue;
      const answers = hume.answersFor(id);
      assert.equal(answers.length, 1, `${flow}: ${answers.length} answers (${answers.map((a) => `${a.via} ${a.type}`).join(', ')})`);
      assert.equal(answers[0].via, 'socket', `${flow}: answered on the chat socket`);
      assert.equal(answers[0].type, type, `${flow}: ${JSON.stringify(answers[0].message)}`);
    }
    assert.deepEqual(hume.controlPlane.map((post) => post.chatId), [], 'nothing was sent through the control plane');
    const runs = stack.sql(`select tool_call_id, count(*) from tool_calls where session_id = :'p1' group by 1`, state.sessionId);
    assert.ok(runs.every(([, count]) => count === '1'), `each tool call ran once: ${JSON.stringify(runs)}`);
  });

  it('every message the page sent to EVI is one Hume accepts; each socket starts a fresh audio stream', async (t) => {
    if (!needs(t, 'voice')) return;
    assert.deepEqual(hume.violations, [], 'no message Hume would refuse');
    for (const chat of hume.sockets) {
      assert.equal(chat.query.custom_session_id ?? chat.query['session_settings[custom_session_id]'], state.sessionId, `chat ${chat.index}: custom_session_id at connect`);
      const settings = chat.received.find((message) => message.type === 'session_settings');
      assert.equal(settings?.custom_session_id, state.sessionId, `chat ${chat.index}: session_settings carries the session id`);
      assert.ok(chat.audioChunks > 0, `chat ${chat.index}: the microphone streamed audio`);
      assert.equal(chat.firstAudioIsStreamStart, true, `chat ${chat.index}: the first audio_input is a container start (a recorder started for this socket)`);
    }
  });

  it('reported no Content-Security-Policy violation during the hour (EVI socket, audio, renewals)', () => {
    assert.deepEqual(cspViolations, []);
  });
});
