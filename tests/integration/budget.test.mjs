// The budget breaker end to end: thresholds (warn, degrade, open) on the memory ledger, rate
// limits, the admin endpoint, streamed calls settled at their real cost, and, on a real
// redis-server shared by two gateway processes, a small budget under hundreds of concurrent
// requests, and Redis killed and restarted under both failure modes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { startMock, startGateway, startRedis, postJson, assertOpenAIError, sleep, freePort, until, tempDir } from './harness.mjs';

let mock;

before(async () => { mock = await startMock(); });
after(async () => { await mock?.stop(); });

// mock-small: $1/$2 per million tokens (the mock counts a word a token: a reply of 40 words costs
// 80 micro-dollars of output); mock-large 10x that.
function config({ ledger = 'memory', onError = 'open', budgets = '[]', rates = '[]', admin = 'admin-secret', journal = '' } = {}) {
  return `server:
  listen: 127.0.0.1:0
  threads: 2
backends:
  mock:
    url: ${mock.url}/v1
    forward_headers: [defaults, x-mock-*]  # the mock takes its directives from headers
models:
  mock-small:
    backend: mock
    price: {input: 1, output: 2}
  mock-large:
    backend: mock
    price: {input: 10, output: 20}
admin:
  api_key: ${admin}
filters:
  - tagging: {defaults: {feature: support, team: core, env: test}}
  - budget:
      ledger: "${ledger}"${journal ? `\n      journal: ${journal}` : ''}
      on_ledger_error: ${onError}
      assumed_output_tokens: 100
      budgets: ${budgets}
      rate_limits: ${rates}
log_level: warn
`;
}

const chat = (gateway, body = {}, headers = {}) => postJson(`${gateway.url}/v1/chat/completions`,
  { model: 'mock-large', messages: [{ role: 'user', content: 'Hello there, how are you today?' }], max_tokens: 50, ...body }, headers);

test('thresholds warn, then degrade to a cheaper model, then refuse with 429 until the window resets', async () => {
  const budgets = `[{name: support-day, match: {feature: [support]}, amount_usd: 0.01, window: day,
      time_zone: Europe/Paris, thresholds: [{at: 0.3, action: warn}, {at: 0.6, action: degrade}, {at: 1.0, action: open}],
      degrade: {model: mock-small, max_output_tokens: 20}}]`;
  const gateway = await startGateway(config({ budgets }));
  try {
    const seen = [];
    let refused;
    for (let i = 0; i < 200 && !refused; i += 1) {
      const answer = await chat(gateway);
      if (answer.status === 429) { refused = answer; break; }
      assert.equal(answer.status, 200, answer.text);
      seen.push({
        model: answer.headers.get('x-costgate-model'),
        warning: answer.headers.get('x-costgate-budget-warning'),
        degraded: answer.headers.get('x-costgate-budget-degraded'),
      });
    }
    assert.ok(refused, 'the budget runs out');
    assertOpenAIError(refused, 429, 'rate_limit_error', 'budget_exceeded');
    const retryAfter = Number(refused.headers.get('retry-after'));
    assert.ok(retryAfter > 0 && retryAfter <= 25 * 3600, `Retry-After ${retryAfter} s: until Paris midnight`);
    assert.equal(seen[0].model, 'mock-large');
    assert.ok(seen.some((s) => s.warning === 'support-day' && s.model === 'mock-large'), 'warned first');
    assert.ok(seen.some((s) => s.degraded === 'support-day' && s.model === 'mock-small'), 'then degraded');

    // The admin view: spent never over the limit by more than one request's worst case.
    const denied = await fetch(`${gateway.url}/admin/budgets`);
    assert.equal(denied.status, 401);
    const wrong = await fetch(`${gateway.url}/admin/budgets`, { headers: { authorization: 'Bearer nope-nope-no' } });
    assert.equal(wrong.status, 401);
    const admin = await (await fetch(`${gateway.url}/admin/budgets`, { headers: { authorization: 'Bearer admin-secret' } })).json();
    const [budget] = admin.budgets;
    assert.equal(budget.name, 'support-day');
    assert.equal(budget.limit_usd, '0.010000');
    // Refused because the next request's worst case no longer fits: the spend itself is past the
    // degrade threshold, and open once it reaches the amount.
    assert.ok(['degrade', 'open'].includes(budget.state), budget.state);
    assert.ok(Number(budget.spent_usd) <= 0.01, budget.spent_usd);
    assert.equal(budget.reserved_usd, '0.000000', 'every reservation settled');

    await sleep(50);  // a request is counted once its response went out
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    assert.match(metrics, /costgate_budget_limit_usd\{budget="support-day"\} 0\.01/);
    assert.match(metrics, /costgate_budget_state\{budget="support-day"\} [23]/);
    assert.match(metrics, /costgate_budget_rejections_total\{budget="support-day"\} 1/);
    assert.match(metrics, /costgate_budget_degradations_total\{budget="support-day"\} [1-9]/);
    // The spend the ledger settled is what the calls were charged.
    await sleep(50);
    const charged = gateway.accessLog().reduce((sum, l) => sum + (l.cost_usd ?? 0), 0);
    assert.ok(Math.abs(charged - Number(budget.spent_usd)) < 1e-9, `${charged} vs ${budget.spent_usd}`);
  } finally {
    await gateway.stop();
  }
});

