// Session records in Chromium against the real stack (stack.mjs): the live transcript of a
// 50-minute fixture session (tests/fixtures/therapy_session_50min.txt, 155 turns, both
// speakers), the SOAP note prefilled / edited / saved / reloaded / exported (Markdown and print →
// PDF), the patient's history with an earlier session's summary, and search. Screenshots and the
// exported files go to test-results/records/.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { launchChromium } from './browser.mjs';
import { startStack, waitFor } from './stack.mjs';

const OUT = path.resolve(import.meta.dirname, '..', 'test-results', 'records');
const FIXTURE = path.resolve(import.meta.dirname, '..', '..', 'tests', 'fixtures', 'therapy_session_50min.txt');
const SUMMARY_TIMEOUT_MS = Number(process.env.E2E_SUMMARY_TIMEOUT_MS ?? 60_000);
const unique = Date.now().toString(36);
const therapist = { name: 'Dr Records', email: `records-${unique}@example.com`, password: 'correct horse battery' };
const EDITED_PLAN = 'Sleep diary for two weeks; review the Sunday-evening worry at the next session.';

/** The fixture's paragraphs as transcript lines: "Patient: …" / "Therapist: …". */
const LINES = readFileSync(FIXTURE, 'utf8')
  .split(/\n\s*\n/)
  .map((paragraph) => paragraph.trim())
  .filter(Boolean)
  .map((paragraph) => {
    const [, who, text] = /^(Patient|Therapist):\s*([\s\S]+)$/.exec(paragraph) ?? [];
    assert.ok(who, `fixture paragraph without a speaker: ${paragraph.slice(0, 40)}`);
    return { speaker: who.toLowerCase(), text: text.replace(/\s+/g, ' ') };
  });

let stack;
let browser;
let context;
let page;
let shot = 0;
const state = {};

