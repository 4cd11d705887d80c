// Checks deploy/kubernetes/ against what it refers to: the manifests parse, the costgate
// container runs the image scripts/build-image.sh makes, the ConfigMap's configuration loads
// (costgate --check-config) with what the pod gives it, the ports, the Redis Service and the
// probes' paths are the ones the gateway serves, the grace period covers the drain, and the
// ConfigMap's directory mount reaches the gateway's live reload: the test builds the directory as
// the kubelet does (the ..data link), swaps it, and sees the running gateway reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync, mkdirSync, symlinkSync, renameSync, rmSync } from 'node:fs';
import { join, resolve, dirname, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parse } from 'yaml';
import { gatewayBinary, startProcess, startRedis, tempDir, until } from './harness.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const deployDir = join(root, 'deploy/kubernetes');
const read = (path) => readFileSync(join(root, path), 'utf8');

// Every document of every manifest, parsed strictly (a duplicate key or a bad indent fails).
function manifests() {
  return readdirSync(deployDir).filter((name) => name.endsWith('.yaml') && name !== 'kustomization.yaml')
    .flatMap((name) => parseAllDocuments(readFileSync(join(deployDir, name), 'utf8'), { uniqueKeys: true })
      .map((document) => {
        assert.deepEqual(document.errors, [], `${name}: ${document.errors.join('; ')}`);
        return { file: name, ...document.toJS() };
      }));
}
const resources = manifests();
const find = (kind, name) => {
  const found = resources.find((r) => r.kind === kind && r.metadata?.name === name);
  assert.ok(found, `no ${kind} ${name} in deploy/kubernetes`);
  return found;
};
const app = find('Deployment', 'example-app');
const pod = app.spec.template;
const containerNamed = (name) => pod.spec.containers.find((c) => c.name === name);
const costgate = containerNamed('costgate');
const configMap = find('ConfigMap', 'costgate-config');
const configText = configMap.data['costgate.yaml'];
const config = parse(configText);
// ${VAR:-default} -> default; the value the pod runs with when it does not set VAR.
const defaultOf = (value) => /^\$\{[A-Z_]+:-(.*)\}$/.exec(value)?.[1] ?? value;
const portOf = (address) => Number(/:(\d+)$/.exec(address)[1]);

test('the manifests parse and kustomization.yaml lists every one', () => {
  const kustomization = parse(readFileSync(join(deployDir, 'kustomization.yaml'), 'utf8'));
  const files = readdirSync(deployDir).filter((name) => name.endsWith('.yaml') && name !== 'kustomization.yaml');
  assert.deepEqual([...kustomization.resources].sort(), files.sort());
  for (const resource of resources) {
    assert.ok(resource.apiVersion && resource.kind && resource.metadata?.name, `${resource.file}: not a resource`);
  }
  assert.deepEqual(resources.map((r) => `${r.kind}/${r.metadata.name}`).sort(), [
    'ConfigMap/costgate-config', 'ConfigMap/example-app', 'Deployment/costgate-redis', 'Deployment/example-app',
    'Service/costgate-redis',
  ]);
  for (const deployment of resources.filter((r) => r.kind === 'Deployment')) {
    assert.deepEqual(deployment.spec.selector.matchLabels, deployment.spec.template.metadata.labels);
  }
});

