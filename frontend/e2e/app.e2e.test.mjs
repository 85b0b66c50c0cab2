// End to end in Debian's Chromium against the real backend, Postgres and the standalone Next
// server (see stack.mjs). Steps run in order and share one therapist; each saves a screenshot to
// test-results/e2e/. Steps that depend on backend work owned by a later issue (graph pipeline,
// summary) say so in their failure message, after checking the backend's own API.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { cspViolations, launchChromium } from './browser.mjs';
import { startStack } from './stack.mjs';

const SHOTS = path.resolve(import.meta.dirname, '..', 'test-results', 'e2e');
const PROTECTED_PATHS = [
  '/dashboard',
  '/patients',
  '/sessions',
  '/patients/00000000-0000-4000-8000-000000000000',
  '/patients/00000000-0000-4000-8000-000000000000/sessions/00000000-0000-4000-8000-000000000001',
];
const GRAPH_TIMEOUT_MS = Number(process.env.E2E_GRAPH_TIMEOUT_MS ?? 45_000);
const SUMMARY_TIMEOUT_MS = Number(process.env.E2E_SUMMARY_TIMEOUT_MS ?? 60_000);
// When a graph or summary step fails, the failure says whether the backend produced no data (its
// API has none) or the page did not show data the backend has.
function backendMissing(_t, reason) {
  assert.fail(`backend produced no data: ${reason}`);
}

let stack;
let browser;
let context;
let page;
let shot = 0;
const unique = `${Date.now().toString(36)}`;
const therapist = { name: 'Dr Ada Lovelace', email: `ada-${unique}@example.com`, password: 'correct horse battery' };
const state = {};