test('a reservation covers the dearer fallback: concurrent requests that fail over stay within the budget', async () => {
  // mock-cheap's only backend refuses connections, so every call fails over to mock-dear, 16x the
  // price. Reserving only mock-cheap's worst case let all 16 through at 3x the budget.
  const dead = await freePort();
  const gateway = await startGateway(`server:
  listen: 127.0.0.1:0
  threads: 2
backends:
  mock:
    url: ${mock.url}/v1
    forward_headers: [defaults, x-mock-*]  # the mock takes its directives from headers
  dead:
    url: http://127.0.0.1:${dead}/v1
upstream: {attempts: 1}
models:
  mock-cheap:
    backend: dead
    price: {input: 1, output: 2}
    fallbacks: [mock-dear]
  mock-dear:
    backend: mock
    price: {input: 16, output: 32}
admin:
  api_key: admin-secret
filters:
  - tagging: {defaults: {feature: support, team: core, env: test}}
  - budget:
      budgets: [{name: core-day, match: {team: [core]}, amount_usd: 0.004, window: day}]
log_level: warn
`);
  try {
    const answers = await Promise.all(Array.from({ length: 16 }, () => chat(gateway, { model: 'mock-cheap', max_tokens: 40 })));
    const served = answers.filter((a) => a.status === 200);
    for (const answer of answers.filter((a) => a.status !== 200)) {
      assertOpenAIError(answer, 429, 'rate_limit_error', 'budget_exceeded');
    }
    assert.ok(served.length >= 1, 'what fits is served');
    assert.ok(served.every((a) => a.headers.get('x-costgate-model') === 'mock-dear'), 'by the fallback');
    const admin = await (await fetch(`${gateway.url}/admin/budgets`, { headers: { authorization: 'Bearer admin-secret' } })).json();
    const [budget] = admin.budgets;
    assert.ok(Number(budget.spent_usd) > 0);
    assert.ok(Number(budget.spent_usd) <= 0.004, `spent ${budget.spent_usd} of a $0.004 budget`);
    assert.equal(Number(budget.reserved_usd), 0, 'every hold settled');
    // What the ledger holds is what the access log charged.
    await until('every answer logged', () => gateway.accessLog().filter((l) => l.route === 'chat_completions').length === 16);
    const charged = gateway.accessLog().reduce((sum, line) => sum + Math.round(Number(line.cost_usd ?? 0) * 1e6), 0);
    assert.equal(charged, Math.round(Number(budget.spent_usd) * 1e6));
  } finally {
    await gateway.stop();
  }
});

test('rate limits: requests per minute, in the same 429 shape', async () => {
  const rates = '[{name: support-rpm, match: {feature: [support]}, requests_per_minute: 3}]';
  const gateway = await startGateway(config({ rates }));
  try {
    for (let i = 0; i < 3; i += 1) assert.equal((await chat(gateway)).status, 200);
    const limited = await chat(gateway);
    assertOpenAIError(limited, 429, 'rate_limit_error', 'rate_limit_exceeded');
    assert.ok(Number(limited.headers.get('retry-after')) <= 61);
    assert.equal((await chat(gateway, {}, { 'x-costgate-feature': 'other' })).status, 200, 'another scope is not limited');
    await sleep(50);
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    assert.match(metrics, /costgate_rate_limited_total\{limit="support-rpm"\} 1/);
  } finally {
    await gateway.stop();
  }
});

