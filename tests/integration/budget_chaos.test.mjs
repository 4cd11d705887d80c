// Money under faults: two gateway replicas on one real redis-server, the mock behind them, and
// concurrent mixed traffic (whole answers, streams, fallbacks to a pricier model, cascades, clients
// that hang up mid-stream) while Redis is killed and started again, frozen and thawed, and one
// replica is drained with a short deadline and started again. Afterwards the spend in Redis must
// equal, to the nano-dollar, what every replica's access log charged, with no hold left; with
// on_ledger_error: closed, a small budget must not be passed by more than one request's worst case.
//
// CHAOS_SECONDS (default 12) sets the length of each run; bench/budget/chaos.sh runs it longer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import {
  startMock, startGateway, startRedis, freePort, tempDir, sleep, until, nanosOf, usdText,
} from './harness.mjs';
import { prng } from './prng.mjs';

const seconds = Number(process.env.CHAOS_SECONDS ?? 12);
let mock;
let dead;

before(async () => { mock = await startMock(); dead = await freePort(); });
after(async () => { await mock?.stop(); });

function config({ redisUrl, onError, journal, budget }) {
  return `server:
  listen: 127.0.0.1:0
  threads: 2
  drain_timeout_ms: 200
backends:
  mock:
    url: ${mock.url}/v1
    forward_headers: [defaults, x-mock-*]  # the mock takes its directives from headers
  dead:
    url: http://127.0.0.1:${dead}/v1
upstream: {attempts: 1}
models:
  mock-small:
    backend: mock
    price: {input: 0.81, output: 1.37}
    fallbacks: [mock-large]
  mock-flaky:
    backend: dead
    price: {input: 0.81, output: 1.37}
    fallbacks: [mock-large]
  mock-large:
    backend: mock
    price: {input: 12.97, output: 21.93}
admin:
  api_key: admin-secret
filters:
  - tagging: {defaults: {feature: support, team: core, env: test}}
  - router:
      policies:
        - name: cascades
          match: {feature: [cascade]}
          tiers: [{name: cascade, models: [mock-small, mock-large]}]
          rules: [{name: all, when: {}, tier: cascade}]
  - budget:
      ledger: "${redisUrl}"
      journal: ${journal}
      on_ledger_error: ${onError}
      assumed_output_tokens: 60
      budgets: [{name: chaos, amount_usd: ${budget}, window: day}]
log_level: error
`;
}

// Every charge of one access-log line, from its exact text (JSON.parse reads numbers as doubles):
// the call's cost_usd and its side calls'.
function lineNanos(text) {
  let sum = 0n;
  for (const match of text.matchAll(/"cost_usd":([0-9.]+)/g)) sum += nanosOf(match[1]);
  return sum;
}
function chargedNanos(gateways) {
  let sum = 0n;
  for (const g of gateways) {
    for (const text of g.lines.stdout) if (text.includes('"route":"chat_completions"')) sum += lineNanos(text);
  }
  return sum;
}

async function ledgerOf(gateway) {
  const answer = await fetch(`${gateway.url}/admin/budgets`, { headers: { authorization: 'Bearer admin-secret' } });
  if (answer.status !== 200) return undefined;
  const [budget] = (await answer.json()).budgets;
  return { spent: nanosOf(budget.spent_usd), reserved: nanosOf(budget.reserved_usd) };
}

async function pendingSettles(gateway) {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  return Number(text.match(/^costgate_budget_pending_settles (\S+)$/m)?.[1] ?? 0);
}

// One request of a random kind; resolves when it is over, whatever happened to it.
async function oneRequest(url, random) {
  const kind = random.pick(['whole', 'whole', 'stream', 'stream', 'fallback', 'cascade', 'hangup']);
  const headers = { 'content-type': 'application/json' };
  const body = { model: 'mock-small', max_tokens: 40, messages: [{ role: 'user', content: `chaos ${random.int(1e9)}` }] };
  if (kind === 'fallback') body.model = 'mock-flaky';
  if (kind === 'cascade') {
    headers['x-costgate-feature'] = 'cascade';
    headers['x-mock-refuse'] = '1';  // a refusal escalates to mock-large
    headers['x-mock-only-model'] = 'mock-small';
  }
  if (kind === 'stream' || kind === 'hangup') {
    body.stream = true;
    headers['x-mock-chunks'] = '8';
    headers['x-mock-chunk-delay-ms'] = '30';
  }
  const abort = new AbortController();
  try {
    const response = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers, body: JSON.stringify(body), signal: abort.signal });
    if (kind === 'hangup' && response.status === 200) {
      const reader = response.body.getReader();
      await reader.read();
      abort.abort();
      return;
    }
    await response.arrayBuffer();
  } catch {
    // A replica drained or a client that hung up: the request is over either way.
  }
}

