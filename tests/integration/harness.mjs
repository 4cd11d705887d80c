// Starts the real processes the integration tests talk to: the gateway, the mock backend, nginx
// (as a TLS terminator) and openssl (for a throw-away CA). Every process listens on an ephemeral
// loopback port and is killed when its test ends.
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const buildDir = process.env.COSTGATE_BUILD_DIR ? resolve(root, process.env.COSTGATE_BUILD_DIR) : join(root, 'build');
export const gatewayBinary = join(buildDir, 'costgate');
export const mockBinary = join(buildDir, 'costgate-mock');

// The sanitizers the binaries under test were built with (COSTGATE_SANITIZE), '' for none.
export const sanitizers = (() => {
  try {
    return /^COSTGATE_SANITIZE:STRING=(.*)$/m.exec(readFileSync(join(buildDir, 'CMakeCache.txt'), 'utf8'))?.[1] ?? '';
  } catch {
    return '';
  }
})();

// The resident memory of a process, in MiB.
export function residentMiB(pid) {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
}

// A bound on how much a process's resident memory may grow, given for the Release build. A
// sanitizer's runtime holds memory of its own that grows with what the process touches:
// AddressSanitizer keeps freed blocks in a quarantine of up to 256 MiB (to catch use after
// free) plus an eighth in shadow; ThreadSanitizer shadows every byte several times over. The
// bounds still catch a process holding a whole hostile input, just with that room added.
export function memoryBoundMiB(releaseBound) {
  if (sanitizers.includes('thread')) return releaseBound * 8;
  if (sanitizers.includes('address')) return releaseBound * 1.25 + 256;
  return releaseBound;
}

export function tempDir() {
  return mkdtempSync(join(tmpdir(), 'costgate-test-'));
}

// What a sanitizer build (docs/hardening.md, "Sanitizers") prints on stderr when it finds a bug.
const sanitizerReport = /ERROR: (AddressSanitizer|LeakSanitizer)|: runtime error: |WARNING: ThreadSanitizer/;
// Every process started here and still running. A failing stop() ends them all first: the stops
// after it in the same hook never come, and one left running would keep the test file from ending.
const running = new Set();
function failStop(message) {
  for (const child of running) child.kill('SIGTERM');
  throw new Error(message);
}

// Spawns a process and resolves once a line of its output matches `ready`. With `checked` (our
// own binaries), stop() throws when the process printed a sanitizer report or, told to stop by
// SIGTERM, did not exit 0.
export function startProcess(command, args, { ready, env = {}, stream = 'stdout', timeoutMs = 10000, checked = false }) {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.on('exit', () => running.delete(child));
  const lines = { stdout: [], stderr: [] };
  let resolveReady;
  let rejectReady;
  const readyPromise = new Promise((res, rej) => { resolveReady = res; rejectReady = rej; });
  for (const name of ['stdout', 'stderr']) {
    let partial = '';
    child[name].setEncoding('utf8');
    child[name].on('data', (data) => {
      partial += data;
      const parts = partial.split('\n');
      partial = parts.pop();
      for (const line of parts) {
        lines[name].push(line);
        if (name === stream) {
          const match = ready && line.match(ready);
          if (match) resolveReady(match);
        }
      }
    });
  }
  const timer = setTimeout(() => rejectReady(new Error(`${command} did not start in ${timeoutMs} ms:\n${lines.stderr.join('\n')}\n${lines.stdout.join('\n')}`)), timeoutMs);
  child.on('exit', (code, signal) => {
    rejectReady(new Error(`${command} exited (${code ?? signal}) before it was ready:\n${lines.stderr.join('\n')}\n${lines.stdout.join('\n')}`));
  });
  const exited = new Promise((res) => child.on('exit', (code, signal) => res({ code, signal })));
  // 'close' comes once stdout and stderr are read to the end: a report printed at exit is in.
  const closed = new Promise((res) => child.on('close', res));
  return {
    child,
    lines,
    exited,
    ready: readyPromise.finally(() => clearTimeout(timer)),
    async stop() {
      const wasRunning = child.exitCode === null && child.signalCode === null;
      if (wasRunning) child.kill('SIGTERM');
      const timeout = setTimeout(() => child.kill('SIGKILL'), 5000);
      const result = await exited;
      await closed;
      clearTimeout(timeout);
      const report = lines.stderr.findIndex((line) => sanitizerReport.test(line));
      if (checked && report !== -1) {
        failStop(`${command} reported a bug:\n${lines.stderr.slice(report).join('\n')}`);
      }
      if (checked && wasRunning && result.code !== 0) {
        failStop(`${command} exited (${result.code ?? result.signal}) on SIGTERM:\n${lines.stderr.join('\n')}`);
      }
      return result;
    },
  };
}

