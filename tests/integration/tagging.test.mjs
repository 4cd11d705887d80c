// Who pays: gateway API keys (required here), their tags, and allow-listed metric labels.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import {
  startMock, startGateway, gatewayConfig, postJson, assertOpenAIError, sleep,
} from './harness.mjs';

let mock;
let gateway;
const chat = { model: 'mock-small', messages: [{ role: 'user', content: 'who pays for this?' }] };

before(async () => {
  mock = await startMock();
  const tagging = 'tagging: {api_keys: {require: true, keys: [{key: sk-gw-search, feature: search, team: growth}]},'
    + ' allow: {env: [prod]}}';
  gateway = await startGateway(gatewayConfig({ backendUrl: `${mock.url}/v1`, filters: [tagging] }));
});
after(async () => {
  await gateway?.stop();
  await mock?.stop();
});

test('a missing or unknown gateway key is a 401 in OpenAI shape, and the SDK says so', async () => {
  const missing = await postJson(`${gateway.url}/v1/chat/completions`, chat);
  assertOpenAIError(missing, 401, 'invalid_request_error', 'missing_api_key');
  const wrong = await postJson(`${gateway.url}/v1/chat/completions`, chat, { authorization: 'Bearer sk-not-a-key' });
  assertOpenAIError(wrong, 401, 'invalid_request_error', 'invalid_api_key');
  assert.ok(!wrong.text.includes('sk-not-a-key'), 'the key was echoed');
  const client = new OpenAI({ apiKey: 'sk-not-a-key', baseURL: `${gateway.url}/v1`, maxRetries: 0 });
  await assert.rejects(client.chat.completions.create(chat), OpenAI.AuthenticationError);
});

test('a known key tags the call, beating headers and locking the tags it does not name; labels outside the allow-list are other', async () => {
  const result = await postJson(`${gateway.url}/v1/chat/completions`, chat, {
    authorization: 'Bearer sk-gw-search', 'x-costgate-feature': 'ignored', 'x-costgate-env': 'dev',
    'x-request-id': 'tagged-by-key', 'x-mock-echo-headers': '1',
  });
  assert.equal(result.status, 200, result.text);
  // The backend got its own key, never the client's (its echo comes back with the key redacted).
  assert.equal(result.json.mock_received_headers.authorization, 'Bearer [redacted]');
  let line;
  for (let i = 0; i < 20 && !line; i += 1) {
    await sleep(50);
    line = gateway.accessLog().find((l) => l.request_id === 'tagged-by-key');
  }
  assert.ok(line, 'no access-log line');
  assert.equal(line.feature, 'search');
  assert.equal(line.team, 'growth');
  // The key names no env and leaves none to its holder: the default, not the header's.
  assert.equal(line.env, 'unknown');  // raw in the log...
  const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
  // ...but "other" as a label: env is allow-listed to prod.
  assert.match(metrics, /costgate_tokens_total\{env="other",feature="search",model="mock-small",team="growth",type="input"\} \d+/);
});
