// A real Prometheus server scrapes the gateway; PromQL gives back the cost per feature that the
// test's own traffic produced.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import {
  startMock, startGateway, startPrometheus, gatewayConfig, postJson, sleep, tempDir,
} from './harness.mjs';

let dir;
let mock;
let gateway;
let prometheus;

before(async () => {
  dir = tempDir();
  mock = await startMock();
  const config = gatewayConfig({ backendUrl: `${mock.url}/v1`, filters: ['tagging'] })
    .replace('backend_model: backend-mock-small',
      'backend_model: backend-mock-small\n    price:\n      input: 2.5\n      output: 10');
  gateway = await startGateway(config);
  prometheus = await startPrometheus(dir, `127.0.0.1:${gateway.port}`);
});
after(async () => {
  await prometheus?.stop();
  await gateway?.stop();
  await mock?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('PromQL returns the cost per feature of the traffic sent', async () => {
  const expected = { summaries: 0, translate: 0 };
  for (const [feature, calls] of [['summaries', 4], ['translate', 2]]) {
    for (let i = 0; i < calls; i += 1) {
      const result = await postJson(`${gateway.url}/v1/chat/completions`, {
        model: 'mock-small', messages: [{ role: 'user', content: `${feature} request number ${i}` }],
      }, { 'x-costgate-feature': feature, 'x-costgate-team': 'prom-test' });
      assert.equal(result.status, 200, result.text);
      expected[feature] += Number(result.headers.get('x-costgate-cost-usd'));
    }
  }
  assert.ok(expected.summaries > 0 && expected.translate > 0);

  const promql = 'sum by (feature) (costgate_cost_usd_total{team="prom-test"})';
  let got = {};
  for (let attempt = 0; attempt < 60; attempt += 1) {
    const result = await prometheus.query(promql);
    got = Object.fromEntries(result.map((series) => [series.metric.feature, Number(series.value[1])]));
    const settled = Object.entries(expected).every(([f, v]) => Math.abs((got[f] ?? -1) - v) < 1e-9);
    if (settled) break;
    await sleep(500);
  }
  for (const [feature, cost] of Object.entries(expected)) {
    assert.ok(Math.abs((got[feature] ?? -1) - cost) < 1e-9, `${feature}: Prometheus has ${got[feature]}, the calls cost ${cost}`);
  }
});
