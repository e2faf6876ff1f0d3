// Test helpers for the MQTT.js suite: start a roadmq daemon on an ephemeral
// port (port read from its stderr), stop it with SIGTERM and fail on a crash
// or a sanitizer report; connect MQTT.js clients and wait for events with
// bounded timeouts.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..', '..');
const defaultBin = join(repoRoot, 'build', 'debug', 'src', 'app', 'roadmq');
// The debug build runs under ASan: be generous.
const START_TIMEOUT_MS = 30000;
const STOP_TIMEOUT_MS = 20000;
export const WAIT_MS = 10000;

const SANITIZER_MARKERS = [
  'ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:', 'AddressSanitizer:DEADLYSIGNAL',
];

export function uid(prefix = 'js') {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Starts a daemon; resolves to { host, port, url, stop() }.
export async function startBroker(envOverrides = {}) {
  const bin = process.env.ROADMQ_BIN || defaultBin;
  const work = mkdtempSync(join(tmpdir(), 'roadmq-js-'));
  const config = join(work, 'roadmq.conf');
  writeFileSync(config, readFileSync(join(repoRoot, 'config', 'roadmq.conf')));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ROADMQ_')));
  Object.assign(env, {
    ROADMQ_LISTENERS__TCP__DEFAULT__BIND: '127.0.0.1:0',
    ROADMQ_NODE__DATA_DIR: join(work, 'data'),
  }, envOverrides);
  const child = spawn(bin, ['--config', config], { env, cwd: work, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let exited = null;
  const exit = new Promise((res) => child.on('exit', (code, signal) => { exited = { code, signal }; res(exited); }));
  child.on('error', (e) => { stderr += `spawn error: ${e.message}\n`; });

  const listening = new Promise((res, rej) => {
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      const m = /roadmq: listener tcp:default on (\S+):(\d+)/.exec(stderr);
      if (m) res({ host: m[1], port: Number(m[2]) });
    });
    exit.then((e) => rej(new Error(`roadmq exited (${JSON.stringify(e)}) before listening:\n${stderr}`)));
  });
  let addr;
  try {
    addr = await withTimeout(listening, START_TIMEOUT_MS, 'the listener line');
  } catch (e) {
    child.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
    throw e;
  }

  return {
    ...addr,
    url: `mqtt://${addr.host}:${addr.port}`,
    stderr: () => stderr,
    async stop() {
      try {
        if (exited) throw new Error(`roadmq died during the tests (${JSON.stringify(exited)}):\n${stderr.slice(-8000)}`);
        child.kill('SIGTERM');
        const e = await withTimeout(exit, STOP_TIMEOUT_MS, 'roadmq to exit after SIGTERM').catch((err) => {
          child.kill('SIGKILL');
          throw err;
        });
        const found = SANITIZER_MARKERS.filter((s) => stderr.includes(s));
        if (e.code !== 0 || found.length) {
          throw new Error(`roadmq exit ${JSON.stringify(e)}, sanitizer: [${found}]\n${stderr.slice(-8000)}`);
        }
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    },
  };
}

// A connected MQTT.js client plus its CONNACK and a message inbox.
// Automatic reconnection is off: what the broker closes stays closed.
export async function connect(broker, opts = {}) {
  const client = mqtt.connect(broker.url, {
    protocolVersion: 5,
    reconnectPeriod: 0,
    connectTimeout: WAIT_MS,
    clientId: uid(),
    ...opts,
  });
  const inbox = [];
  const waiters = [];
  client.on('message', (topic, payload, packet) => {
    inbox.push({ topic, payload, packet });
    for (const w of [...waiters]) w();
  });
  client.inbox = inbox;
  // Next message matching pred (removed from the inbox), bounded wait.
  client.nextMessage = (pred = () => true, ms = WAIT_MS) => withTimeout(new Promise((res) => {
    const check = () => {
      const i = inbox.findIndex((m) => pred(m));
      if (i < 0) return false;
      const [m] = inbox.splice(i, 1);
      waiters.splice(waiters.indexOf(check), 1);
      res(m);
      return true;
    };
    waiters.push(check);
    check();
  }), ms, 'a message');
  const connack = await withTimeout(new Promise((res, rej) => {
    client.once('connect', res);
    client.once('error', rej);
  }), WAIT_MS, 'CONNACK');
  client.connack = connack;
  return client;
}

export function closeAll(clients) {
  return Promise.all(clients.map((c) => new Promise((res) => c.end(true, {}, () => res()))));
}

// Resolves when the client's connection is closed (bounded).
export function closed(client, ms = WAIT_MS) {
  if (client.disconnected) return Promise.resolve();
  return withTimeout(new Promise((res) => client.once('close', res)), ms, 'connection close');
}
