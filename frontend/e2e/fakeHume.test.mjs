// The fake Hume itself, without a browser: it must speak Hume's shapes (the Python SDK's pydantic
// models accept every webhook it sends), refuse what Hume's schemas refuse, and end a chat at the
// max duration so a client can resume the group.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import WebSocket from 'ws';
import { MAX_DURATION_MS, SIGNATURE_HEADER, TIMESTAMP_HEADER, signWebhook, startFakeHume, validateWithPythonSdk } from './fakeHume.mjs';

function nextMessage(ws, type) {
  return new Promise((resolve) => {
    const onMessage = (data) => {
      const message = JSON.parse(data.toString());
      if (message.type === type) {
        ws.off('message', onMessage);
        resolve(message);
      }
    };
    ws.on('message', onMessage);
  });
}

describe('fake Hume', () => {
  let hume;
  let receiver;
  const received = [];

  before(async () => {
    // A webhook receiver checking the signature scheme the backend verifies.
    receiver = http.createServer((request, response) => {
      const chunks = [];
      request.on('data', (chunk) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        received.push({
          body,
          signed: request.headers[SIGNATURE_HEADER.toLowerCase()] === signWebhook(hume.webhookSigningKey, body, request.headers[TIMESTAMP_HEADER.toLowerCase()]),
        });
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end('{"status":"ok"}');
      });
    });
    await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    hume = await startFakeHume();
    hume.webhookUrl = `http://127.0.0.1:${receiver.address().port}/api/webhooks/hume`;
  });

  after(async () => {
    await hume?.stop();
    await new Promise((resolve) => receiver.close(resolve));
  });

  async function token() {
    const response = await fetch(`${hume.baseUrl}/oauth2-cc/token`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Authorization: `Basic ${Buffer.from(`${hume.apiKey}:${hume.secretKey}`).toString('base64')}`,
      },
      body: 'grant_type=client_credentials',
    });
    assert.equal(response.status, 200);
    return (await response.json()).access_token;
  }

  async function open(query) {
    const ws = new WebSocket(`${hume.baseUrl.replace('http', 'ws')}/v0/evi/chat?${new URLSearchParams(query)}`);
    const metadata = nextMessage(ws, 'chat_metadata');
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return { ws, metadata: await metadata };
  }

  it('refuses a token request without the client credentials', async () => {
    const response = await fetch(`${hume.baseUrl}/oauth2-cc/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    assert.equal(response.status, 401);
  });

  it('opens a chat, ends it at the max duration and resumes its group as a new chat', async () => {
    const { ws, metadata } = await open({ access_token: await token(), config_id: hume.configId, custom_session_id: 'session-1' });
    assert.equal(metadata.custom_session_id, 'session-1');
    ws.send(JSON.stringify({ type: 'session_settings', custom_session_id: 'session-1', context: { text: 'ctx', type: 'persistent' } }));
    const id = hume.toolCall('save_session_note', { content: 'x', category: 'observation' });
    const call = await nextMessage(ws, 'tool_call');
    assert.equal(call.tool_call_id, id);
    assert.equal(typeof call.parameters, 'string', 'EVI sends tool parameters as a JSON string');
    ws.send(JSON.stringify({ type: 'tool_response', tool_call_id: id, content: 'saved' }));
    await hume.until('the answer', () => hume.answersFor(id).length === 1);

    const closed = new Promise((resolve) => ws.once('close', (code) => resolve(code)));
    await hume.advance(MAX_DURATION_MS);
    assert.equal(await closed, 1000);
    assert.equal(hume.sockets[0].endReason, 'MAX_DURATION_TIMEOUT');

    const resumed = await open({ access_token: await token(), resumed_chat_group_id: metadata.chat_group_id });
    assert.equal(resumed.metadata.chat_group_id, metadata.chat_group_id);
    assert.notEqual(resumed.metadata.chat_id, metadata.chat_id);
    resumed.ws.close();
    await hume.until('chat_ended of the resumed chat', () => hume.sockets[1].endReason === 'USER_ENDED');
    await hume.settled();

    const events = hume.webhooks.map((hook) => `${hook.event}:${hook.body.chat_id === metadata.chat_id ? 1 : 2}`);
    assert.deepEqual(events, ['chat_started:1', 'tool_call:1', 'chat_ended:1', 'chat_started:2', 'chat_ended:2']);
    assert.equal(hume.webhooks[3].body.chat_start_type, 'resumed_chat_group');
    assert.ok(received.every((hook) => hook.signed), 'every webhook is signed over body + "." + timestamp');
    const checked = validateWithPythonSdk(hume.webhooks);
    assert.equal(checked.status, 0, `hume (Python SDK) refused a webhook body:\n${checked.stderr}`);
    assert.deepEqual(hume.violations, []);
  });

  it("records what Hume's schemas refuse and answers it with an EVI error", async () => {
    const { ws } = await open({ access_token: await token() });
    const error = nextMessage(ws, 'error');
    ws.send(JSON.stringify({ type: 'tool_response', tool_call_id: 'x', content: 'y', is_error: false }));
    assert.equal((await error).code, 'E0101');
    ws.send(JSON.stringify({ type: 'tool_response', tool_call_id: 'never-sent', content: 'y' }));
    await hume.until('two violations', () => hume.violations.length === 2);
    const details = hume.violations.map((v) => v.detail).join('\n');
    assert.match(details, /Unexpected key "is_error"/);
    assert.match(details, /unknown tool_call_id never-sent/);
    assert.deepEqual(hume.answersFor('x'), [], 'a refused message is no answer');
    ws.close();
    hume.violations.length = 0;
  });

  it('refuses an expired token and an unknown chat group', async () => {
    const stale = await token();
    await hume.advance(31 * 60 * 1000);
    await assert.rejects(open({ access_token: stale }), /401/);
    await assert.rejects(open({ access_token: await token(), resumed_chat_group_id: 'no-such-group' }), /400/);
    assert.equal(hume.violations.length, 2);
    hume.violations.length = 0;
  });

  it('counts control-plane answers as answers', async () => {
    const { ws, metadata } = await open({ access_token: await token() });
    const id = hume.toolCall('flag_concern', { severity: 'high' });
    const response = await fetch(`${hume.baseUrl}/v0/evi/chat/${metadata.chat_id}/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'X-Hume-Api-Key': hume.apiKey },
      body: JSON.stringify({ type: 'tool_response', tool_call_id: id, content: 'done' }),
    });
    assert.equal(response.status, 200);
    assert.deepEqual(hume.answersFor(id).map((a) => a.via), ['control-plane']);
    ws.close();
  });
});
