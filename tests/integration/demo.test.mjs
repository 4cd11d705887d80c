// `costgate demo` against the default configuration (config/costgate.yaml, what scripts/run.sh
// serves) on the mock: it finishes in about a minute, and every figure of its table agrees with
// what the gateway's /metrics counted over the same replay.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMock, startGateway, gatewayBinary } from './harness.mjs';
import { scrape } from '../../scripts/demo.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

let mock;
let gateway;
after(async () => {
  await gateway?.stop();
  await mock?.stop();
});

function runDemo(args) {
  return new Promise((resolvePromise) => {
    const child = spawn(gatewayBinary, ['demo', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (data) => { stdout += data; });
    child.stderr.on('data', (data) => { stderr += data; });
    child.on('close', (status) => resolvePromise({ status, stdout, stderr }));
  });
}

// "$1.2345" as nano-dollars, and whether it is `nanos` to the decimals printed.
const tableNanos = (text) => {
  const [whole, fraction = ''] = text.replace('$', '').split('.');
  return BigInt(whole) * 1000000000n + BigInt(fraction.padEnd(9, '0'));
};
const printedAs = (text, nanos) => {
  const decimals = text.split('.')[1].length;
  const half = 10n ** BigInt(9 - decimals) / 2n;
  const difference = tableNanos(text) - nanos;
  return difference <= half && difference >= -half;
};

test('costgate demo prints a table whose figures are the gateway\'s, in about a minute', { timeout: 180_000 }, async () => {
  mock = await startMock();
  const config = readFileSync(join(root, 'config/costgate.yaml'), 'utf8').replace('log_level: info', 'log_level: warn');
  gateway = await startGateway(config, {
    env: { COSTGATE_LISTEN: '127.0.0.1:0', COSTGATE_MOCK_ADDRESS: `127.0.0.1:${mock.port}`, OPENAI_API_KEY: '' },
  });
  const before = await scrape(gateway.url);
  const started = Date.now();
  const result = await runDemo(['--url', gateway.url]);
  const seconds = (Date.now() - started) / 1000;
  assert.equal(result.status, 0, result.stderr + result.stdout);
  const after = await scrape(gateway.url);
  const delta = Object.fromEntries(Object.keys(after).map((key) => [key, after[key] - before[key]]));
  const out = result.stdout;
  process.stdout.write(`# ${out.split('\n').join('\n# ')}\n# ${seconds.toFixed(1)} s\n`);
  assert.ok(seconds < 90, `the demo took ${seconds} s`);

  const requests = /costgate demo: (\d+) requests/.exec(out);
  assert.equal(Number(requests[1]), 240);
  const cost = /direct (\$[\d.]+) +through costgate (\$[\d.]+): saved (\$[\d.]+) \(([\d.]+)%\)/.exec(out);
  assert.ok(cost, out);
  // What the gateway was charged is what /metrics counted.
  assert.ok(printedAs(cost[2], delta.cost), `${cost[2]} vs ${delta.cost} nano-dollars`);
  assert.ok(delta.cost > 0n);
  const direct = tableNanos(cost[1]);
  assert.ok(direct > tableNanos(cost[2]), 'the gateway costs less than calling the requested models directly');
  // saved = direct - through, each rounded once for the table: within one unit of its last decimal.
  const unit = 10n ** BigInt(9 - cost[3].split('.')[1].length);
  const off = tableNanos(cost[3]) - (direct - delta.cost);
  assert.ok(off <= unit && off >= -unit, cost[0]);

  const cache = /cache +(\d+) hits +(\d+) exact, (\d+) semantic, (\d+) misses; answers worth (\$[\d.]+)/.exec(out);
  assert.ok(cache, out);
  assert.equal(Number(cache[2]), delta.cache_exact);
  assert.equal(Number(cache[3]), delta.cache_semantic);
  assert.equal(Number(cache[1]), delta.cache_exact + delta.cache_semantic);
  assert.equal(Number(cache[4]), delta.cache_miss);
  assert.ok(printedAs(cache[5], delta.cache_saved), `${cache[5]} vs ${delta.cache_saved} nano-dollars`);
  assert.ok(Number(cache[1]) > 0, 'the workload repeats questions: the cache answers some');

  const routing = /routing +(\d+) escalations +(\d+) requests for mock-large tried mock-small first/.exec(out);
  assert.ok(routing, out);
  assert.equal(Number(routing[1]), delta.escalations);
  assert.equal(Number(routing[2]), delta.cascaded);
  assert.ok(delta.escalations > 0 && delta.escalations < delta.cascaded, 'hard questions escalate, easy ones stay cheap');

  const pruning = /pruning +(\d+) tokens pruned/.exec(out);
  assert.equal(Number(pruning[1]), delta.tokens_pruned);
  // Pruning acts on coding turns; when the replay's minute windows let the budget refuse them
  // (27 of 67 in one CI run), none may have reached the pruner.
  assert.ok(delta.tokens_pruned > 0 || delta.budget_refused > 10, 'coding turns repeat messages: some are pruned');

  const budget = /budget +(\d+) warned +(\d+) degraded to mock-small, (\d+) refused/.exec(out);
  assert.ok(budget, out);
  assert.equal(Number(budget[2]), delta.budget_degraded);
  assert.equal(Number(budget[3]), delta.budget_refused);
  // Which steps a replay reaches depends on where the budget's minute windows fall: it always
  // spends past the warning, and past the degrade step or into a refusal.
  assert.ok(Number(budget[1]) > 0, 'the demo budget warns within the replay');
  assert.ok(delta.budget_degraded + delta.budget_refused > 0, 'the demo budget degrades or refuses within the replay');

  assert.match(out, new RegExp(`Dashboard: ${gateway.url}/dashboard`));
  assert.doesNotMatch(out, /failed/);
});