test('a streamed call settles at what it cost, through the OpenAI SDK', async () => {
  const budgets = '[{name: stream-day, amount_usd: 1, window: day}]';
  const gateway = await startGateway(config({ budgets }));
  try {
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'k', maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: 'mock-large', stream: true, max_tokens: 30, messages: [{ role: 'user', content: 'Stream please' }],
    });
    for await (const chunk of stream) void chunk;
    await sleep(100);
    const admin = await (await fetch(`${gateway.url}/admin/budgets`, { headers: { 'x-costgate-admin-key': 'admin-secret' } })).json();
    const line = gateway.accessLog().find((l) => l.stream === true);
    assert.ok(line.cost_usd > 0);
    assert.equal(Number(admin.budgets[0].spent_usd), line.cost_usd);
    assert.equal(admin.budgets[0].reserved_usd, '0.000000');
  } finally {
    await gateway.stop();
  }
});

test('a stream the client cuts short settles what it was charged for the text it got', async () => {
  const budgets = '[{name: cut-day, amount_usd: 1, window: day}]';
  const gateway = await startGateway(config({ budgets }));
  try {
    const controller = new AbortController();
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-mock-chunk-delay-ms': '100', 'x-mock-chunks': '20' },
      body: JSON.stringify({ model: 'mock-large', stream: true, max_tokens: 400, messages: [{ role: 'user', content: 'Long story' }] }),
      signal: controller.signal,
    });
    const reader = response.body.getReader();
    await reader.read();
    await reader.read();
    controller.abort();
    await sleep(600);
    const line = gateway.accessLog().find((l) => l.stream === true);
    assert.ok(line && line.cost_usd > 0, JSON.stringify(line));
    const admin = await (await fetch(`${gateway.url}/admin/budgets`, { headers: { 'x-costgate-admin-key': 'admin-secret' } })).json();
    assert.equal(Number(admin.budgets[0].spent_usd), line.cost_usd, 'settled at what was charged');
    assert.equal(admin.budgets[0].reserved_usd, '0.000000');
  } finally {
    await gateway.stop();
  }
});

test('two gateways on one Redis hold a small budget under hundreds of concurrent requests', async () => {
  const redis = await startRedis();
  const budgets = '[{name: shared, amount_usd: 0.02, window: month, time_zone: America/New_York}]';
  const gateways = [await startGateway(config({ ledger: redis.url, budgets })), await startGateway(config({ ledger: redis.url, budgets }))];
  try {
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => chat(gateways[i % 2])));
    const statuses = results.map((r) => r.status);
    assert.ok(statuses.every((s) => s === 200 || s === 429), `statuses: ${[...new Set(statuses)]}`);
    const served = statuses.filter((s) => s === 200).length;
    assert.ok(served > 0 && served < 300, `${served} served`);
    for (const refused of results.filter((r) => r.status === 429)) assertOpenAIError(refused, 429, 'rate_limit_error', 'budget_exceeded');
    // Each replica's spend reaches Redis when it returns its lease, within about a second.
    await until('both replicas returned their leases', async () => {
      for (const g of gateways) if ((await pendingSettles(g)) !== 0) return false;
      return true;
    }, 5000);
    const charged = gateways.flatMap((g) => g.accessLog()).reduce((sum, l) => sum + (l.cost_usd ?? 0), 0);
    // One request's worst case: 10 input-ish tokens at $10/M + 50 output at $20/M, about $0.0011.
    assert.ok(charged <= 0.02 + 0.0012, `settled ${charged} against a $0.02 budget`);
    const served200 = gateways.flatMap((g) => g.accessLog()).filter((l) => l.status === 200 && l.route === 'chat_completions');
    assert.equal(served200.length, served, 'every served request is charged in the log');
    assert.ok(served200.every((l) => l.cost_usd > 0));
    const admin = await (await fetch(`${gateways[1].url}/admin/budgets`, { headers: { authorization: 'Bearer admin-secret' } })).json();
    assert.ok(Math.abs(Number(admin.budgets[0].spent_usd) - charged) < 1e-9, `${admin.budgets[0].spent_usd} vs ${charged}`);
  } finally {
    for (const g of gateways) await g.stop();
    await redis.stop();
  }
});