test('costgate is a sidecar of the application, running the image the build makes', () => {
  assert.deepEqual(pod.spec.containers.map((c) => c.name), ['app', 'costgate']);
  assert.ok(app.spec.replicas >= 2, 'replicas share Redis: the example runs more than one');
  const tag = /^tag=\$\{1:-(\S+)\}$/m.exec(read('scripts/build-image.sh'))[1];
  assert.equal(costgate.image, tag);
  assert.match(read('docker/compose.yaml'), new RegExp(`image: ${tag.replace(/[.:]/g, '\\$&')}\\n`));
  assert.equal(costgate.imagePullPolicy, 'IfNotPresent');
  const baseUrl = containerNamed('app').env.find((e) => e.name === 'OPENAI_BASE_URL').value;
  assert.equal(baseUrl, `http://localhost:${costgate.ports[0].containerPort}/v1`);
  // The example app is docker/example-app, file for file.
  const appFiles = find('ConfigMap', 'example-app').data;
  for (const file of ['index.mjs', 'package.json']) {
    assert.equal(appFiles[file], read(`docker/example-app/${file}`), `example-app ConfigMap's ${file}`);
  }
  // runAsNonRoot needs a numeric user in the image to check.
  assert.equal(pod.spec.securityContext.runAsNonRoot, true);
  assert.match(read('docker/Dockerfile'), /^USER [1-9]\d*(:[1-9]\d*)?$/m);
});

