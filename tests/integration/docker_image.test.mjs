// Builds costgate's image (scripts/build-image.sh: the engine started if needed, the Debian bases
// made locally where no registry provides them) and runs it: the gateway with the mock backend as
// its sidecar (a second container of the same image in the gateway's network namespace, as in a
// pod), a chat completion through it, /metrics, the user it runs as, its health check, and a
// clean stop. Prints the image's size and how long the build took.
// Runs once, in the Release pass: the image is built from the sources, not from the binaries
// under test, so the sanitizer pass would build the same image again. Skipped, saying why, only
// when no container engine can be started.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sanitizers, tempDir, postJson, until } from './harness.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
// The tag scripts/build-image.sh gives by default, which compose.yaml and the Kubernetes example
// name (kubernetes.test.mjs checks they agree).
const imageTag = /^tag=\$\{1:-(\S+)\}$/m.exec(readFileSync(join(root, 'scripts/build-image.sh'), 'utf8'))[1];

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...options });
  assert.ifError(result.error);
  return result;
}
function docker(...args) {
  const result = run('docker', args);
  assert.equal(result.status, 0, `docker ${args.join(' ')}:\n${result.stdout}${result.stderr}`);
  return result.stdout.trim();
}
const lastLines = (text, n) => text.trimEnd().split('\n').slice(-n).join('\n');

// The gateway's config inside the container: the mock on the pod's loopback, the image's data
// directories, and the semantic cache, so that its word vectors must be where the image puts them.
const config = `
server:
  listen: 0.0.0.0:8080
  threads: 1
  drain_timeout_ms: 2000
backends:
  mock:
    url: http://127.0.0.1:8081/v1
    connect_timeout_ms: 2000
    read_timeout_ms: 10000
models:
  mock-small:
    backend: mock
    price: {input: 0.15, cached_input: 0.075, output: 0.60}
tokenizer:
  data_dir: /usr/share/costgate/tokenizer
filters:
  - tagging:
      headers: {feature: x-costgate-feature}
  - semantic_cache:
      policies:
        - name: default
          mode: semantic
          word_vectors: /usr/share/costgate/word-vectors/words-100d.bin
access_log:
  path: "-"
log_level: info
`;

test('the image builds, serves a chat completion from the mock, exports metrics and runs as non-root', async (t) => {
  if (sanitizers) {
    t.skip(`the image is built from the sources: it runs in the Release pass only (this build: ${sanitizers})`);
    return;
  }
  const engine = run('scripts/docker-engine.sh', []);
  if (engine.status === 77) {
    t.skip(`no container engine can start here: ${engine.stderr.trim()}`);
    return;
  }
  assert.equal(engine.status, 0, engine.stderr);

  const started = Date.now();
  const build = run('scripts/build-image.sh', [imageTag]);
  const buildSeconds = (Date.now() - started) / 1000;
  assert.equal(build.status, 0, `scripts/build-image.sh failed:\n${lastLines(build.stdout + build.stderr, 40)}`);
  const steps = (build.stdout.match(/^Step \d+\/\d+ :/gm) ?? []).length;
  const cached = (build.stdout.match(/^ ---> Using cache$/gm) ?? []).length;
  const bytes = Number(docker('image', 'inspect', '-f', '{{.Size}}', imageTag));
  t.diagnostic(`image ${imageTag}: ${(bytes / 1e6).toFixed(1)} MB; built in ${buildSeconds.toFixed(0)} s ` +
    `(${cached} of ${steps} steps from the layer cache)`);
  // The slim base's dpkg exclusions: without them the image more than doubles.
  assert.ok(bytes < 150e6, `the image is ${(bytes / 1e6).toFixed(1)} MB`);
  assert.match(docker('image', 'inspect', '-f', '{{.Config.User}}', imageTag), /^[1-9]\d*(:[1-9]\d*)?$/);

  const dir = tempDir();
  const file = join(dir, 'costgate.yaml');
  writeFileSync(file, config);
  chmodSync(file, 0o644); // read by the image's user
  const name = `costgate-image-test-${process.pid}`;
  const mock = `${name}-mock`;
  t.after(() => {
    run('docker', ['rm', '-f', name, mock]);
    rmSync(dir, { recursive: true, force: true });
  });
  docker('run', '-d', '--name', name, '-p', '127.0.0.1::8080',
    '-v', `${file}:/etc/costgate/costgate.yaml:ro`, imageTag);
  docker('run', '-d', '--name', mock, `--network=container:${name}`, '--entrypoint', 'costgate-mock',
    imageTag, '--listen', '127.0.0.1:8081', '--threads', '1');
  const address = docker('port', name, '8080/tcp').split('\n')[0];
  const url = `http://${address}`;
  const logs = (container) => { const r = run('docker', ['logs', container]); return r.stdout + r.stderr; };
  await until('the mock to listen', () => /listening on/.test(logs(mock)), 15000);
  await until('the gateway to be ready', async () => {
    try { return (await fetch(`${url}/readyz`)).status === 200; } catch { return false; }
  }, 15000);

  const body = { model: 'mock-small', messages: [{ role: 'user', content: 'Say hello from the container.' }] };
  const first = await postJson(`${url}/v1/chat/completions`, body, { 'x-costgate-feature': 'image-test' });
  assert.equal(first.status, 200, first.text);
  assert.equal(typeof first.json.choices[0].message.content, 'string');
  assert.ok(first.json.usage.prompt_tokens > 0, first.text);
  assert.ok(Number(first.headers.get('x-costgate-cost-usd')) > 0, `cost ${first.headers.get('x-costgate-cost-usd')}`);
  const again = await postJson(`${url}/v1/chat/completions`, body, { 'x-costgate-feature': 'image-test' });
  assert.equal(again.status, 200, again.text);
  assert.equal(again.headers.get('x-costgate-cache'), 'hit-exact');

  const metrics = await (await fetch(`${url}/metrics`)).text();
  assert.match(metrics, /^costgate_requests_total\{[^}]*route="chat_completions"[^}]*status="200"[^}]*\} 2$/m);
  assert.match(metrics, /^costgate_cost_usd_total\{[^}]*feature="image-test"[^}]*\} [0-9.e-]+$/m);

  const gatewayLog = logs(name);
  assert.doesNotMatch(gatewayLog, /no word vectors/, 'the word vectors are not where the image says');
  assert.match(gatewayLog, /"feature":"image-test"/, 'no access-log line for the request');
  // PID 1 is costgate itself, under the image's user, with no capability to regain root.
  const status = docker('exec', name, 'cat', '/proc/1/status');
  assert.match(status, /^Name:\s+costgate$/m);
  const uids = /^Uid:\s+(.*)$/m.exec(status)[1].trim().split(/\s+/).map(Number);
  assert.ok(uids.every((uid) => uid !== 0), `Uid: ${uids.join(' ')}`);
  t.diagnostic(`the gateway runs as uid ${uids[0]}`);

  // The image's HEALTHCHECK (bash's /dev/tcp, GET /healthz): its first run comes after 15 s.
  await until('the health check to pass', () =>
    docker('inspect', '-f', '{{.State.Health.Status}}', name) === 'healthy', 40000);

  // docker stop sends SIGTERM: the gateway drains and exits 0.
  docker('stop', '-t', '15', name);
  assert.equal(docker('inspect', '-f', '{{.State.ExitCode}}', name), '0', lastLines(logs(name), 20));
});
