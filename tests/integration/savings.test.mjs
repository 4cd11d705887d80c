// The savings harness (bench/savings/) on a small trace: what must hold whatever the gateway's
// configuration (bench/savings/costgate.yaml) does. The figures themselves (cost ratio, wrong
// answers, caching, latency) are the benchmark's to report, not this test's to assert.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { startMock, startGateway, tempDir } from './harness.mjs';
import { generateTrace, tableKey, answerToken } from '../../bench/savings/trace.mjs';
import { configPath, runPasses } from '../../bench/savings/run.mjs';

let dir;
let mock;
let gateway;
let trace;

before(async () => {
  dir = tempDir();
  trace = generateTrace({ requests: 150, seed: 11 });
  writeFileSync(join(dir, 'table.json'), JSON.stringify(trace.table));
  mock = await startMock(['--threads', '2', '--savings-table', join(dir, 'table.json'), '--time-scale', '0.01']);
  gateway = await startGateway(readFileSync(configPath, 'utf8'), { env: { SAVINGS_MOCK_URL: `${mock.url}/v1` } });
});

after(async () => {
  await gateway?.stop();
  await mock?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the trace has the three features, about a quarter hard, no difficulty in the text', () => {
  const requests = trace.conversations.flatMap((c) => c.turns.map((t) => ({ feature: c.feature, ...t })));
  assert.equal(requests.length, 150);
  const features = new Set(requests.map((r) => r.feature));
  assert.deepEqual([...features].sort(), ['coding', 'support', 'triage']);
  const hard = requests.filter((r) => trace.table.entries[tableKey(r.user)].hard).length;
  assert.ok(hard > 150 * 0.1 && hard < 150 * 0.45, `${hard} hard requests`);
  for (const r of requests) assert.doesNotMatch(r.user, /\bhard\b|\[hard\]|difficult/i);
  // The same seed makes the same trace.
  assert.deepEqual(generateTrace({ requests: 150, seed: 11 }).table, trace.table);
});

test('both passes complete; the bill adds up; the strong model is always right', { timeout: 60_000 }, async () => {
  const { direct, through, summary } = await runPasses({
    mockUrl: mock.url, gatewayUrl: gateway.url, trace, table: trace.table,
    accessLog: () => gateway.lines.stdout.filter((l) => l.startsWith('{')),
  });
  assert.equal(direct.length, 150);
  assert.equal(through.length, 150);
  for (const r of [...direct, ...through]) {
    assert.equal(r.status, 200, `${r.conversation}/${r.turn}: ${r.error}`);
    assert.match(r.content, /ref-[0-9a-f]{12}/, `${r.conversation}/${r.turn} got an answer`);
  }
  // Direct, everything goes to mock-large, which is always right.
  assert.deepEqual(direct.filter((r) => r.verdict !== 'right'), []);
  const all = summary.features.all;
  assert.equal(all.directRight, 150);
  assert.equal(all.missingLogLines, 0);
  // What the access log charged from the backends' usage is what the provider billed, to the
  // nano-dollar (every token price here is a whole number of nano-dollars, so no rounding can
  // differ); a stream the gateway cut reports no usage, and its own count of it (the prompt at
  // the uncached price, the tokens received) is what remains.
  if (all.estimatedThrough === 0n) {
    assert.equal(all.costThrough, summary.bills.through.nanos);
  } else {
    assert.ok(all.costThrough - all.estimatedThrough < summary.bills.through.nanos);
    assert.ok(all.costThrough >= summary.bills.through.nanos - all.estimatedThrough / 2n);
  }
  assert.equal(all.costDirect, summary.bills.direct.nanos);
  assert.ok(summary.bills.direct.nanos > 0n);
  // The mock's bill for the direct pass is all mock-large, one call a request.
  assert.equal(summary.bills.direct.calls, 150);
  // The report prints every target line.
  const text = summary.lines.join('\n');
  for (const target of ['(target >= 3x)', '(target >= 2x)', '(target <= 1%)', '(target <= 5%)',
    '(target costgate >= direct)', '(target <= 1.3x)', '(target 0)']) {
    assert.ok(text.includes(target), `missing ${target} in\n${text}`);
  }
  // A wrong answer is scored wrong: the harness is not blind.
  const wrongOne = through.find((r) => r.verdict === 'wrong');
  if (wrongOne) assert.ok(wrongOne.content.includes(answerToken(wrongOne.id, false)));
});

test('the mock bills a cancelled stream its prompt and the tokens it emitted', async () => {
  const slow = await startMock(['--savings-table', join(dir, 'table.json'), '--time-scale', '1']);
  try {
    const conversation = trace.conversations.find((c) => c.feature === 'coding');
    const entry = trace.table.entries[tableKey(conversation.turns[0].user)];
    const controller = new AbortController();
    const response = await fetch(`${slow.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'mock-large', stream: true, prompt_cache_key: 'ignored',
        messages: [{ role: 'user', content: conversation.turns[0].user }],
      }),
      signal: controller.signal,
    });
    const reader = response.body.getReader();
    let text = '';
    while (!text.includes('"content":"Answer')) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    // The mock notices at its next event (12 ms a token for the strong model).
    let bill;
    for (let i = 0; i < 50; ++i) {
      const stats = await (await fetch(`${slow.url}/mock/stats`)).json();
      bill = stats.models['mock-large'];
      if (stats.streams_cancelled === 1) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(bill.calls, 1);
    assert.ok(bill.prompt_tokens > 500, `prompt ${bill.prompt_tokens}`);
    assert.ok(bill.completion_tokens >= 3 && bill.completion_tokens < entry.answer_tokens / 2,
      `billed ${bill.completion_tokens} of ${entry.answer_tokens} tokens`);
    const reset = await fetch(`${slow.url}/mock/stats/reset`, { method: 'POST' });
    assert.equal(reset.status, 200);
    assert.deepEqual((await (await fetch(`${slow.url}/mock/stats`)).json()).models, {});
  } finally {
    await slow.stop();
  }
});

test('the harness measures the cookbook\'s recommended filters', () => {
  // The filters before the budget (budgets are a team's own), with the harness's model names.
  const filtersOf = (text) => text.slice(text.indexOf('\nfilters:\n'), text.indexOf('\n  - budget:'));
  const cookbook = readFileSync(new URL('../../docs/cookbook.md', import.meta.url), 'utf8');
  const block = cookbook.slice(cookbook.indexOf('```yaml\n'), cookbook.indexOf('\n```', cookbook.indexOf('```yaml\n')));
  const recommended = filtersOf(block).replaceAll('gpt-4o-mini', 'mock-small').replaceAll('gpt-4o', 'mock-large');
  const measured = filtersOf(readFileSync(configPath, 'utf8'));
  assert.ok(recommended.length > 100);
  assert.equal(measured, recommended);
});
