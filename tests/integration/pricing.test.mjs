// Prices of the YAML model table applied to what the backend reports: the cost headers of whole
// answers, in integer nano-dollars.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  startMock, startGateway, gatewayConfig, postJson, gatewayBinary, tempDir, sleep, until, checkMetrics,
  nanosOf, usdText,
} from './harness.mjs';

let mock;
let gateway;

// USD per million tokens, as nano-dollars per million: 0.15 -> 150000000.
const price = { input: 150000000n, cached_input: 75000000n, output: 600000000n };

// The cost the gateway must charge, computed independently: exact, rounded once, halves up.
function expectedCost(usage) {
  const cached = BigInt(usage.prompt_tokens_details?.cached_tokens ?? 0);
  const prompt = BigInt(usage.prompt_tokens);
  const completion = BigInt(usage.completion_tokens ?? 0);
  const scaled = (prompt - cached) * price.input + cached * price.cached_input + completion * price.output;
  return usdText((scaled + 500000n) / 1000000n);
}

before(async () => {
  mock = await startMock();
  const config = gatewayConfig({ backendUrl: `${mock.url}/v1`, models: ['mock-small', 'mock-large'], filters: ['tagging'] })
    .replace('backend_model: backend-mock-small',
      'backend_model: backend-mock-small\n    price:\n      input: 0.15\n      cached_input: 0.075\n      output: 0.6');
  gateway = await startGateway(config);
});
after(async () => {
  await gateway?.stop();
  await mock?.stop();
});

test('a whole answer carries its cost and token counts', async () => {
  const result = await postJson(`${gateway.url}/v1/chat/completions`, {
    model: 'mock-small',
    messages: [{ role: 'user', content: 'a question long enough to cost something '.repeat(20) }],
  });
  assert.equal(result.status, 200, result.text);
  const { usage } = result.json;
  assert.ok(usage.prompt_tokens > 0 && usage.completion_tokens > 0);
  assert.equal(result.headers.get('x-costgate-cost-usd'), expectedCost(usage));
  assert.notEqual(result.headers.get('x-costgate-cost-usd'), '0.000000');
  assert.equal(result.headers.get('x-costgate-tokens-in'), String(usage.prompt_tokens));
  assert.equal(result.headers.get('x-costgate-tokens-out'), String(usage.completion_tokens));
});

test('no cost header for a model without a price, or for an error', async () => {
  const unpriced = await postJson(`${gateway.url}/v1/chat/completions`, {
    model: 'mock-large', messages: [{ role: 'user', content: 'hi' }],
  });
  assert.equal(unpriced.status, 200, unpriced.text);
  assert.equal(unpriced.headers.get('x-costgate-cost-usd'), null);
  assert.equal(unpriced.headers.get('x-costgate-tokens-in'), String(unpriced.json.usage.prompt_tokens));
  const failed = await postJson(`${gateway.url}/v1/chat/completions`, {
    model: 'mock-small', messages: [{ role: 'user', content: 'hi' }],
  }, { 'x-mock-status': '500' });
  assert.equal(failed.status, 500);
  assert.equal(failed.headers.get('x-costgate-cost-usd'), null);
});

// The data lines of an SSE body, and the costgate comment line, if any.
function parseStream(text) {
  const events = text.split('\n\n').filter((e) => e.length > 0);
  const data = events.filter((e) => e.startsWith('data: ')).map((e) => e.slice(6));
  const comment = events.find((e) => e.startsWith(': costgate '));
  const fields = Object.fromEntries((comment ?? '').slice(': costgate '.length).split(' ')
    .filter((f) => f.includes('=')).map((f) => f.split('=')));
  return { data, fields };
}

test('a streamed call costs what the same call unstreamed costs, and its usage chunk stays hidden', async () => {
  const question = { model: 'mock-small', messages: [{ role: 'user', content: 'the same prompt, twice over' }] };
  const whole = await postJson(`${gateway.url}/v1/chat/completions`, question);
  assert.equal(whole.status, 200, whole.text);
  const streamed = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...question, stream: true }),
  });
  const { data, fields } = parseStream(await streamed.text());
  assert.equal(data.at(-1), '[DONE]');
  // The client did not ask for usage: no chunk of the stream carries it.
  assert.ok(data.slice(0, -1).every((d) => JSON.parse(d).usage == null), 'a usage chunk reached the client');
  assert.equal(fields.usage, 'backend');
  assert.equal(fields.cost_usd, whole.headers.get('x-costgate-cost-usd'));
  assert.equal(fields.tokens_in, whole.headers.get('x-costgate-tokens-in'));
  assert.equal(fields.tokens_out, whole.headers.get('x-costgate-tokens-out'));
});

