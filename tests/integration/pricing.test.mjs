// Prices of the YAML model table applied to what the backend reports: the cost headers of whole
// answers, in integer micro-dollars.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMock, startGateway, gatewayConfig, postJson } from './harness.mjs';

let mock;
let gateway;

// USD per million tokens, as micro-dollars per million: 0.15 -> 150000.
const price = { input: 150000n, cached_input: 75000n, output: 600000n };

// The cost the gateway must charge, computed independently: exact, rounded once, halves up.
function expectedCost(usage) {
  const cached = BigInt(usage.prompt_tokens_details?.cached_tokens ?? 0);
  const prompt = BigInt(usage.prompt_tokens);
  const completion = BigInt(usage.completion_tokens ?? 0);
  const scaled = (prompt - cached) * price.input + cached * price.cached_input + completion * price.output;
  const micros = (scaled + 500000n) / 1000000n;
  return `${micros / 1000000n}.${String(micros % 1000000n).padStart(6, '0')}`;
}

before(async () => {
  mock = await startMock();
  const config = gatewayConfig({ backendUrl: `${mock.url}/v1`, models: ['mock-small', 'mock-large'] })
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
