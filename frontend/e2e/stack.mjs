// Starts the whole stack on free loopback ports for end-to-end runs and the bench:
// a throwaway Postgres 15 (initdb in a temp dir), the real FastAPI backend (migrated), the
// production Next server from the standalone output, and a tiny "ingress" that routes /api and
// /socket.io to the backend and everything else to Next, as the cluster's ingress does.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const FRONTEND_DIR = path.resolve(import.meta.dirname, '..');
const REPO_DIR = path.resolve(FRONTEND_DIR, '..');
const BACKEND_DIR = path.join(REPO_DIR, 'backend');
const VENV = process.env.DIMINI_VENV ?? path.join(REPO_DIR, '.venv');
const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const BACKEND_PATHS = ['/api/', '/socket.io/', '/health', '/ready'];
// Debian's faketime package (libfaketime); the MT build because the backend runs worker threads.
const FAKETIME_LIBS = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1'];

/**
 * A server-side clock the test can move: libfaketime reads the offset file on every call
 * (FAKETIME_NO_CACHE), and monotonic clocks stay real so asyncio timers and timeouts are unaffected.
 */
function fakeClock(workDir) {
  const lib = process.env.FAKETIME_LIB ?? FAKETIME_LIBS.find((candidate) => existsSync(candidate));
  if (!lib || !existsSync(lib)) throw new Error("libfaketime not found: install Debian's faketime package (apt-get install faketime).");
  const file = path.join(workDir, 'faketime');
  let offsetSeconds = 0;
  const write = () => {
    writeFileSync(file, `+${offsetSeconds}\n`);
    chmodSync(file, 0o644);
  };
  write();
  return {
    env: { LD_PRELOAD: lib, FAKETIME_TIMESTAMP_FILE: file, FAKETIME_NO_CACHE: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' },
    get offsetMs() {
      return offsetSeconds * 1000;
    },
    /** Moves the backend's and Postgres' wall clock forward (whole seconds). */
    advance(ms) {
      if (ms % 1000 !== 0) throw new Error('the server clock moves in whole seconds');
      offsetSeconds += ms / 1000;
      write();
    },
  };
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export async function waitFor(description, check, { timeoutMs = 60_000, intervalMs = 250 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`Timed out waiting for ${description}${lastError ? `: ${lastError.message}` : ''}`);
}

async function httpOk(url) {
  const response = await fetch(url, { redirect: 'manual' });
  return response.status === 200;
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** initdb and postgres refuse to run as root; run them as the postgres user then. */
function asPostgres(command, args) {
  return isRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', ...options });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
  }
  return result;
}

function chownTree(dir, uid, gid) {
  chownSync(dir, uid, gid);
  for (const entry of readdirSync(dir)) {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) chownTree(full, uid, gid);
    else chownSync(full, uid, gid);
  }
}

function ownerIds(user) {
  const uid = Number(run('id', ['-u', user]).stdout.trim());
  const gid = Number(run('id', ['-g', user]).stdout.trim());
  return { uid, gid };
}

async function startPostgres(workDir, log, env = process.env) {
  const dataDir = path.join(workDir, 'pgdata');
  const port = await freePort();
  if (isRoot) {
    const { uid, gid } = ownerIds('postgres');
    chownTree(workDir, uid, gid);
  }
  const [initCmd, initArgs] = asPostgres(path.join(PG_BIN, 'initdb'), [
    '-D', dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync',
  ]);
  run(initCmd, initArgs);
  const [ctlCmd, ctlArgs] = asPostgres(path.join(PG_BIN, 'pg_ctl'), [
    '-D', dataDir, '-l', path.join(workDir, 'postgres.log'), '-w', '-t', '60',
    '-o', `-p ${port} -k ${workDir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off`,
    'start',
  ]);
  run(ctlCmd, ctlArgs, { env });
  const [dbCmd, dbArgs] = asPostgres(path.join(PG_BIN, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', 'dimini']);
  run(dbCmd, dbArgs);
  log(`postgres: 127.0.0.1:${port}`);
  return {
    port,
    url: `postgresql+asyncpg://postgres@127.0.0.1:${port}/dimini`,
    /** Rows of a query as arrays of strings; ASCII record/unit separators, so values may hold newlines. */
    sql(query, ...params) {
      const args = ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'dimini', '-AtX', '-F', '\x1f', '-R', '\x1e', '-v', 'ON_ERROR_STOP=1'];
      params.forEach((value, index) => args.push('-v', `p${index + 1}=${value}`));
      const result = run(path.join(PG_BIN, 'psql'), args, { input: query });
      return result.stdout.replace(/\n$/, '').split('\x1e').filter(Boolean).map((row) => row.split('\x1f'));
    },
    stop() {
      const [stopCmd, stopArgs] = asPostgres(path.join(PG_BIN, 'pg_ctl'), ['-D', dataDir, '-m', 'fast', '-w', 'stop']);
      spawnSync(stopCmd, stopArgs, { stdio: 'ignore' });
    },
  };
}

function startProcess(name, command, args, options, logDir) {
  const logFile = path.join(logDir, `${name}.log`);
  const out = openSync(logFile, 'a');
  const child = spawn(command, args, { ...options, stdio: ['ignore', out, out] });
  child.logFile = logFile;
  child.on('exit', (code, signal) => {
    child.exited = { code, signal };
  });
  return child;
}

async function stopProcess(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

function routeFor(url, backendPort, nextPort) {
  return BACKEND_PATHS.some((prefix) => url === prefix.replace(/\/$/, '') || url.startsWith(prefix))
    ? backendPort
    : nextPort;
}

/** The ingress stand-in: plain HTTP proxying plus WebSocket upgrades for Socket.IO. */
function startIngress(port, backendPort, nextPort) {
  const server = http.createServer((request, response) => {
    const target = routeFor(request.url ?? '/', backendPort, nextPort);
    const upstream = http.request(
      {
        host: '127.0.0.1',
        port: target,
        method: request.method,
        path: request.url,
        // A fresh upstream connection per request: reusing a keep-alive socket that uvicorn closes
        // after 5 idle seconds races into ECONNRESET, a 502 here, and a page stuck on its error.
        agent: false,
        headers: { ...request.headers, 'x-forwarded-proto': 'http', 'x-forwarded-host': request.headers.host ?? '' },
      },
      (upstreamResponse) => {
        response.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.headers);
        upstreamResponse.pipe(response);
      },
    );
    upstream.on('error', () => {
      if (!response.headersSent) response.writeHead(502, { 'content-type': 'text/plain' });
      response.end('bad gateway');
    });
    request.pipe(upstream);
  });
  server.on('upgrade', (request, socket, head) => {
    const target = routeFor(request.url ?? '/', backendPort, nextPort);
    const upstream = net.connect(target, '127.0.0.1', () => {
      const lines = [`${request.method} ${request.url} HTTP/1.1`];
      for (let i = 0; i < request.rawHeaders.length; i += 2) lines.push(`${request.rawHeaders[i]}: ${request.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) upstream.write(head);
      socket.pipe(upstream).pipe(socket);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

/**
 * Starts Postgres, backend, Next and the ingress. `stop()` ends exactly the processes it started.
 * Options: log (progress printer), env (extra backend settings), frontendEnv (extra settings of the
 * Next server, e.g. CSP_CONNECT_SRC), fakeTime (the backend and Postgres run under libfaketime;
 * `clock.advance(ms)` moves both).
 */
export async function startStack({ log = () => {}, env: extraEnv = {}, frontendEnv = {}, fakeTime = false } = {}) {
  const standaloneServer = path.join(FRONTEND_DIR, '.next', 'standalone', 'server.js');
  if (!existsSync(standaloneServer)) throw new Error('No standalone build: run `npm run build` first.');
  if (!existsSync(path.join(VENV, 'bin', 'uvicorn'))) throw new Error(`No backend virtualenv at ${VENV} (make venv).`);

  const workDir = mkdtempSync(path.join(os.tmpdir(), 'dimini-e2e-'));
  chmodSync(workDir, 0o755);
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'dimini-e2e-logs-'));
  const started = { workDir, logDir, postgres: null, backend: null, next: null, ingress: null };
  const stop = async () => {
    if (started.ingress) await new Promise((resolve) => started.ingress.close(resolve));
    started.ingress?.closeAllConnections?.();
    await stopProcess(started.next);
    await stopProcess(started.backend);
    started.postgres?.stop();
    rmSync(workDir, { recursive: true, force: true });
  };

  try {
    const clock = fakeTime ? fakeClock(workDir) : null;
    const clockEnv = clock ? clock.env : {};
    started.postgres = await startPostgres(workDir, log, { ...process.env, ...clockEnv });
    const [ingressPort, backendPort, nextPort] = [await freePort(), await freePort(), await freePort()];
    const baseUrl = `http://127.0.0.1:${ingressPort}`;
    const backendEnv = {
      ...process.env,
      DATABASE_URL: started.postgres.url,
      SECRET_KEY: randomBytes(32).toString('hex'),
      ALLOWED_ORIGINS: baseUrl,
      COOKIE_SECURE: 'false',
      LOG_LEVEL: 'WARNING',
      WEB_CONCURRENCY: '1',
      LOGIN_RATE_LIMIT: '1000',
      REGISTER_RATE_LIMIT: '1000',
      ...extraEnv,
    };
    const migrate = spawnSync(path.join(VENV, 'bin', 'python'), ['-m', 'app.migrate'], {
      cwd: BACKEND_DIR,
      env: backendEnv,
      encoding: 'utf8',
    });
    if (migrate.status !== 0) throw new Error(`Backend migration failed:\n${migrate.stdout}\n${migrate.stderr}`);
    log('backend: migrated');

    started.backend = startProcess(
      'backend',
      path.join(VENV, 'bin', 'uvicorn'),
      ['app.main:socket_app', '--host', '127.0.0.1', '--port', String(backendPort)],
      { cwd: BACKEND_DIR, env: { ...backendEnv, ...clockEnv } },
      logDir,
    );
    started.next = startProcess(
      'next',
      process.execPath,
      [standaloneServer],
      {
        cwd: path.dirname(standaloneServer),
        env: { ...process.env, NODE_ENV: 'production', PORT: String(nextPort), HOSTNAME: '127.0.0.1', NEXT_TELEMETRY_DISABLED: '1', ...frontendEnv },
      },
      logDir,
    );
    const alive = (child) => {
      if (child.exited) throw new Error(`${path.basename(child.logFile)} exited early; see ${child.logFile}`);
      return true;
    };
    await waitFor('the backend /health', async () => alive(started.backend) && httpOk(`http://127.0.0.1:${backendPort}/health`));
    log(`backend: 127.0.0.1:${backendPort}`);
    await waitFor('the Next server', async () => alive(started.next) && httpOk(`http://127.0.0.1:${nextPort}/`));
    log(`next: 127.0.0.1:${nextPort}`);
    started.ingress = await startIngress(ingressPort, backendPort, nextPort);
    log(`ingress: ${baseUrl} (logs in ${logDir})`);
    return {
      baseUrl,
      backendUrl: `http://127.0.0.1:${backendPort}`,
      nextUrl: `http://127.0.0.1:${nextPort}`,
      logDir,
      clock,
      sql: started.postgres.sql,
      stop,
    };
  } catch (error) {
    await stop();
    error.message += `\n(logs in ${logDir})`;
    throw error;
  }
}
