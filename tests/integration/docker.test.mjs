// Checks docker/: the sidecar config loads (costgate --check-config), promtool accepts the
// Prometheus config, the Grafana dashboard only queries metric families docs/metrics.md
// documents and has the panels operations need, and the compose file and Dockerfile have what
// the image and the stack rely on. No Docker engine is needed (docker_image.test.mjs builds and
// runs the image).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gatewayBinary } from './harness.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const dockerDir = join(root, 'docker');
const read = (path) => readFileSync(join(root, path), 'utf8');

function run(command, args, env = {}) {
  const result = spawnSync(command, args, { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8' });
  assert.ifError(result.error);
  return result;
}

// Every panel's targets, rows' nested panels included.
function targetsOf(panels) {
  return panels.flatMap((panel) => [
    ...(panel.targets ?? []).map((target) => ({ panel: panel.title, expr: target.expr })),
    ...targetsOf(panel.panels ?? []),
  ]);
}

test('promtool accepts docker/prometheus.yml, which scrapes costgate:8080/metrics every 15 s', () => {
  const result = run('promtool', ['check', 'config', join(dockerDir, 'prometheus.yml')]);
  assert.equal(result.status, 0, result.stdout + result.stderr);
  const text = read('docker/prometheus.yml');
  assert.match(text, /targets:\s*\[\s*'costgate:8080'\s*\]/);
  assert.match(text, /metrics_path:\s*\/metrics/);
  assert.match(text, /scrape_interval:\s*15s/);
});

test('the dashboard only queries metric families docs/metrics.md documents', () => {
  const documented = new Set(read('docs/metrics.md').match(/costgate_[a-z_]+/g));
  const dashboard = JSON.parse(read('docker/grafana/dashboards/costgate.json'));
  const targets = targetsOf(dashboard.panels);
  assert.ok(targets.length >= 10, `${targets.length} targets`);
  for (const { panel, expr } of targets) {
    assert.equal(typeof expr, 'string', `panel "${panel}" has a target without expr`);
    const names = expr.match(/costgate_[a-z_]+/g) ?? [];
    assert.ok(names.length > 0, `panel "${panel}": no costgate metric in ${expr}`);
    for (const name of names) {
      const family = name.replace(/_(bucket|sum|count)$/, '');
      assert.ok(documented.has(name) || documented.has(family),
        `panel "${panel}": ${name} is not in docs/metrics.md (${expr})`);
    }
  }
});

test('the dashboard has the required panels, on the provisioned Prometheus datasource', () => {
  const dashboard = JSON.parse(read('docker/grafana/dashboards/costgate.json'));
  assert.equal(dashboard.schemaVersion, 39);
  const datasource = read('docker/grafana/provisioning/datasources/prometheus.yaml');
  const uid = datasource.match(/^\s*uid:\s*(\S+)/m)[1];
  const panels = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
  for (const panel of panels.filter((p) => p.type !== 'row')) {
    assert.equal(panel.datasource?.uid, uid, `panel "${panel.title}"`);
    for (const target of panel.targets) assert.equal(target.datasource?.uid, uid, `panel "${panel.title}"`);
  }
  const byTitle = new Map(panels.map((panel) => [panel.title, panel]));
  const required = {
    'Spend by feature': /sum by \(feature\) \(rate\(costgate_cost_usd_total\[5m\]\)\)/,
    'Spend by team': /sum by \(team\) \(rate\(costgate_cost_usd_total\[5m\]\)\)/,
    'Spend by env': /sum by \(env\) \(rate\(costgate_cost_usd_total\[5m\]\)\)/,
    'Tokens per call': /costgate_tokens_total[\s\S]*\/[\s\S]*costgate_requests_total/,
    'Cache hit rate': /costgate_cache_requests_total/,
    'Money saved by the cache': /costgate_cache_saved_usd_total/,
    'Escalation rate': /costgate_escalations_total/,
    'Budget use against limits': /costgate_budget_spent_usd \/ costgate_budget_limit_usd/,
    'Request rate': /costgate_requests_total/,
    Errors: /costgate_requests_total\{status!~"2.."\}/,
    'Gateway overhead percentiles': /histogram_quantile\(0\.99, [^]*costgate_overhead_seconds_bucket/,
    'Upstream latency percentiles': /histogram_quantile\(0\.99, [^]*costgate_upstream_duration_seconds_bucket/,
  };
  for (const [title, pattern] of Object.entries(required)) {
    const panel = byTitle.get(title);
    assert.ok(panel, `no panel titled "${title}"`);
    assert.ok(panel.targets.some((target) => pattern.test(target.expr)), `panel "${title}": no expr matches ${pattern}`);
  }
  const provider = read('docker/grafana/provisioning/dashboards/costgate.yaml');
  assert.match(provider, /path:\s*\/var\/lib\/grafana\/dashboards/);
});

test('costgate --check-config accepts docker/costgate.yaml', () => {
  const env = {
    OPENAI_API_KEY: 'sk-docker-test',
    COSTGATE_ADMIN_KEY: 'docker-test-admin-key',
    // The image's /usr/share/costgate/tokenizer is not on this machine: the repository's copy.
    COSTGATE_TOKENIZER_DIR: join(root, 'data/tokenizer'),
    COSTGATE_WORD_VECTORS: join(root, 'data/word-vectors/words-100d.bin'),
  };
  const result = run(gatewayBinary, ['--check-config', join(dockerDir, 'costgate.yaml')], env);
  assert.equal(result.status, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /OK/);
  const text = read('docker/costgate.yaml');
  assert.match(text, /listen: \$\{COSTGATE_LISTEN:-0\.0\.0\.0:8080\}/);
  assert.match(text, /data_dir: \$\{COSTGATE_TOKENIZER_DIR:-\/usr\/share\/costgate\/tokenizer\}/);
  assert.match(text, /word_vectors: \$\{COSTGATE_WORD_VECTORS:-\/usr\/share\/costgate\/word-vectors\/words-100d\.bin\}/);
  assert.match(text, /store: \$\{COSTGATE_REDIS_URL:-redis:\/\/redis:6379\}/);
  assert.match(text, /ledger: \$\{COSTGATE_REDIS_URL:-redis:\/\/redis:6379\}/);
  assert.match(text, /api_key: \$\{COSTGATE_ADMIN_KEY\}/);
  // Without the admin key the config is refused rather than serving an open admin API.
  // (an undefined value leaves the variable out of the child's environment)
  const refused = run(gatewayBinary, ['--check-config', join(dockerDir, 'costgate.yaml')],
    { ...env, COSTGATE_ADMIN_KEY: undefined });
  assert.equal(refused.status, 1, refused.stdout + refused.stderr);
  assert.match(refused.stdout + refused.stderr, /costgate\.yaml:\d+:\d+: environment variable COSTGATE_ADMIN_KEY is not set/);
});

test('compose.yaml runs the five services, costgate as the app\'s sidecar', () => {
  const text = read('docker/compose.yaml');
  const services = text.slice(text.indexOf('\nservices:')).match(/^ {2}([a-z]+):$/gm).map((line) => line.trim().slice(0, -1));
  assert.deepEqual(services, ['app', 'costgate', 'redis', 'prometheus', 'grafana']);
  assert.match(text, /network_mode: "service:costgate"/);
  assert.match(text, /OPENAI_BASE_URL: http:\/\/localhost:8080\/v1/);
  assert.match(text, /context: \.\.\n\s+dockerfile: docker\/Dockerfile/);
  assert.match(text, /- \.\/costgate\.yaml:\/etc\/costgate\/costgate\.yaml:ro/);
  assert.match(text, /image: redis:7/);
  assert.match(text, /image: prom\/prometheus/);
  assert.match(text, /- \.\/prometheus\.yml:\/etc\/prometheus\/prometheus\.yml:ro/);
  assert.match(text, /image: grafana\/grafana/);
  assert.match(text, /- \.\/grafana\/provisioning\/datasources:\/etc\/grafana\/provisioning\/datasources:ro/);
  assert.match(text, /- \.\/grafana\/provisioning\/dashboards:\/etc\/grafana\/provisioning\/dashboards:ro/);
  assert.match(text, /- \.\/grafana\/dashboards:\/var\/lib\/grafana\/dashboards:ro/);
  const header = text.split('\n').slice(0, 15);
  assert.ok(header.every((line) => line.startsWith('#')), 'a 15-line comment header explains how to run it');
});

test('the Dockerfile builds with the set-up scripts, only what it ships, and runs as a non-root user with a health check', () => {
  const text = read('docker/Dockerfile');
  // BuildKit would fetch a "syntax" frontend from a registry (docker_image.test.mjs builds it
  // where none is reachable).
  assert.doesNotMatch(text, /^# *syntax=/m);
  const instructions = text.split('\n').filter((line) => !line.startsWith('#'));
  const body = instructions.join('\n');
  assert.match(body, /^FROM debian:12 AS build$/m);
  assert.match(body, /^FROM debian:12-slim$/m);
  // Packages and data in a layer of their own, before the sources, so an edit does not redo them.
  const setup = body.search(/^RUN scripts\/setup\.sh$/m);
  const sources = body.search(/^COPY \. \.$/m);
  const build = body.search(/^RUN .*scripts\/build\.sh/m);
  assert.ok(setup !== -1 && sources !== -1 && build !== -1 && setup < sources && sources < build,
    'RUN scripts/setup.sh, then COPY . ., then RUN ... scripts/build.sh');
  assert.match(body, /COSTGATE_TARGETS="costgate costgate-mock" scripts\/build\.sh -DCOSTGATE_TESTS=OFF/);
  // The build stage leaves installing and building to the scripts.
  const buildStage = body.slice(0, body.indexOf('FROM debian:12-slim'));
  assert.doesNotMatch(buildStage, /apt-get|cmake|ninja/);
  const users = [...body.matchAll(/^USER\s+(\S+)/gm)].map((match) => match[1]);
  assert.ok(users.length > 0, 'no USER');
  // Numeric, for Kubernetes' runAsNonRoot; the same uid useradd gives the costgate user.
  const user = users.at(-1);
  assert.match(user, /^[1-9]\d*:[1-9]\d*$/, `USER ${user}`);
  assert.match(body, new RegExp(`useradd --system --uid ${user.split(':')[0]} .*costgate`));
  assert.match(body, /^HEALTHCHECK .*\n?.*\/healthz/m);
  assert.match(body, /^EXPOSE 8080$/m);
  assert.match(body, /\/etc\/costgate\/costgate\.yaml/);
  assert.match(body, /apt-get install -y -q --no-install-recommends/);
  for (const path of ['build/costgate ', 'build/costgate-mock', 'data/tokenizer/', 'config/']) assert.ok(body.includes(path), path);
});

test('the root .dockerignore lets in only what the image builds from', () => {
  // The legacy builder reads only the context's root .dockerignore.
  assert.throws(() => read('docker/Dockerfile.dockerignore'), { code: 'ENOENT' });
  const lines = read('.dockerignore').split('\n').filter((line) => line && !line.startsWith('#'));
  const instructions = read('docker/Dockerfile').split('\n').filter((line) => !line.startsWith('#')).join('\n');
  assert.equal(lines[0], '*', 'an allow-list: everything out, then what the build needs');
  const allowed = lines.filter((line) => line.startsWith('!')).map((line) => line.slice(1).replace(/\/$/, ''));
  for (const path of ['CMakeLists.txt', 'cmake', 'src', 'include', 'bench', 'config', 'docker/costgate.yaml',
    // the scripts its instructions run
    ...[...instructions.matchAll(/scripts\/[a-z-]+\.(?:sh|mjs)/g)].map((match) => match[0])]) {
    assert.ok(allowed.includes(path), `${path} is not in the build context`);
  }
  for (const path of ['tests', 'docs', 'data', 'build', '.git']) assert.ok(!allowed.includes(path), path);
  // Every COPY from the context names something let in.
  const copies = [...read('docker/Dockerfile').matchAll(/^COPY (?!--from)(\S+)/gm)].map((match) => match[1].replace(/\/$/, ''));
  for (const source of copies.filter((source) => source !== '.')) {
    assert.ok(allowed.some((path) => source === path || source.startsWith(`${path}/`)), `COPY ${source}`);
  }
});