async function screenshot(name) {
  shot += 1;
  await page.screenshot({ path: path.join(OUT, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
}

async function csrfHeaders() {
  const csrf = (await context.cookies(stack.baseUrl)).find((cookie) => cookie.name === 'dimini_csrf')?.value ?? '';
  return { 'X-CSRF-Token': csrf };
}

async function post(url, data) {
  const response = await context.request.post(`${stack.baseUrl}${url}`, { data, headers: await csrfHeaders() });
  assert.ok(response.ok(), `POST ${url}: ${response.status()} ${await response.text()}`);
  return response.json();
}

async function get(url) {
  const response = await context.request.get(`${stack.baseUrl}${url}`);
  assert.ok(response.ok(), `GET ${url}: ${response.status()}`);
  return response.json();
}

async function summaryWritten(sessionId) {
  await waitFor(
    `the summary of session ${sessionId}`,
    async () => (await get(`/api/sessions/${sessionId}/summary`)).summary !== null,
    { timeoutMs: SUMMARY_TIMEOUT_MS },
  );
}

describe('session records in Chromium', () => {
  before(async () => {
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    stack = await startStack({ log: (line) => console.log(`  [stack] ${line}`) });
    browser = await launchChromium();
    context = await browser.newContext({ baseURL: stack.baseUrl, viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    context.setDefaultTimeout(15_000);
    page = await context.newPage();
    const registered = await context.request.post(`${stack.baseUrl}/api/auth/register`, { data: therapist });
    assert.equal(registered.status(), 202);
    const login = await context.request.post(`${stack.baseUrl}/api/auth/login`, {
      data: { email: therapist.email, password: therapist.password },
    });
    assert.equal(login.status(), 200);
    state.patient = await post('/api/patients', { name: 'Maya Records' });
    // An earlier session, ended, with its summary: the history must show it.
    const earlier = await post('/api/sessions/start', { patientId: state.patient.id });
    for (const text of ['My sister and I argued about the holidays again.', 'I felt guilty and angry all weekend.']) {
      await post(`/api/sessions/${earlier.id}/transcript`, { text });
    }
    await post(`/api/sessions/${earlier.id}/end`);
    await summaryWritten(earlier.id);
    state.earlier = earlier;
  });

  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('shows the whole transcript live, with who said what and when, and searches it', async () => {
    const session = await post('/api/sessions/start', { patientId: state.patient.id });
    state.session = session;
    await page.goto(`/patients/${state.patient.id}/sessions/${session.id}`);
    const panel = page.locator('section', { has: page.getByRole('heading', { name: 'Transcript', exact: true }) });
    await panel.getByText('Nothing said yet.').waitFor();
    await page.getByText('Live', { exact: true }).waitFor();

    // The first line through the page's own form, the rest as the voice agent's queue posts them.
    const [first, ...rest] = LINES;
    await page.getByLabel('Who said it').selectOption(first.speaker);
    await page.getByLabel(first.speaker === 'patient' ? 'What the patient said' : 'What you said').fill(first.text);
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    // The page's queue posts on its own schedule: a line posted by the test before the form's line
    // has landed would take an earlier id and come first (the CI failure of stop 21).
    const entries = panel.getByTestId('transcript-entry');
    await waitFor("the form's line on the page", async () => (await entries.count()) === 1);
    for (const line of rest) await post(`/api/sessions/${session.id}/transcript`, line);

    await waitFor(`${LINES.length} transcript lines on the page`, async () => (await entries.count()) === LINES.length);
    const shown = await entries.evaluateAll((items) =>
      items.map((item) => ({
        speaker: item.querySelector('.transcript-speaker')?.textContent,
        time: item.querySelector('time')?.getAttribute('datetime'),
        text: item.querySelector('.transcript-text')?.textContent,
      })),
    );
    assert.deepEqual(
      shown.map(({ speaker, text }) => ({ speaker: speaker?.toLowerCase(), text })),
      LINES,
      'every line, in order, with its speaker',
    );
    assert.ok(shown.every(({ time }) => time && !Number.isNaN(Date.parse(time))), 'every line has its time');
    await screenshot('live-transcript');

    await panel.getByLabel('Search the transcript').fill('sister');
    const matching = LINES.filter((line) => line.text.toLowerCase().includes('sister')).length;
    assert.ok(matching > 0);
    await waitFor('the transcript filtered to "sister"', async () => (await entries.count()) === matching);
    assert.equal(await panel.getByTestId('transcript-count').textContent(), `${matching} of ${LINES.length} lines`);
    assert.ok((await panel.locator('mark').count()) >= matching, 'matches are highlighted');
    await screenshot('transcript-search');
    await panel.getByLabel('Search the transcript').fill('');
  });

  it('prefills a SOAP note after the session, saves an edit, and keeps it over a reload', async () => {
    await page.getByRole('button', { name: 'End session' }).click();
    await page.getByRole('dialog', { name: 'End this session?' }).getByRole('button', { name: 'Yes, end session' }).click();
    await page.getByTestId('session-status').filter({ hasText: 'Completed' }).waitFor();
    await summaryWritten(state.session.id);
    const note = page.locator('section', { has: page.getByRole('heading', { name: 'Progress note' }) });
    await note.getByText('Prefilled from the summary').waitFor();
    assert.equal(await note.getByRole('radio', { name: /^SOAP/ }).isChecked(), true);
    const { summary } = await get(`/api/sessions/${state.session.id}/summary`);
    // Refilled when the summary (written after the end) arrives, without a reload.
    await waitFor("Subjective prefilled with the summary's topics", async () => {
      const subjective = await note.getByRole('textbox', { name: 'Subjective' }).inputValue();
      return summary.keyTopics.some((topic) => subjective.includes(topic));
    });
    await screenshot('note-prefilled');

    await note.getByRole('textbox', { name: 'Plan' }).fill(EDITED_PLAN);
    await note.getByRole('button', { name: 'Save note' }).click();
    await note.getByTestId('note-status').filter({ hasText: 'Saved as version 1.' }).waitFor();
    await note.getByRole('textbox', { name: 'Assessment' }).fill('Anxiety tied to work deadlines; sleep improving.');
    await note.getByRole('button', { name: 'Save note' }).click();
    await note.getByTestId('note-status').filter({ hasText: 'Saved as version 2.' }).waitFor();

    await page.reload();
    await note.getByText('Version 2, saved').waitFor();
    assert.equal(await note.getByRole('textbox', { name: 'Plan' }).inputValue(), EDITED_PLAN);
    assert.equal(await note.getByRole('textbox', { name: 'Assessment' }).inputValue(), 'Anxiety tied to work deadlines; sleep improving.');
    await note.getByText('Version history').click();
    await waitFor('two versions listed', async () => (await note.getByTestId('note-versions').locator(':scope > li').count()) === 2);
    // The completed session still shows its whole transcript.
    await waitFor('the transcript after the reload', async () => (await page.getByTestId('transcript-entry').count()) === LINES.length);
    await screenshot('note-saved');
  });

  it('exports the summary and the note as Markdown and, through the print stylesheet, as a PDF', async () => {
    const note = page.locator('section', { has: page.getByRole('heading', { name: 'Progress note' }) });
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      note.getByRole('link', { name: 'Download Markdown' }).click(),
    ]);
    const markdownPath = path.join(OUT, 'session-note.md');
    await download.saveAs(markdownPath);
    const markdown = readFileSync(markdownPath, 'utf8');
    assert.match(markdown, /^# Session with Maya Records/m);
    assert.match(markdown, /^## Summary/m);
    assert.match(markdown, /^## SOAP progress note/m);
    assert.match(markdown, /Version 2/);
    assert.ok(markdown.includes('Sleep diary for two weeks; review the Sunday-evening worry'), 'the edited plan is exported');

    await page.emulateMedia({ media: 'print' });
    const printed = page.getByTestId('note-print');
    assert.equal(await printed.isVisible(), true, 'the note prints as text');
    assert.ok((await printed.textContent()).includes(EDITED_PLAN));
    assert.equal(await page.getByTestId('session-summary').isVisible(), true, 'the summary prints');
    for (const hidden of [page.getByRole('button', { name: 'Save note' }), page.getByLabel('Search the transcript')]) {
      assert.equal(await hidden.isVisible(), false, 'controls do not print');
    }
    const pdf = await page.pdf({ format: 'A4', printBackground: false });
    writeFileSync(path.join(OUT, 'session-note.pdf'), pdf);
    assert.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-');
    await page.emulateMedia({ media: 'screen' });
  });

  it("lists the patient's sessions with their summaries, top themes and the trend", async () => {
    await page.goto(`/patients/${state.patient.id}`);
    const history = page.locator('section', { has: page.getByRole('heading', { name: 'Session history' }) });
    const items = history.getByTestId('history-session');
    await waitFor('both sessions in the history', async () => (await items.count()) === 2);
    const earlierSummary = (await get(`/api/sessions/${state.earlier.id}/summary`)).summary;
    const earlierItem = items.nth(1); // newest first
    const text = await earlierItem.getByTestId('history-summary').textContent();
    assert.ok(
      earlierSummary.keyTopics.every((topic) => text.includes(topic)),
      `the earlier session's summary is shown: ${text}`,
    );
    await items.first().getByRole('list', { name: 'Top themes' }).waitFor();
    await history.getByRole('table', { name: /Themes and emotions over time/ }).waitFor();
    await screenshot('patient-history');
  });

  it("searches across the therapist's sessions", async () => {
    await page.goto('/search');
    await page.getByRole('heading', { level: 1, name: 'Search sessions' }).waitFor();
    await page.getByLabel('Words or “a phrase” said in a session').fill('sister');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByTestId('search-count').filter({ hasText: 'matching' }).waitFor();
    const hits = page.getByTestId('search-hit');
    const sessions = new Set(
      await hits.evaluateAll((items) => items.map((item) => item.querySelector('a')?.getAttribute('href'))),
    );
    assert.ok(sessions.has(`/patients/${state.patient.id}/sessions/${state.earlier.id}`), 'the earlier session is found');
    assert.ok(sessions.has(`/patients/${state.patient.id}/sessions/${state.session.id}`), 'the fixture session is found');
    await screenshot('search');
  });
});