test('Redis killed and restarted: fail-open serves from a local ledger, fail-closed refuses with 503', async () => {
  const redis = await startRedis();
  const budgets = '[{name: outage, amount_usd: 5, window: hour}]';
  const open = await startGateway(config({ ledger: redis.url, onError: 'open', budgets }));
  const closed = await startGateway(config({ ledger: redis.url, onError: 'closed', budgets }));
  try {
    assert.equal((await chat(open)).status, 200);
    assert.equal((await chat(closed)).status, 200);
    await redis.stop();
    // A replica serves from the lease it holds (its money is held in Redis) until the lease is
    // returned, about a second; after that, fail-open serves from a local ledger and fail-closed
    // refuses.
    assert.equal((await chat(open)).status, 200, 'served from the lease already held');
    assert.equal((await chat(closed)).status, 200, 'served from the lease already held');
    await sleep(1500);
    assert.equal((await chat(open)).status, 200, 'fail-open keeps serving');
    const refused = await chat(closed);
    assertOpenAIError(refused, 503, 'api_error', 'budget_unavailable');
    await sleep(50);
    const metrics = await (await fetch(`${open.url}/metrics`)).text();
    assert.match(metrics, /costgate_budget_ledger_errors_total [1-9]/);
    await sleep(50);
    assert.ok(open.accessLog().some((l) => l.budget_ledger === 'unavailable'), 'logged');
    const back = await startRedis(redis.port);
    try {
      let status = 0;
      for (let i = 0; i < 40 && status !== 200; i += 1) { status = (await chat(closed)).status; if (status !== 200) await sleep(100); }
      assert.equal(status, 200, 'fail-closed resumes once Redis is back');
      assert.equal((await chat(open)).status, 200);
    } finally {
      await back.stop();
    }
  } finally {
    await open.stop();
    await closed.stop();
  }
});

// Micro-dollars charged in these access-log lines, by the feature that paid.
function chargedBy(lines, feature) {
  return lines.filter((l) => l.route === 'chat_completions' && l.feature === feature)
    .reduce((sum, l) => sum + Math.round(Number(l.cost_usd ?? 0) * 1e6), 0);
}

// Settles owed to Redis and leases not yet returned to it.
async function pendingSettles(gateway) {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  return Number(text.match(/^costgate_budget_pending_settles (\S+)$/m)?.[1] ?? 0);
}

async function budgetsOf(gateway) {
  const admin = await (await fetch(`${gateway.url}/admin/budgets`, { headers: { authorization: 'Bearer admin-secret' } })).json();
  return Object.fromEntries(admin.budgets.map((b) => [b.name, {
    spent: Math.round(Number(b.spent_usd) * 1e6), reserved: Math.round(Number(b.reserved_usd) * 1e6),
  }]));
}