async function screenshot(target, name) {
  shot += 1;
  await target.screenshot({ path: path.join(SHOTS, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
}

/** Later steps need what earlier ones made; without it they are skipped rather than failing twice. */
function needs(t, ...keys) {
  const missing = keys.filter((key) => !state[key]);
  if (missing.length) t.skip(`needs ${missing.join(', ')} from an earlier step`);
  return missing.length === 0;
}

function pathOf(target) {
  const url = new URL(target.url());
  return url.pathname;
}

/** Unsafe API calls from the page's cookie jar need the CSRF header, like the app sends. */
async function apiPost(ctx, url, data) {
  const csrf = (await ctx.cookies(stack.baseUrl)).find((cookie) => cookie.name === 'dimini_csrf')?.value ?? '';
  return ctx.request.post(`${stack.baseUrl}${url}`, { data, headers: { 'X-CSRF-Token': csrf } });
}

describe('Dimini in Chromium', () => {
  before(async () => {
    rmSync(SHOTS, { recursive: true, force: true }); // screenshots of this run only
    mkdirSync(SHOTS, { recursive: true });
    stack = await startStack({ log: (line) => console.log(`  [stack] ${line}`) });
    browser = await launchChromium();
    context = await browser.newContext({ baseURL: stack.baseUrl, viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(15_000);
    page = await context.newPage();
  });

  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('enforces a nonce-based Content-Security-Policy on every page', async () => {
    const response = await page.goto('/login');
    const policy = response.headers()['content-security-policy'] ?? '';
    const nonce = /'nonce-([^']+)'/.exec(policy)?.[1];
    assert.ok(nonce, `a script nonce in the page's CSP: ${policy}`);
    assert.match(policy, /object-src 'none'/);
    assert.match(policy, /frame-ancestors 'none'/);
    const again = (await page.goto('/login')).headers()['content-security-policy'];
    assert.notEqual(again, policy, 'a fresh nonce per response');
    // Next put the nonce on its own scripts.
    const nonced = await page.evaluate(() => [...document.scripts].filter((script) => script.nonce).length);
    assert.ok(nonced > 0, 'Next\'s scripts carry the nonce');
    // Markup injected into the server's HTML (a stored or reflected XSS), under the real response's
    // policy: the inline script does not run, and the browser reports it.
    await page.route('**/login', async (route) => {
      const real = await route.fetch();
      const html = (await real.text()).replace('</body>', '<script>window.__injected = true</script></body>');
      await route.fulfill({ response: real, body: html });
    });
    await page.goto('/login');
    await page.unroute('**/login');
    await page.getByLabel('Email').waitFor();
    assert.equal(await page.evaluate(() => window.__injected === true), false, 'the injected script ran');
    const blocked = cspViolations.splice(0).filter((violation) => violation.directive.startsWith('script-src'));
    assert.equal(blocked.length, 1, JSON.stringify(blocked));
  });

  it('sends a logged-out visitor of every app page to /login', async () => {
    const visitor = await browser.newContext({ baseURL: stack.baseUrl });
    const visitorPage = await visitor.newPage();
    for (const target of PROTECTED_PATHS) {
      await visitorPage.goto(target);
      assert.equal(pathOf(visitorPage), '/login', `${target} should land on /login`);
      assert.equal(new URL(visitorPage.url()).searchParams.get('next'), target);
    }
    await visitorPage.getByRole('heading', { name: 'Log in' }).waitFor();
    await screenshot(visitorPage, 'logged-out-redirect');
    await visitor.close();
  });

  it('registers a therapist, showing validation errors for bad input first', async () => {
    await page.goto('/register');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('Name is required.').waitFor();
    await page.getByText('Enter a valid email address.').waitFor();
    await page.getByText('Password must be at least 8 characters.').waitFor();
    await screenshot(page, 'register-validation');

    await page.getByLabel('Full name').fill(therapist.name);
    await page.getByLabel('Email').fill(therapist.email);
    // The server's password rule (a common password) comes back on the field.
    await page.getByLabel('Password').fill('password123');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('Password is one of the most commonly used passwords; choose another').waitFor();
    await page.getByLabel('Password').fill(therapist.password);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL('**/login?registered=1');
    await page.getByText('Registration received. Log in with the email and password you chose.').waitFor();
    await screenshot(page, 'registered');
  });

  it('logs in and lands on the dashboard; a wrong password is refused', async () => {
    await page.getByLabel('Email').fill(therapist.email);
    await page.getByLabel('Password').fill('wrong password!');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText('Incorrect email or password.').waitFor();

    await page.getByLabel('Password').fill(therapist.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL('**/dashboard');
    await page.getByRole('heading', { name: `Welcome, ${therapist.name}` }).waitFor();
    const cookies = await context.cookies(stack.baseUrl);
    const session = cookies.find((cookie) => cookie.name === 'dimini_session');
    assert.ok(session?.httpOnly, 'the session cookie is httpOnly');
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
    assert.equal(stored, '{}{}', 'nothing is kept in web storage');
    await screenshot(page, 'dashboard');
  });

  it('serves every page from the standalone production server', async () => {
    const pages = [
      ['/', 'See what matters in every session'],
      ['/about', 'About Dimini'],
      ['/privacy', 'Privacy'],
      ['/terms', 'Terms of use'],
      ['/dashboard', `Welcome, ${therapist.name}`],
      ['/patients', 'Patients'],
      ['/sessions', 'Quick start'],
    ];
    for (const [target, heading] of pages) {
      const response = await page.goto(target);
      assert.equal(response.status(), 200, `${target} answered ${response.status()}`);
      await page.getByRole('heading', { level: 1, name: heading, exact: true }).waitFor();
    }
    const missing = await page.goto('/no-such-page');
    assert.equal(missing.status(), 404);
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    await page.goto('/dashboard');
  });

  it('adds a patient after showing validation errors for bad input', async () => {
    await page.getByRole('navigation', { name: 'App' }).getByRole('link', { name: 'Patients' }).click();
    await page.waitForURL('**/patients');
    await page.getByText('No patients yet').waitFor();
    await page.getByRole('button', { name: 'Add patient' }).click();
    const sheet = page.getByRole('dialog', { name: 'Add patient' });
    await sheet.waitFor();
    await sheet.getByLabel('Email').fill('not-an-email');
    await sheet.getByLabel('Age').fill('200');
    await sheet.getByRole('button', { name: 'Save patient' }).click();
    await sheet.getByText('Name is required.').waitFor();
    await sheet.getByText('Enter a valid email address.').waitFor();
    await sheet.getByText('Age must be a whole number from 0 to 150.').waitFor();
    assert.equal(await sheet.getByLabel('Name').getAttribute('aria-invalid'), 'true');
    await screenshot(page, 'patient-validation');

    await sheet.getByLabel('Name').fill('Grace Hopper');
    await sheet.getByLabel('Email').fill(`grace-${unique}@example.com`);
    await sheet.getByLabel('Age').fill('41');
    await sheet.getByLabel('Gender').selectOption('female');
    await sheet.getByLabel('Initial concerns').fill('Sleeping badly\nStress at work');
    await sheet.getByRole('button', { name: 'Save patient' }).click();
    await page.getByText('Added Grace Hopper.').waitFor();
    await page.getByRole('link', { name: 'Grace Hopper' }).waitFor();

    // Edit keeps the patient and shows server-side conflicts (email unique per therapist) on the field.
    await page.getByRole('button', { name: 'Edit Grace Hopper' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit patient' });
    assert.equal(await edit.getByLabel('Age').inputValue(), '41');
    await edit.getByLabel('Occupation').fill('Rear admiral');
    await edit.getByRole('button', { name: 'Save patient' }).click();
    await page.getByText('Updated Grace Hopper.').waitFor();
    await page.getByRole('button', { name: 'Add patient' }).click();
    const duplicate = page.getByRole('dialog', { name: 'Add patient' });
    await duplicate.getByLabel('Name').fill('Grace Twin');
    await duplicate.getByLabel('Email').fill(`grace-${unique}@example.com`);
    await duplicate.getByRole('button', { name: 'Save patient' }).click();
    await duplicate.getByText('Another of your patients already uses this email.').waitFor();
    await screenshot(page, 'patient-duplicate-email');
    await duplicate.getByRole('button', { name: 'Cancel' }).click();

    // Search narrows the list (server-side search over name/email/phone).
    await page.getByLabel('Search patients').fill('nobody-matches-this');
    await page.getByText('No patients match your search.').waitFor();
    await page.getByLabel('Search patients').fill('grace');
    await page.getByRole('link', { name: 'Grace Hopper' }).waitFor();
    await screenshot(page, 'patient-added');
    state.patientAdded = true;
  });

  it('starts a session from the patient page', async (t) => {
    if (!needs(t, 'patientAdded')) return;
    await page.getByRole('link', { name: 'Grace Hopper' }).click();
    await page.getByRole('heading', { name: 'Grace Hopper' }).waitFor();
    state.patientPath = pathOf(page);
    await page.getByRole('button', { name: 'Start session' }).click();
    await page.waitForURL(/\/patients\/[0-9a-f-]+\/sessions\/[0-9a-f-]+$/);
    state.sessionPath = pathOf(page);
    state.sessionId = state.sessionPath.split('/').pop();
    await page.getByRole('heading', { name: 'Session with Grace Hopper' }).waitFor();
    assert.equal(await page.getByTestId('session-status').textContent(), 'Active');
    await page.getByText('Live', { exact: true }).waitFor({ timeout: 15_000 });
    await screenshot(page, 'session-started');
  });

  it('shows microphone/voice failures with a retry button', async (t) => {
    if (!needs(t, 'sessionId')) return;
    // No Hume credentials in this stack: the token request fails and the page must say so.
    await page.getByRole('button', { name: 'Start voice' }).click();
    const alert = page.locator('.card', { has: page.getByRole('heading', { name: 'Voice assistant' }) }).getByRole('alert');
    await alert.waitFor({ timeout: 15_000 });
    assert.match(await alert.textContent(), /Could not start the voice assistant/);
    await alert.getByRole('button', { name: 'Retry' }).waitFor();
    assert.equal(await page.getByTestId('voice-status').textContent(), 'Voice error');
    await screenshot(page, 'voice-error-retry');

    // A browser where the microphone permission is refused explains that, with Retry.
    const deniedBrowser = await launchChromium({ grantMicrophone: false });
    try {
      const denied = await deniedBrowser.newContext({ baseURL: stack.baseUrl });
      await denied.addCookies(await context.cookies(stack.baseUrl));
      const deniedPage = await denied.newPage();
      await deniedPage.goto(state.sessionPath);
      await deniedPage.getByRole('button', { name: 'Start voice' }).click();
      await deniedPage.getByText('Microphone access was blocked').waitFor({ timeout: 15_000 });
      await deniedPage.getByRole('button', { name: 'Retry' }).waitFor();
      await screenshot(deniedPage, 'microphone-denied');
    } finally {
      await deniedBrowser.close();
    }
  });

  it('shows transcript text as graph nodes in the open page without a reload (needs the backend graph pipeline)', async (t) => {
    if (!needs(t, 'sessionId')) return;
    await page.evaluate(() => {
      window.__dimini_no_reload = true;
    });
    const response = await apiPost(context, `/api/sessions/${state.sessionId}/transcript`, {
      text: 'I have been feeling anxious about my job and I cannot sleep. Work stress makes me angry.',
    });
    assert.equal(response.status(), 202, `transcript endpoint answered ${response.status()}`);
    const entities = page.getByTestId('graph-entities').locator('tbody tr');
    try {
      await entities.first().waitFor({ timeout: GRAPH_TIMEOUT_MS });
    } catch {
      const graph = await context.request.get(`${stack.baseUrl}/api/sessions/${state.sessionId}/graph`);
      const body = await graph.json().catch(() => ({}));
      const nodes = Array.isArray(body.nodes) ? body.nodes.length : 0;
      if (nodes > 0) assert.fail(`FRONTEND: the backend has ${nodes} graph nodes but the open page shows none.`);
      await screenshot(page, 'graph-nodes-missing');
      return backendMissing(
        t,
        `after ${GRAPH_TIMEOUT_MS} ms the backend's GET /graph has 0 nodes (status ${graph.status()}); the transcript→graph pipeline produced none.`,
      );
    }
    assert.ok((await entities.count()) > 0);
    assert.equal(await page.evaluate(() => window.__dimini_no_reload), true, 'the page was not reloaded');
    await page.waitForFunction(() => !document.querySelector('[aria-busy="true"].graph-canvas'));
    await screenshot(page, 'graph-nodes');
    state.nodeCount = await entities.count();

    // The page's own form posts more text and the graph grows, still live.
    await page.getByLabel('What the patient said').fill('My sister helps me with the kids and I feel hopeful about therapy.');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.waitForFunction(
      (before) => document.querySelectorAll('[data-testid="graph-entities"] tbody tr').length > before,
      state.nodeCount,
      { timeout: GRAPH_TIMEOUT_MS },
    );
    assert.equal(await page.evaluate(() => window.__dimini_no_reload), true, 'the page was not reloaded');
  });

  it('shows notes and concerns saved through the tool-call relay live in the open page', async (t) => {
    if (!needs(t, 'sessionId')) return;
    // The same endpoint the page's EVI client relays tool calls to.
    const note = await apiPost(context, `/api/sessions/${state.sessionId}/tool-calls`, {
      toolCallId: `e2e-note-${unique}`,
      name: 'save_session_note',
      parameters: { content: 'Patient links poor sleep to deadlines', category: 'observation', importance: 'high' },
    });
    assert.equal(note.status(), 200);
    assert.equal((await note.json()).isError, false);
    const concern = await apiPost(context, `/api/sessions/${state.sessionId}/tool-calls`, {
      toolCallId: `e2e-concern-${unique}`,
      name: 'flag_concern',
      parameters: { concern_type: 'emotional_distress', severity: 'high', description: 'Persistent anger at work' },
    });
    assert.equal((await concern.json()).isError, false);
    const invalid = await apiPost(context, `/api/sessions/${state.sessionId}/tool-calls`, {
      toolCallId: `e2e-bad-${unique}`,
      name: 'flag_concern',
      parameters: { severity: 'apocalyptic' },
    });
    assert.equal((await invalid.json()).isError, true, 'invalid parameters give a tool error, not a 5xx');

    const panel = page.locator('section', { has: page.getByRole('heading', { name: 'Notes, progress and concerns' }) });
    await panel.getByText('Patient links poor sleep to deadlines').waitFor();
    await panel.getByText('Persistent anger at work', { exact: false }).waitFor();
    assert.equal(await page.evaluate(() => window.__dimini_no_reload), true, 'the page was not reloaded');
    await screenshot(page, 'tool-records');
  });

  it('ends the session after confirmation and shows the summary (needs the backend summary)', async (t) => {
    if (!needs(t, 'sessionId')) return;
    await page.getByRole('button', { name: 'End session' }).click();
    const confirm = page.getByRole('dialog', { name: 'End this session?' });
    await confirm.waitFor();
    await screenshot(page, 'end-confirmation');
    await confirm.getByRole('button', { name: 'Yes, end session' }).click();
    await page.getByTestId('session-status').filter({ hasText: 'Completed' }).waitFor();
    const summary = page.getByTestId('session-summary');
    await summary.waitFor();
    try {
      await summary.getByRole('heading', { name: 'Key topics' }).waitFor({ timeout: SUMMARY_TIMEOUT_MS });
    } catch {
      const response = await context.request.get(`${stack.baseUrl}/api/sessions/${state.sessionId}/summary`);
      const body = await response.json().catch(() => ({}));
      if (body.summary) assert.fail('FRONTEND: the backend has a summary but the page does not show it.');
      await screenshot(page, 'summary-missing');
      return backendMissing(
        t,
        `after ${SUMMARY_TIMEOUT_MS} ms GET /summary answers ${response.status()} ${JSON.stringify(body)}; no summary was written.`,
      );
    }
    await screenshot(page, 'summary');
  });

  it("shows 'not found' for another therapist's patient and session, never their data", async (t) => {
    if (!needs(t, 'patientPath', 'sessionPath')) return;
    const other = await browser.newContext({ baseURL: stack.baseUrl });
    const registered = await other.request.post(`${stack.baseUrl}/api/auth/register`, {
      data: { name: 'Dr Other', email: `other-${unique}@example.com`, password: 'another password' },
    });
    assert.equal(registered.status(), 202);
    const login = await other.request.post(`${stack.baseUrl}/api/auth/login`, {
      data: { email: `other-${unique}@example.com`, password: 'another password' },
    });
    assert.equal(login.status(), 200);
    const otherPage = await other.newPage();

    await otherPage.goto(state.patientPath);
    await otherPage.getByRole('heading', { name: 'Patient not found' }).waitFor();
    assert.equal(await otherPage.getByText('Grace Hopper').count(), 0);
    await screenshot(otherPage, 'other-therapist-patient-not-found');

    await otherPage.goto(state.sessionPath);
    await otherPage.getByRole('heading', { name: 'Session not found' }).waitFor();
    assert.equal(await otherPage.getByText('Grace Hopper').count(), 0);
    await screenshot(otherPage, 'other-therapist-session-not-found');
    await other.close();
  });

  it('keeps every open-redirect payload in ?next= on this origin', async () => {
    const origin = new URL(stack.baseUrl).origin;
    const payloads = ['/%09/evil.example', '//evil.example', '/%5Cevil.example', 'https://evil.example/', '/%0A/evil.example', 'javascript:alert(1)'];
    const visitor = await browser.newContext({ baseURL: stack.baseUrl });
    const visitorPage = await visitor.newPage();
    const queries = [...payloads.map((next) => `next=${next}`), 'next=/patients&next=//evil.example'];
    for (const query of queries) {
      await visitor.clearCookies();
      await visitorPage.goto(`/login?${query}`);
      await visitorPage.getByLabel('Email').fill(therapist.email);
      await visitorPage.getByLabel('Password').fill(therapist.password);
      await visitorPage.getByRole('button', { name: 'Log in' }).click();
      await visitorPage.waitForURL((url) => url.pathname !== '/login');
      assert.equal(new URL(visitorPage.url()).origin, origin, `?${query} left the origin: ${visitorPage.url()}`);
    }
    await visitor.close();
  });

  it('reported no Content-Security-Policy violation on any page of the run', () => {
    assert.deepEqual(cspViolations, []);
  });

  it('logging out clears access everywhere, including a copy of the old cookie', async () => {
    const oldCookies = await context.cookies(stack.baseUrl);
    await page.goto('/dashboard');
    // The finished session is listed with its patient's name among recent sessions.
    await page.getByRole('cell', { name: 'Grace Hopper' }).first().waitFor();
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL('**/login');
    await page.goto(state.patientPath ?? '/patients');
    assert.equal(pathOf(page), '/login');
    await screenshot(page, 'logged-out');

    // Another tab/browser holding the old cookie loses access too (logout revokes every token).
    const copy = await browser.newContext({ baseURL: stack.baseUrl });
    await copy.addCookies(oldCookies);
    const copyPage = await copy.newPage();
    await copyPage.goto('/patients');
    await copyPage.waitForURL('**/login?next=*');
    const me = await copy.request.get(`${stack.baseUrl}/api/auth/me`);
    assert.equal(me.status(), 401);
    await screenshot(copyPage, 'old-cookie-refused');
    await copy.close();
  });
});
