// Prints (asserts nothing):
//  1. first-load JavaScript per route of the production build: every <script src> the server's
//     HTML for that route loads, measured on disk in .next/static (raw and gzip);
//  2. Lighthouse performance scores for /, /patients (logged in, 20 patients) and a live session
//     page in Debian's Chromium, with Lighthouse's mobile default and its desktop preset.
// Each figure is printed beside its floor, measured in the same run, and the ratio: for JS, the
// scripts every route loads (Next's runtime and the root layout, which no page can go below); for
// Lighthouse, whose score is absolute, an empty HTML page served from loopback in the same Chromium
// (the harness's own ceiling) and /about, a static page of the same build that loads only the
// floor's scripts (a bare Next.js page: what the machine's load does to any page of this app).
// It reuses the e2e stack (Postgres, backend, standalone Next, ingress): run `npm run build` in
// frontend/ first. Targets (issues 6 and 18): ≤ 150 kB first-load JS on the session page, ≤ 200 kB
// elsewhere, mobile performance ≥ 90.
import { mkdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import * as chromeLauncher from 'chrome-launcher';
import lighthouse from 'lighthouse';
import desktopConfig from 'lighthouse/core/config/desktop-config.js';
import { startStack } from '../../frontend/e2e/stack.mjs';
import { CHROMIUM_PATH } from '../../frontend/e2e/browser.mjs';

const FRONTEND = path.resolve(import.meta.dirname, '..', '..', 'frontend');
const RESULTS = path.join(import.meta.dirname, 'results');
const SOME_ID = '00000000-0000-4000-8000-000000000000';
const ROUTES = [
  '/',
  '/about',
  '/privacy',
  '/terms',
  '/login',
  '/register',
  '/dashboard',
  '/patients',
  '/sessions',
  `/patients/${SOME_ID}`,
  `/patients/${SOME_ID}/sessions/${SOME_ID}`,
];
const CHROME_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const kB = (bytes) => (bytes / 1024).toFixed(1);

async function firstLoadJs(nextUrl) {
  const rows = [];
  for (const route of ROUTES) {
    // Any cookie value passes the proxy's presence check; the HTML (and its scripts) is the same.
    const html = await (await fetch(`${nextUrl}${route}`, { headers: { Cookie: 'dimini_session=bench' } })).text();
    // noModule polyfills are skipped by every browser that runs the app, so they do not count.
    const tags = [...html.matchAll(/<script[^>]*\ssrc="([^"]+)"[^>]*>/g)].filter((match) => !/\snomodule/i.test(match[0]));
    const scripts = [...new Set(tags.map((match) => match[1]))];
    let raw = 0;
    let gzip = 0;
    for (const src of scripts) {
      const pathname = new URL(src, nextUrl).pathname;
      if (!pathname.startsWith('/_next/static/')) continue;
      const file = readFileSync(path.join(FRONTEND, '.next', 'static', decodeURIComponent(pathname.slice('/_next/static/'.length))));
      raw += file.length;
      gzip += gzipSync(file).length;
    }
    rows.push({ route, scripts: scripts.length, rawKB: Number(kB(raw)), gzipKB: Number(kB(gzip)), files: scripts });
  }
  // The floor: the scripts every route loads, whatever the page.
  const shared = rows.map((row) => new Set(row.files)).reduce((a, b) => new Set([...a].filter((src) => b.has(src))));
  let floorGzip = 0;
  for (const src of shared) {
    const pathname = new URL(src, nextUrl).pathname;
    if (!pathname.startsWith('/_next/static/')) continue;
    floorGzip += gzipSync(readFileSync(path.join(FRONTEND, '.next', 'static', decodeURIComponent(pathname.slice('/_next/static/'.length))))).length;
  }
  const floorKB = Number(kB(floorGzip));
  return rows.map(({ files, ...row }) => ({ ...row, floorGzipKB: floorKB, ratio: Number((row.gzipKB / floorKB).toFixed(2)) }));
}

async function loginCookie(baseUrl) {
  const account = { name: 'Bench Therapist', email: `bench-${Date.now()}@example.com`, password: 'bench password 1' };
  await fetch(`${baseUrl}/api/auth/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(account),
  });
  const login = await fetch(`${baseUrl}/api/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email: account.email, password: account.password }),
  });
  const cookies = login.headers.getSetCookie().map((line) => line.split(';')[0]);
  const cookie = cookies.join('; ');
  const csrf = cookies.find((c) => c.startsWith('dimini_csrf='))?.split('=')[1] ?? '';
  for (let i = 1; i <= 20; i += 1) {
    await fetch(`${baseUrl}/api/patients`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Cookie: cookie, 'X-CSRF-Token': csrf, Origin: baseUrl },
      body: JSON.stringify({ name: `Patient ${i}`, email: `patient${i}@example.com`, demographics: { age: 20 + i } }),
    });
  }
  const patients = await (await fetch(`${baseUrl}/api/patients?page=1&pageSize=1`, { headers: { Cookie: cookie } })).json();
  const patientId = patients.items[0].id;
  const started = await fetch(`${baseUrl}/api/sessions/start`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Cookie: cookie, 'X-CSRF-Token': csrf, Origin: baseUrl },
    body: JSON.stringify({ patientId }),
  });
  const session = await started.json();
  if (!started.ok) throw new Error(`starting a session failed: ${started.status}`);
  return { cookie, sessionPath: `/patients/${patientId}/sessions/${session.id}` };
}