test('a client that asked for usage gets its usage chunk', async () => {
  const streamed = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'mock-small', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }],
    }),
  });
  const { data } = parseStream(await streamed.text());
  const usage = data.slice(0, -1).map((d) => JSON.parse(d)).filter((c) => c.usage);
  assert.equal(usage.length, 1);
  assert.deepEqual(usage[0].choices, []);
});

test('a stream the client leaves mid-way is still charged for what was generated', async () => {
  const controller = new AbortController();
  const response = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': 'leaves-early', 'x-mock-chunks': '50', 'x-mock-chunk-delay-ms': '20' },
    body: JSON.stringify({ model: 'mock-small', stream: true, messages: [{ role: 'user', content: 'a long answer please' }] }),
    signal: controller.signal,
  });
  const reader = response.body.getReader();
  await reader.read();
  await reader.read();
  controller.abort();
  let line;
  for (let i = 0; i < 50 && !line; i += 1) {
    await new Promise((r) => setTimeout(r, 50));
    line = gateway.accessLog().find((l) => l.request_id === 'leaves-early');
  }
  assert.ok(line, 'no access-log line for the stream');
  // The backend never sent its usage: the gateway counted what it relayed.
  assert.equal(line.usage_source, 'estimated');
  assert.ok(line.tokens_in > 0);
  assert.ok(line.tokens_out > 0);
  assert.ok(line.cost_usd > 0, JSON.stringify(line));
});

test('the metrics add up the cost per feature', async () => {
  const costs = { report: 0, digest: 0 };
  for (const [feature, times] of [['report', 3], ['digest', 2]]) {
    for (let i = 0; i < times; i += 1) {
      const result = await postJson(`${gateway.url}/v1/chat/completions`, {
        model: 'mock-small', messages: [{ role: 'user', content: `call ${i} for ${feature}` }],
      }, { 'x-costgate-feature': feature, 'x-costgate-team': 'pricing-test' });
      assert.equal(result.status, 200, result.text);
      costs[feature] += Number(result.headers.get('x-costgate-cost-usd'));
    }
  }
  // A request is counted once its response went out: the last one may still be on its way into
  // the metrics when the client has its answer.
  const costLine = (text, feature) => text.split('\n').find((l) => l.startsWith('costgate_cost_usd_total{')
    && l.includes(`feature="${feature}"`) && l.includes('team="pricing-test"'));
  let text = '';
  for (let attempt = 0; attempt < 20; attempt += 1) {
    text = await (await fetch(`${gateway.url}/metrics`)).text();
    const settled = Object.entries(costs).every(([feature, expected]) => {
      const line = costLine(text, feature);
      return line && Math.abs(Number(line.split(' ').at(-1)) - expected) < 1e-9;
    });
    if (settled) break;
    await sleep(50);
  }
  checkMetrics(text);
  for (const [feature, expected] of Object.entries(costs)) {
    const line = text.split('\n').find((l) => l.startsWith('costgate_cost_usd_total{')
      && l.includes(`feature="${feature}"`) && l.includes('team="pricing-test"'));
    assert.ok(line, `no cost series for ${feature}:\n${text}`);
    assert.ok(Math.abs(Number(line.split(' ').at(-1)) - expected) < 1e-9, `${line} vs ${expected}`);
  }
  assert.match(text, /costgate_tokens_total\{[^}]*feature="report"[^}]*type="output"\} \d+/);
  assert.match(text, /costgate_requests_total\{[^}]*feature="report"[^}]*status="200",team="pricing-test"\} 3/);
  assert.match(text, /costgate_overhead_seconds_count\{route="chat_completions"\} \d+/);
  // Earlier tests in this file streamed: their first text was timed.
  assert.match(text, /costgate_time_to_first_token_seconds_count\{model="mock-small"\} [1-9]/);
});