test('costgate --check-config accepts the ConfigMap, with only the environment the pod sets', () => {
  const dir = tempDir();
  try {
    const file = join(dir, 'costgate.yaml');
    writeFileSync(file, configText);
    // Every ${VAR} without a default must come from the container's env.
    const required = [...configText.matchAll(/\$\{([A-Z_]+)\}/g)].map((m) => m[1]);
    const given = costgate.env.map((e) => e.name);
    for (const name of required) assert.ok(given.includes(name), `${name} is not in the costgate container's env`);
    const env = {
      ...Object.fromEntries(given.map((name) => [name, `k8s-test-${name}`])),
      // The image's directories, here the repository's copies.
      COSTGATE_TOKENIZER_DIR: join(root, 'data/tokenizer'),
      COSTGATE_WORD_VECTORS: join(root, 'data/word-vectors/words-100d.bin'),
      COSTGATE_BUDGET_JOURNAL: join(dir, 'budget.journal'),
    };
    const result = spawnSync(gatewayBinary, ['--check-config', file], { env: { ...process.env, ...env }, encoding: 'utf8' });
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /OK/);
    assert.doesNotMatch(result.stderr, /no word vectors/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the ports, Redis, the probes and the scrape annotations agree with the configuration', () => {
  const port = portOf(defaultOf(config.server.listen));
  assert.deepEqual(costgate.ports, [{ name: 'http', containerPort: port }]);
  for (const probe of [costgate.readinessProbe, costgate.livenessProbe]) assert.equal(probe.httpGet.port, 'http');
  assert.equal(costgate.readinessProbe.httpGet.path, '/readyz');
  assert.equal(costgate.livenessProbe.httpGet.path, '/healthz');
  const annotations = pod.metadata.annotations;
  assert.equal(annotations['prometheus.io/scrape'], 'true');
  assert.equal(Number(annotations['prometheus.io/port']), port);
  assert.equal(annotations['prometheus.io/path'], '/metrics');

  // The cache's store and the budget ledger are the Redis Service, on the port its pods serve.
  const service = find('Service', 'costgate-redis');
  const redis = find('Deployment', 'costgate-redis').spec.template.spec.containers[0];
  const [servicePort] = service.spec.ports;
  const redisPort = redis.ports.find((p) => p.name === servicePort.targetPort || p.containerPort === servicePort.targetPort);
  assert.ok(redisPort, `the Service's targetPort ${servicePort.targetPort} is not a port of the Redis container`);
  assert.deepEqual(service.spec.selector, find('Deployment', 'costgate-redis').spec.template.metadata.labels);
  const filters = Object.assign({}, ...config.filters);
  const urls = [defaultOf(filters.budget.ledger), ...filters.semantic_cache.policies.map((p) => defaultOf(p.store))];
  for (const url of urls) assert.equal(url, `redis://${service.metadata.name}:${servicePort.port}`);

  // The grace period covers the preStop pause, the drain and the 2 s settling after it.
  const preStop = costgate.lifecycle.preStop.exec.command;
  assert.equal(preStop[0], 'sleep');
  const needed = Number(preStop[1]) + config.server.drain_timeout_ms / 1000 + 2;
  assert.ok(pod.spec.terminationGracePeriodSeconds > needed,
    `terminationGracePeriodSeconds ${pod.spec.terminationGracePeriodSeconds} <= ${needed}`);
  // The budget journal is on the pod's writable volume (the root filesystem is read-only).
  const journalDir = dirname(defaultOf(filters.budget.journal));
  assert.ok(costgate.volumeMounts.some((m) => m.mountPath === journalDir && !m.readOnly), journalDir);
  assert.equal(costgate.securityContext.readOnlyRootFilesystem, true);
});

test('the ConfigMap is mounted as a directory, so the gateway reloads when the kubelet swaps ..data', async (t) => {
  // --config names the ConfigMap's key inside its mount, which is the whole directory.
  const configPath = costgate.args[costgate.args.indexOf('--config') + 1];
  const mount = costgate.volumeMounts.find((m) => m.mountPath === dirname(configPath));
  assert.ok(mount, `no volume mounted at ${dirname(configPath)}`);
  assert.equal(mount.subPath, undefined, 'a subPath mount never sees the ConfigMap change');
  const volume = pod.spec.volumes.find((v) => v.name === mount.name);
  assert.equal(volume.configMap.name, configMap.metadata.name);
  assert.ok(basename(configPath) in configMap.data);

  // The directory as the kubelet's atomic writer lays it out: the key is a link through ..data
  // to a timestamped directory; an update writes a new one and renames a new ..data over the old.
  const dir = tempDir();
  const redis = await startRedis();
  t.after(async () => {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const version = (name, text) => {
    mkdirSync(join(dir, name));
    writeFileSync(join(dir, name, basename(configPath)), text);
    symlinkSync(name, join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  };
  version('..2026_01_01_00_00_00.000000001', configText);
  symlinkSync(join('..data', basename(configPath)), join(dir, basename(configPath)));
  const env = {
    COSTGATE_LISTEN: '127.0.0.1:0',
    COSTGATE_ADMIN_KEY: 'k8s-test-admin-key',
    COSTGATE_REDIS_URL: `redis://127.0.0.1:${redis.port}`,
    COSTGATE_TOKENIZER_DIR: join(root, 'data/tokenizer'),
    COSTGATE_WORD_VECTORS: join(root, 'data/word-vectors/words-100d.bin'),
    COSTGATE_BUDGET_JOURNAL: join(dir, 'budget.journal'),
    OPENAI_API_KEY: 'sk-k8s-test',
  };
  const gateway = startProcess(gatewayBinary, ['--config', join(dir, basename(configPath))], {
    ready: /listening on (\S+):(\d+)/, stream: 'stderr', env, checked: true,
  });
  t.after(() => gateway.stop());
  const url = `http://127.0.0.1:${(await gateway.ready)[2]}`;
  // The probes' and the scrape's paths are served.
  for (const path of [costgate.readinessProbe.httpGet.path, costgate.livenessProbe.httpGet.path,
    pod.metadata.annotations['prometheus.io/path']]) {
    assert.equal((await fetch(`${url}${path}`)).status, 200, path);
  }
  const reloads = async () => Number(/^costgate_config_reloads_total\{result="applied"\} (\d+)$/m
    .exec(await (await fetch(`${url}/metrics`)).text())?.[1] ?? 0);
  const before = await reloads();
  // A ConfigMap edit: another budget amount, written the kubelet's way.
  version('..2026_01_01_00_01_00.000000002', configText.replace('amount_usd: 100', 'amount_usd: 250'));
  await until('the gateway to reload the swapped ConfigMap', async () => (await reloads()) > before, 10000);
  const { budgets } = await (await fetch(`${url}/admin/budgets`,
    { headers: { authorization: `Bearer ${env.COSTGATE_ADMIN_KEY}` } })).json();
  assert.equal(Number(budgets.find((b) => b.name === 'all-daily').limit_usd), 250);
});