/** The Lighthouse floor: an empty page from loopback, so only the browser and the harness count. */
function startEmptyPage() {
  const server = http.createServer((_request, response) => {
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    response.end('<!doctype html><html lang="en"><head><meta name="viewport" content="width=device-width"><title>floor</title></head><body><p>floor</p></body></html>');
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const RUNS = Number(process.env.LH_RUNS ?? 5);

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

// This machine is small and shared, so one Lighthouse run is noisy: each page and preset runs
// RUNS times and the run with the median score is reported, with the spread.
async function lighthouseScores(baseUrl, { cookie, sessionPath }, floorUrl) {
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'dimini-lh-'));
  const chrome = await chromeLauncher.launch({ chromePath: CHROMIUM_PATH, chromeFlags: CHROME_FLAGS, userDataDir });
  const rows = [];
  try {
    const targets = [
      ['floor', floorUrl],
      ['next floor', `${baseUrl}/about`],
      ['/', `${baseUrl}/`],
      ['/patients', `${baseUrl}/patients`],
      ['session', `${baseUrl}${sessionPath}`],
    ];
    const floors = {};
    for (const [route, url] of targets) {
      for (const [preset, config] of [['mobile', undefined], ['desktop', desktopConfig]]) {
        const runs = [];
        for (let run = 0; run < RUNS; run += 1) {
          const result = await lighthouse(
            url,
            { port: chrome.port, output: 'json', logLevel: 'error', onlyCategories: ['performance'], extraHeaders: { Cookie: cookie } },
            config,
          );
          if (result?.lhr) runs.push(result.lhr);
        }
        const score = (lhr) => Math.round((lhr.categories.performance.score ?? 0) * 100);
        const scores = runs.map(score);
        const lhr = runs.find((candidate) => score(candidate) === median(scores));
        if (!lhr) continue;
        mkdirSync(RESULTS, { recursive: true });
        writeFileSync(path.join(RESULTS, `lighthouse-${route === '/' ? 'landing' : route.replace(/^\//, '').replace(' ', '-')}-${preset}.json`), JSON.stringify(lhr));
        const audit = (id) => lhr.audits[id]?.displayValue ?? '';
        if (route === 'floor' || route === 'next floor') floors[`${route}-${preset}`] = score(lhr);
        // Which elements moved: the CLS culprits, so a regression names its cause.
        const shifted = (lhr.audits['layout-shifts']?.details?.items ?? []).map((item) => item.node?.selector ?? '?').slice(0, 3);
        rows.push({
          route,
          preset,
          finalUrl: new URL(lhr.finalDisplayedUrl ?? baseUrl).pathname.replace(/[0-9a-f-]{36}/g, '{id}'),
          performance: score(lhr),
          floor: floors[`floor-${preset}`],
          ratio: Number((score(lhr) / floors[`floor-${preset}`]).toFixed(2)),
          'next floor': floors[`next floor-${preset}`] ?? '',
          'ratio to next': floors[`next floor-${preset}`] ? Number((score(lhr) / floors[`next floor-${preset}`]).toFixed(2)) : '',
          'min–max': `${Math.min(...scores)}–${Math.max(...scores)}`,
          FCP: audit('first-contentful-paint'),
          LCP: audit('largest-contentful-paint'),
          TBT: audit('total-blocking-time'),
          CLS: audit('cumulative-layout-shift'),
          shifted: shifted.join(' '),
        });
      }
    }
  } finally {
    await chrome.kill();
    rmSync(userDataDir, { recursive: true, force: true });
  }
  return rows;
}

const stack = await startStack({ log: (line) => console.error(`[stack] ${line}`) });
try {
  const js = await firstLoadJs(stack.nextUrl);
  console.log('\nFirst-load JS per route, gzip, beside the floor every route loads (target ≤ 200 kB; session page ≤ 150 kB):');
  console.table(js);
  const login = await loginCookie(stack.baseUrl);
  const emptyPage = await startEmptyPage();
  let scores;
  try {
    scores = await lighthouseScores(stack.baseUrl, login, `http://127.0.0.1:${emptyPage.address().port}/`);
  } finally {
    emptyPage.close();
  }
  console.log(`\nLighthouse performance, median of ${RUNS} runs, beside an empty page's score in the same run (target ≥ 90):`);
  console.table(scores);
  console.log(`load average (1, 5, 15 min): ${os.loadavg().map((value) => value.toFixed(2)).join(', ')}`);
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(path.join(RESULTS, 'latest.json'), JSON.stringify({ at: new Date().toISOString(), loadavg: os.loadavg(), js, scores }, null, 2));
} finally {
  await stack.stop();
}