test('spend since start and costgate report add up what the calls cost', async () => {
  let expected = 0n;
  for (let i = 0; i < 4; i += 1) {
    const result = await postJson(`${gateway.url}/v1/chat/completions`, {
      model: 'mock-small', messages: [{ role: 'user', content: `spend call ${i}` }],
    }, { 'x-costgate-feature': 'spend-test', 'x-costgate-team': 'finance' });
    expected += nanosOf(result.headers.get('x-costgate-cost-usd'));
  }
  // A call is added up once its answer has gone out (the record holds the bytes sent), so the
  // last one may land a moment after the client has read it: on another connection (maybe
  // another worker) this request can come first.
  const spend = await until('the four calls in /costgate/spend', async () => {
    const s = await (await fetch(`${gateway.url}/costgate/spend`)).json();
    return s.groups.find((g) => g.feature === 'spend-test')?.calls === 4 && s;
  }, 2000);
  assert.ok(spend.since > 0);
  const group = spend.groups.find((g) => g.feature === 'spend-test');
  assert.ok(group, JSON.stringify(spend));
  assert.equal(group.team, 'finance');
  assert.equal(group.model, 'mock-small');
  assert.equal(group.calls, 4);
  assert.equal(nanosOf(group.cost_usd), expected);

  // The same from the access log, through the command line.
  await sleep(100);
  const dir = tempDir();
  const log = join(dir, 'access.log');
  writeFileSync(log, gateway.lines.stdout.join('\n'));
  const csv = execFileSync(gatewayBinary, ['report', '--log', log, '--by', 'feature,team', '--format', 'csv'], { encoding: 'utf8' });
  rmSync(dir, { recursive: true, force: true });
  const row = csv.split('\n').find((l) => l.startsWith('spend-test,finance,'));
  assert.ok(row, csv);
  const [, , calls, , , cost] = row.split(',');
  assert.equal(calls, '4');
  assert.equal(nanosOf(cost), expected);
});

test('nano-dollar precision: odd prices add up exactly, and one token at $0.01 per million is charged', async () => {
  const odd = await startGateway(gatewayConfig({
    backendUrl: `${mock.url}/v1`, models: ['mock-small', 'mock-large'], filters: ['tagging'],
    prices: { 'mock-small': '{input: 0.81, output: 1.37}', 'mock-large': '{input: 0.01, output: 0.01}' },
  }));
  try {
    let expected = 0n;
    for (let i = 0; i < 5; i += 1) {
      const result = await postJson(`${odd.url}/v1/chat/completions`, {
        model: 'mock-small', messages: [{ role: 'user', content: 'seven words of prompt for the mock' }],
      }, { 'x-costgate-feature': 'precision' });
      assert.equal(result.status, 200);
      const tokensIn = BigInt(result.headers.get('x-costgate-tokens-in'));
      const tokensOut = BigInt(result.headers.get('x-costgate-tokens-out'));
      // Nano-dollars per million tokens times tokens, rounded once: not a micro-dollar multiple.
      const cost = (tokensIn * 810000000n + tokensOut * 1370000000n + 500000n) / 1000000n;
      assert.equal(result.headers.get('x-costgate-cost-usd'), usdText(cost));
      expected += cost;
    }
    assert.notEqual(expected % 1000n, 0n, 'the calls cost fractions of a micro-dollar');
    const spend = await until('the five calls in /costgate/spend', async () => {
      const s = await (await fetch(`${odd.url}/costgate/spend`)).json();
      return s.groups.find((g) => g.feature === 'precision')?.calls === 5 && s;
    }, 2000);
    assert.equal(nanosOf(spend.groups.find((g) => g.feature === 'precision').cost_usd), expected);

    // One embedding token at $0.01 per million: 10 nano-dollars, not rounded to $0.
    const embedded = await postJson(`${odd.url}/v1/embeddings`, { model: 'mock-large', input: 'one' });
    assert.equal(embedded.status, 200);
    await sleep(100);
    const line = odd.lines.stdout.find((l) => l.includes('"route":"embeddings"'));
    assert.ok(line, 'the embedding call is logged');
    // The line's exact text: JSON.parse would read the number as a double.
    const cost = nanosOf(line.match(/"cost_usd":([0-9.]+)/)[1]);
    assert.equal(cost, BigInt(JSON.parse(line).tokens_in) * 10n);
    assert.ok(cost > 0n);
  } finally {
    await odd.stop();
  }
});