// Runs `workers` loops of requests against the live replicas until `stop()`.
function traffic(replicas, workers, seed) {
  let running = true;
  const random = prng(seed);
  const loops = Array.from({ length: workers }, async (_, i) => {
    while (running) {
      const live = replicas.filter((r) => r.live);
      if (live.length === 0) { await sleep(20); continue; }
      await oneRequest(live[i % live.length].gateway.url, random);
    }
  });
  return { stop: async () => { running = false; await Promise.all(loops); } };
}

async function chaosRun({ onError, budget }) {
  const dir = tempDir();
  let redis = await startRedis(undefined, { dir });
  const port = redis.port;
  const settings = (name) => ({ redisUrl: redis.url, onError, budget, journal: join(dir, `${name}.journal`) });
  const replicas = [
    { name: 'a', gateway: await startGateway(config(settings('a'))), live: true },
    { name: 'b', gateway: await startGateway(config(settings('b'))), live: true },
  ];
  const finished = [];  // every replica process that ran, for its access log
  const load = traffic(replicas, 8, onError === 'open' ? 7 : 11);
  const step = (seconds * 1000) / 6;
  try {
    await sleep(step);
    redis.child.kill('SIGKILL');  // killed: its AOF has every write it answered
    await redis.exited;
    await sleep(step / 2);
    redis = await startRedis(port, { dir });
    await sleep(step);
    redis.child.kill('SIGSTOP');  // frozen: calls time out
    await sleep(step / 2);
    redis.child.kill('SIGCONT');
    await sleep(step / 2);
    // Replica b drained with streams in flight (200 ms deadline), and started again on its
    // journal.
    replicas[1].live = false;
    const drained = replicas[1].gateway;
    const stopped = await drained.stop();
    assert.equal(stopped.code, 0, 'the drained replica exits 0');
    finished.push(drained);
    replicas[1].gateway = await startGateway(config(settings('b')));
    replicas[1].live = true;
    await sleep(step * 1.5);
  } finally {
    await load.stop();
  }
  try {
    const gateways = replicas.map((r) => r.gateway);
    await until('every replica has sent Redis what it owes', async () => {
      for (const g of gateways) if ((await pendingSettles(g)) !== 0) return false;
      return true;
    }, 15000);
    const ledger = await until('the ledger answers', () => ledgerOf(gateways[0]), 5000);
    const charged = chargedNanos([...finished, ...gateways]);
    const lines = [...finished, ...gateways].flatMap((g) => g.lines.stdout).filter((l) => l.includes('"route":"chat_completions"'));
    return { ledger, charged, lines };
  } finally {
    for (const r of replicas) await r.gateway.stop();
    redis.child.kill('SIGCONT');
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('fail-open under Redis kills, freezes and a drain: Redis holds every charge once, no hold left', async () => {
  const { ledger, charged, lines } = await chaosRun({ onError: 'open', budget: 1000 });
  const served = lines.filter((l) => l.includes('"status":200')).length;
  assert.ok(served > 50, `${served} answers served`);
  assert.ok(lines.some((l) => l.includes('"budget_ledger":"unavailable"')), 'some requests saw the ledger down');
  assert.equal(usdText(ledger.spent), usdText(charged), 'spent in Redis = the access logs\' charges');
  assert.equal(ledger.reserved, 0n, 'no hold left');
});

test('fail-closed under the same faults: a small budget is passed by at most one worst case', async () => {
  // The dearest request: 40 output tokens (its cap) and a short prompt at mock-large's prices,
  // which a fallback or a cascade may reach, plus mock-small's share for a cascade.
  const worst = nanosOf('0.0025');
  const budget = '0.05';
  const { ledger, charged, lines } = await chaosRun({ onError: 'closed', budget });
  assert.ok(lines.some((l) => l.includes('"status":429')), 'the budget ran out');
  assert.equal(usdText(ledger.spent), usdText(charged), 'spent in Redis = the access logs\' charges');
  assert.equal(ledger.reserved, 0n, 'no hold left');
  assert.ok(charged <= nanosOf(budget) + worst, `charged ${usdText(charged)} of a $${budget} budget`);
});
