// The built-in price table (src/pricing/price_table.cpp, docs/costs.md): models priced without a
// `price:` block, a block overriding the table key by key, the table's date in /v1/models, and the
// load-time warnings for a model without a price or without cached_input.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMock, startGateway, postJson, gatewayBinary, nanosOf, usdText } from './harness.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
// The date docs/costs.md gives: the one the gateway must report.
const documentedDate = /\*\*Table date: (\d{4}-\d{2}-\d{2})\.\*\*/.exec(readFileSync(join(root, 'docs/costs.md'), 'utf8'))?.[1];

// Line numbers matter: the warnings point at the models' keys, lines 9 (unpriced) and 12 (half-priced).
const config = (mockUrl) => `server:
  listen: 127.0.0.1:0
  threads: 1
backends:
  mock:
    url: ${mockUrl}/v1
models:
  # unpriced: warned about
  mystery-model:
    backend: mock
  # priced without cached_input: warned about
  half-priced:
    backend: mock
    price: {input: 1, output: 2}
  gpt-4o:
    backend: mock
    backend_model: gpt-4o-2024-08-06
  claude-sonnet-4-5:
    backend: mock
    price: {input: 2.0}
  text-embedding-3-small:
    backend: mock
log_level: warn
`;

let mock;
let gateway;
before(async () => {
  mock = await startMock();
  gateway = await startGateway(config(mock.url));
});
after(async () => {
  await gateway?.stop();
  await mock?.stop();
});

const modelInfo = async (id) => (await fetch(`${gateway.url}/v1/models/${id}`)).json();

test('the table is dated, and /v1/models says the date the docs give', async () => {
  assert.match(documentedDate ?? '', /^\d{4}-\d{2}-\d{2}$/, 'docs/costs.md gives the table date');
  const list = await (await fetch(`${gateway.url}/v1/models`)).json();
  assert.equal(list.object, 'list');
  assert.equal(list.costgate_price_table, documentedDate);
  assert.ok(list.data.some((m) => m.id === 'gpt-4o'));
  assert.equal((await modelInfo('gpt-4o')).costgate_price_table, documentedDate);
});

test('a listed model (a dated snapshot of one) is priced by the table; a price block overrides it key by key', async () => {
  assert.deepEqual((await modelInfo('gpt-4o')).costgate_price, { input: '2.500000', cached_input: '1.250000', output: '10.000000' });
  assert.deepEqual((await modelInfo('claude-sonnet-4-5')).costgate_price, { input: '2.000000', cached_input: '0.300000', output: '15.000000' });
  assert.equal((await modelInfo('mystery-model')).costgate_price, null);
  // The call is charged at the table's price, from the usage the backend reported.
  const result = await postJson(`${gateway.url}/v1/chat/completions`, { model: 'gpt-4o', messages: [{ role: 'user', content: 'price me' }] });
  assert.equal(result.status, 200, result.text);
  const { prompt_tokens: input, completion_tokens: output } = result.json.usage;
  const expected = (BigInt(input) * 2500000000n + BigInt(output) * 10000000000n + 500000n) / 1000000n;
  assert.ok(expected > 0n);
  assert.equal(result.headers.get('x-costgate-cost-usd'), usdText(expected));
  assert.equal(nanosOf(result.headers.get('x-costgate-cost-usd')), expected);
});

test('an unpriced model and a price without cached_input are warnings at file:line:column, not errors', async () => {
  const check = spawnSync(gatewayBinary, ['--check-config', gateway.configFile], { encoding: 'utf8' });
  assert.equal(check.status, 0, check.stderr);
  assert.match(check.stdout, /OK \(5 models/);
  const warnings = check.stderr.trim().split('\n');
  assert.equal(warnings.length, 2, check.stderr);
  assert.ok(warnings.some((w) => w.startsWith(`${gateway.configFile}:12:3: warning: models.half-priced: priced without cached_input`)), check.stderr);
  assert.ok(warnings.some((w) => w.startsWith(`${gateway.configFile}:9:3: warning: models.mystery-model: no price`)), check.stderr);
  assert.ok(warnings.every((w) => !/gpt-4o|claude|embedding/.test(w)), 'listed models and embeddings are not warned about');
  // The serving gateway logged the same warnings at start.
  for (const warning of warnings) {
    assert.ok(gateway.lines.stderr.some((line) => line.includes(warning)), `not in the log: ${warning}`);
  }
});