export async function startMock(args = []) {
  const proc = startProcess(mockBinary, ['--listen', '127.0.0.1:0', ...args], { ready: /listening on ([\d.]+):(\d+)/, checked: true });
  const match = await proc.ready;
  const port = Number(match[2]);
  return { ...proc, port, url: `http://127.0.0.1:${port}` };
}

// `config` is YAML text; `listen` defaults to an ephemeral port.
export async function startGateway(config, { env = {} } = {}) {
  const dir = tempDir();
  const file = join(dir, 'costgate.yaml');
  writeFileSync(file, config);
  const proc = startProcess(gatewayBinary, ['--config', file], {
    ready: /listening on (\S+):(\d+)/, stream: 'stderr', env, checked: true,
  });
  const match = await proc.ready;
  const port = Number(match[2]);
  return {
    ...proc,
    port,
    url: `http://127.0.0.1:${port}`,
    configFile: file,
    // The access log: one JSON object per stdout line.
    accessLog() {
      return proc.lines.stdout.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    },
    async stop() {
      try {
        return await proc.stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

// A gateway config with one mock backend and the given models (all routed to it); `prices` maps a
// model to its price as YAML, e.g. {'mock-small': '{input: 2.5, output: 10}'}.
export function gatewayConfig({
  backendUrl, apiKey = 'backend-secret', models = ['mock-small'], filters = [], server = {}, backend = {}, extraBackends = '',
  prices = {},
}) {
  const serverLines = Object.entries({ listen: '127.0.0.1:0', threads: 2, ...server })
    .map(([k, v]) => `  ${k}: ${v}`).join('\n');
  // The mock takes its directives from x-mock-* headers, which only a backend's forward_headers let
  // through.
  const backendLines = Object.entries({
    url: backendUrl, api_key: apiKey, connect_timeout_ms: 1000, read_timeout_ms: 3000, forward_headers: '[defaults, x-mock-*]', ...backend,
  })
    .map(([k, v]) => `    ${k}: ${v}`).join('\n');
  const modelLines = models.map((m) => `  ${m}:\n    backend: mock\n    backend_model: backend-${m}`
    + (prices[m] ? `\n    price: ${prices[m]}` : '')).join('\n');
  const filterLines = filters.length ? `filters:\n${filters.map((f) => `  - ${f}`).join('\n')}\n` : '';
  return `server:\n${serverLines}\nbackends:\n  mock:\n${backendLines}\n${extraBackends}models:\n${modelLines}\n${filterLines}log_level: warn\n`;
}

export async function postJson(url, body, headers = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: response.status, headers: response.headers, text, json };
}

// Asks `client` (the openai SDK) `content` as one user message to mock-small: the answer, and
// what the gateway's cache did with it (x-costgate-cache).
export async function askCached(client, content, headers = {}) {
  const { data, response } = await client.chat.completions
    .create({ model: 'mock-small', messages: [{ role: 'user', content }] }, { headers })
    .withResponse();
  return { data, cache: response.headers.get('x-costgate-cache') };
}

export function assertOpenAIError(result, status, type, code) {
  assert.equal(result.status, status, result.text);
  assert.ok(result.json && result.json.error, `not an OpenAI error: ${result.text}`);
  const { error } = result.json;
  assert.deepEqual(Object.keys(error).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(typeof error.message, 'string');
  assert.ok(error.message.length > 0);
  if (type) assert.equal(error.type, type);
  if (code !== undefined) assert.equal(error.code, code);
}

// Makes a CA and, signed by it, a certificate for localhost/127.0.0.1 (`cert`) and one for
// another name only (`wrongCert`).
export function makeCertificates(dir) {
  const run = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=costgate test CA',
    '-keyout', 'ca.key', '-out', 'ca.pem');
  const issue = (name, san) => {
    run('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\n`);
    run('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2',
      '-extfile', `${name}.ext`, '-out', `${name}.pem`);
    return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
  };
  const good = issue('localhost', 'DNS:localhost,IP:127.0.0.1');
  const wrong = issue('other.example', 'DNS:other.example');
  return { ca: join(dir, 'ca.pem'), cert: good.cert, key: good.key, wrongCert: wrong.cert, wrongKey: wrong.key };
}

// Runs `promtool check metrics` on an exposition; throws if promtool rejects it (lint warnings
// are printed but allowed).
export function checkMetrics(text) {
  const dir = tempDir();
  try {
    writeFileSync(join(dir, 'metrics.txt'), text);
    execFileSync('sh', ['-c', `promtool check metrics < ${join(dir, 'metrics.txt')}`], { stdio: 'pipe' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// A port nothing listens on right now, for servers that cannot be told to pick their own.
export async function freePort() {
  const net = await import('node:net');
  return new Promise((res) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => { const p = probe.address().port; probe.close(() => res(p)); });
  });
}

// A real redis-server on `port` (a free one when not given), without persistence: a test may stop
// it and start another on the same port, as an outage and a recovery.
// With `dir`, it keeps an append-only file there, written before each reply (appendfsync
// always): one killed and started again on the same port and dir has every write it answered.
export async function startRedis(port, { dir } = {}) {
  const listen = port ?? await freePort();
  const persistence = dir
    ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir]
    : ['--appendonly', 'no'];
  const proc = startProcess('redis-server', [
    '--port', String(listen), '--bind', '127.0.0.1', '--save', '', ...persistence,
  ], { ready: /Ready to accept connections/ });
  await proc.ready;
  return { ...proc, port: listen, url: `redis://127.0.0.1:${listen}` };
}

// A real Prometheus server scraping `target` ("host:port") every second; `query(promql)` returns
// the result vector of an instant query through its HTTP API.
export async function startPrometheus(dir, target) {
  const port = await freePort();
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: costgate\n    static_configs:\n      - targets: ['${target}']\n`);
  const proc = startProcess('prometheus', [
    `--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
  ], { ready: /Server is ready to receive web requests/, stream: 'stderr', timeoutMs: 30000 });
  await proc.ready;
  const url = `http://127.0.0.1:${port}`;
  return {
    ...proc,
    url,
    async query(promql) {
      const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
      const body = await response.json();
      if (body.status !== 'success') throw new Error(`query failed: ${JSON.stringify(body)}`);
      return body.data.result;
    },
  };
}

// nginx terminating TLS on an ephemeral port in front of `upstreamPort`.
export async function startTlsTerminator(dir, certs, upstreamPort) {
  const net = await import('node:net');
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, `
worker_processes 1;
error_log ${dir}/nginx-error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${certs.cert};
    ssl_certificate_key ${certs.key};
    location / {
      proxy_pass http://127.0.0.1:${upstreamPort};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
`);
  const child = spawn('nginx', ['-p', dir, '-c', conf, '-g', 'daemon off;'], { stdio: 'ignore' });
  running.add(child);
  child.on('exit', () => running.delete(child));
  // nginx prints nothing when ready: wait until the port accepts connections.
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((res) => {
      const socket = net.connect(port, '127.0.0.1', () => { socket.destroy(); res(true); });
      socket.on('error', () => res(false));
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.on('exit', r));
    },
  };
}

// The gateway's exact USD text ("0.000450", "0.0001256") as integer nano-dollars (a BigInt), and
// back, formatted as the gateway formats money: six to nine decimals.
export function nanosOf(usd) {
  const text = String(usd);
  const [whole, fraction = ''] = text.replace(/^-/, '').split('.');
  const nanos = BigInt(whole) * 1000000000n + BigInt(fraction.padEnd(9, '0').slice(0, 9));
  return text.startsWith('-') ? -nanos : nanos;
}
export function usdText(nanos) {
  const value = BigInt(nanos);
  let fraction = String(value % 1000000000n).padStart(9, '0');
  while (fraction.length > 6 && fraction.endsWith('0')) fraction = fraction.slice(0, -1);
  return `${value / 1000000000n}.${fraction}`;
}

export function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

// What `check` returns once it is truthy, asked every 50 ms; fails the test after `timeoutMs`.
export async function until(what, check, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
