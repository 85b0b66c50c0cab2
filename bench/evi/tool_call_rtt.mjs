// Tool call round trip through the browser relay, beside its floor (prints; asserts nothing):
//   relay: the fake EVI sends `tool_call` on the page's chat socket -> the page relays it to
//          POST /api/sessions/{id}/tool-calls -> the page answers `tool_response` on the socket;
//          timed in the fake from just before the send to the answer's arrival.
//   floor: the same POST from node directly (same cookie, same ingress, no browser, no EVI).
// Both are measured in one run, interleaved call by call, so machine load hits them alike.
// Needs the frontend's standalone build (cd frontend && npm ci && npm run build) and .venv.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { launchChromium } from '../../frontend/e2e/browser.mjs';
import { startFakeHume } from '../../frontend/e2e/fakeHume.mjs';
import { startStack } from '../../frontend/e2e/stack.mjs';

const CALLS = Number(process.env.BENCH_CALLS ?? 200);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 10);
const RESULTS = path.join(import.meta.dirname, 'results');

function percentile(sorted, p) {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  return { n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] };
}

const ms = (value) => `${value.toFixed(1)} ms`;

async function main() {
  const hume = await startFakeHume();
  const stack = await startStack({
    env: {
      HUME_API_KEY: hume.apiKey,
      HUME_SECRET_KEY: hume.secretKey,
      HUME_CONFIG_ID: hume.configId,
      HUME_WEBHOOK_SIGNING_KEY: hume.webhookSigningKey,
      HUME_BASE_URL: hume.baseUrl,
    },
  });
  hume.webhookUrl = `${stack.baseUrl}/api/webhooks/hume`; // Hume's tool_call webhook arrives too, as in production
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ baseURL: stack.baseUrl });
    const account = { name: 'Bench Therapist', email: `bench-evi-${Date.now()}@example.com`, password: 'bench password 1' };
    await context.request.post(`${stack.baseUrl}/api/auth/register`, { data: account });
    const login = await context.request.post(`${stack.baseUrl}/api/auth/login`, { data: { email: account.email, password: account.password } });
    if (login.status() !== 200) throw new Error(`login answered ${login.status()}`);
    const cookies = await context.cookies(stack.baseUrl);
    const csrf = cookies.find((cookie) => cookie.name === 'dimini_csrf')?.value ?? '';
    const headers = { 'X-CSRF-Token': csrf };
    const patient = await (await context.request.post(`${stack.baseUrl}/api/patients`, { data: { name: 'Bench Patient' }, headers })).json();
    const session = await (await context.request.post(`${stack.baseUrl}/api/sessions/start`, { data: { patientId: patient.id }, headers })).json();

    const page = await context.newPage();
    await page.goto(`/patients/${patient.id}/sessions/${session.id}`);
    await page.getByRole('button', { name: 'Start voice' }).click();
    await hume.until('the page to open its EVI chat', () => hume.sockets[0]?.metadataSent);

    // The floor uses node's fetch with the same cookie and CSRF header the page sends.
    const cookieHeader = cookies.map((cookie) => `${cookie.name}=${cookie.value}`).join('; ');
    let directId = 0;
    async function direct() {
      directId += 1;
      const started = performance.now();
      const response = await fetch(`${stack.baseUrl}/api/sessions/${session.id}/tool-calls`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie: cookieHeader, 'X-CSRF-Token': csrf },
        body: JSON.stringify({
          toolCallId: `bench-direct-${directId}`,
          name: 'save_session_note',
          parameters: { content: `direct note ${directId}`, category: 'observation' },
        }),
      });
      await response.arrayBuffer();
      if (response.status !== 200) throw new Error(`direct tool call answered ${response.status}`);
      return performance.now() - started;
    }
    let relayId = 0;
    async function relay() {
      relayId += 1;
      const id = hume.toolCall('save_session_note', { content: `relayed note ${relayId}`, category: 'observation' });
      const [answer] = await hume.until(`the answer to ${id}`, () => hume.answersFor(id).length && hume.answersFor(id));
      if (answer.type !== 'tool_response') throw new Error(`tool call answered with ${JSON.stringify(answer.message)}`);
      return answer.hr - hume.toolCalls.get(id).sentHr[0];
    }

    for (let i = 0; i < WARMUP; i += 1) {
      await relay();
      await direct();
    }
    const relayed = [];
    const floor = [];
    for (let i = 0; i < CALLS; i += 1) {
      relayed.push(await relay());
      floor.push(await direct());
    }
    await hume.settled();
    const duplicates = [...hume.toolCalls.keys()].filter((id) => hume.answersFor(id).length !== 1).length;

    const result = {
      calls: CALLS,
      relay: stats(relayed),
      floor: stats(floor),
      ratio: { p50: stats(relayed).p50 / stats(floor).p50, p99: stats(relayed).p99 / stats(floor).p99 },
      toolCallsNotAnsweredExactlyOnce: duplicates,
      violations: hume.violations.length,
    };
    console.log(`EVI tool call round trip, ${CALLS} calls each, interleaved (after ${WARMUP} warm-up pairs)`);
    console.log(`  through the browser relay (tool_call -> tool_response): p50 ${ms(result.relay.p50)}  p99 ${ms(result.relay.p99)}  max ${ms(result.relay.max)}`);
    console.log(`  floor: the same POST from node, no browser:              p50 ${ms(result.floor.p50)}  p99 ${ms(result.floor.p99)}  max ${ms(result.floor.max)}`);
    console.log(`  ratio relay / floor: p50 ${result.ratio.p50.toFixed(2)}x  p99 ${result.ratio.p99.toFixed(2)}x`);
    console.log(`  tool calls not answered exactly once: ${duplicates}; messages Hume would refuse: ${result.violations}`);
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(path.join(RESULTS, 'latest.json'), `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await browser.close();
    await stack.stop();
    await hume.stop();
  }
}

await main();