test('an outage loses no charge: a used-up budget stays used up, and a replica\'s own spend lands in Redis', async () => {
  const redis = await startRedis();
  const dir = tempDir();
  const journal = join(dir, 'budget.journal');
  const budgets = `[{name: small, match: {feature: [small]}, amount_usd: 0.003, window: day},
      {name: big, match: {feature: [big]}, amount_usd: 1, window: day}]`;
  const settings = { ledger: redis.url, onError: 'open', budgets, journal };
  const small = { 'x-costgate-feature': 'small' };
  const big = { 'x-costgate-feature': 'big' };
  let first = await startGateway(config(settings));
  let second;
  try {
    // Redis up: "small" is used up, "big" spends a little.
    let refused = false;
    for (let i = 0; i < 20 && !refused; i += 1) refused = (await chat(first, {}, small)).status === 429;
    assert.ok(refused, 'small is used up');
    for (let i = 0; i < 2; i += 1) assert.equal((await chat(first, {}, big)).status, 200);

    // Redis frozen: once the leases held in it have aged out (a second), the local ledger stands
    // in, starting from what Redis last said, not from zero.
    redis.child.kill('SIGSTOP');
    await sleep(1500);
    for (let i = 0; i < 3; i += 1) {
      assertOpenAIError(await chat(first, {}, small), 429, 'rate_limit_error', 'budget_exceeded');
    }
    for (let i = 0; i < 3; i += 1) assert.equal((await chat(first, {}, big)).status, 200, 'big still has room');
    redis.child.kill('SIGCONT');
    await until('what was spent during the outage is written to Redis', async () => {
      const metrics = await (await fetch(`${first.url}/metrics`)).text();
      const reconciled = Number(metrics.match(/^costgate_budget_reconciled_usd_total (\S+)$/m)?.[1] ?? 0);
      return /^costgate_budget_pending_settles 0$/m.test(metrics) && reconciled > 0;
    }, 10000);
    let state = await budgetsOf(first);
    assert.equal(state.big.spent, chargedBy(first.accessLog(), 'big'), 'Redis has every charge of big, once');
    assert.equal(state.small.spent, chargedBy(first.accessLog(), 'small'));
    assert.equal(state.big.reserved, 0, 'no hold left');
    const metrics = await (await fetch(`${first.url}/metrics`)).text();
    assert.match(metrics, /^costgate_budget_settles_failed_total [1-9]/m);
    assert.match(metrics, /^costgate_budget_settles_retried_total [1-9]/m);

    // Frozen again, and the gateway stopped before Redis is back: the journal keeps what it owed,
    // and the next start writes it.
    redis.child.kill('SIGSTOP');
    for (let i = 0; i < 2; i += 1) assert.equal((await chat(first, {}, big)).status, 200);
    await first.stop();
    const logged = first.accessLog();
    first = undefined;
    second = await startGateway(config(settings));
    redis.child.kill('SIGCONT');
    await until('the journal\'s charges land', async () => (await budgetsOf(second)).big?.spent === chargedBy(logged, 'big'), 10000);
    state = await budgetsOf(second);
    assert.equal(state.big.reserved, 0, 'no hold left');
  } finally {
    redis.child.kill('SIGCONT');
    await first?.stop();
    await second?.stop();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a stream cut by the drain deadline is logged, charged for what it relayed and settled', async () => {
  const redis = await startRedis();
  const budgets = '[{name: drained, amount_usd: 1, window: day}]';
  const withDrain = (text) => text.replace('  threads: 2\n', '  threads: 2\n  drain_timeout_ms: 300\n');
  const gateway = await startGateway(withDrain(config({ ledger: redis.url, budgets })));
  let witness;
  try {
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-mock-chunks': '50', 'x-mock-chunk-delay-ms': '100' },
      body: JSON.stringify({ model: 'mock-large', stream: true, max_tokens: 50, messages: [{ role: 'user', content: 'Hello there' }] }),
    });
    assert.equal(response.status, 200);
    const reader = response.body.getReader();
    let text = '';
    while (!text.includes('"content"')) text += new TextDecoder().decode((await reader.read()).value);
    const stopping = gateway.stop();  // SIGTERM: 300 ms to drain, then the stream is cut
    const cut = await (async () => {
      try { for (;;) { const { done } = await reader.read(); if (done) return true; } } catch { return true; }
    })();
    assert.ok(cut, 'the stream ends');
    const result = await stopping;
    assert.equal(result.code, 0);
    const [line] = gateway.accessLog().filter((l) => l.route === 'chat_completions');
    assert.ok(line, 'the cut stream has its access-log line');
    assert.equal(line.stream, true);
    assert.equal(line.error, 'client disconnected');
    assert.ok(Number(line.cost_usd) > 0, `charged for what it relayed: ${line.cost_usd}`);
    // Settled in Redis before the process exited: spent is that charge, and nothing is held.
    witness = await startGateway(config({ ledger: redis.url, budgets }));
    const state = (await budgetsOf(witness)).drained;
    assert.equal(state.spent, Math.round(Number(line.cost_usd) * 1e6));
    assert.equal(state.reserved, 0, 'no hold left');
  } finally {
    await witness?.stop();
    await redis.stop();
  }
});
