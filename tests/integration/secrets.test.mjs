// Secrets and access end to end: the backend's API key never reaches a client, the access log,
// the operational log or the metrics, whatever the backend answers; gateway keys given by their
// SHA-256 work; one tenant's key can neither read another's cache entries nor spend its budget,
// whatever tags it claims in headers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import OpenAI from 'openai';
import { startMock, startGateway, postJson, freePort, sleep } from './harness.mjs';

const BACKEND_KEY = 'sk-backend-0123456789abcdef';
let mock;


const sha256 = (text) => createHash('sha256').update(text).digest('hex');

function config({ deadPort }) {
  return `server:
  listen: 127.0.0.1:0
  threads: 2
backends:
  mock:
    url: ${mock.url}/v1
    forward_headers: [defaults, x-mock-*]  # the mock takes its directives from headers
    api_key: ${BACKEND_KEY}
  dead:
    url: http://127.0.0.1:${deadPort}/v1
    api_key: ${BACKEND_KEY}
    connect_timeout_ms: 500
models:
  mock-small:
    backend: mock
    price: {input: 1, output: 2}
  gone:
    backend: dead
admin:
  api_key_sha256: ${sha256('the-admin-key')}
filters:
  - tagging:
      api_keys:
        require: true
        keys:
          - {key: sk-tenant-a, name: tenant-a, feature: chat, team: team-a, env: prod}
          - {key_sha256: ${sha256('sk-tenant-b')}, name: tenant-b, feature: chat, team: team-b, env: prod}
  - semantic_cache: {policies: [{name: all, mode: exact, ttl_seconds: 600}]}
  - budget:
      budgets: [{name: team-b-day, match: {team: [team-b]}, amount_usd: 1, window: day}]
log_level: debug
`;
}

let gateway;
before(async () => {
  mock = await startMock();
  gateway = await startGateway(config({ deadPort: await freePort() }));
});
after(async () => {
  await gateway?.stop();
  await mock?.stop();
});

const ask = (key, content, headers = {}) => postJson(`${gateway.url}/v1/chat/completions`,
  { model: 'mock-small', messages: [{ role: 'user', content }] }, { authorization: `Bearer ${key}`, ...headers });

function assertNoKey(where, text) {
  assert.ok(!text.includes(BACKEND_KEY), `the backend's key is in ${where}: ${text.slice(0, 400)}`);
}

test("the backend's key reaches no client, log or metric, whatever the backend answers", async () => {
  const answers = [];
  answers.push(await ask('sk-tenant-a', 'plain question'));
  // A careless backend that puts the credentials it got into its error.
  const echoed = await ask('sk-tenant-a', 'an error', { 'x-mock-status': '400', 'x-mock-echo-headers': 'true' });
  assert.equal(echoed.status, 400);
  assert.ok(echoed.text.includes('Bearer [redacted]'), echoed.text);
  answers.push(echoed);
  answers.push(await ask('sk-tenant-a', 'a server error', { 'x-mock-status': '503', 'x-mock-echo-headers': 'true' }));
  // The backend refusing the gateway's key is the gateway's fault, not the client's.
  const refused = await ask('sk-tenant-a', 'refused', { 'x-mock-status': '401' });
  assert.equal(refused.status, 502);
  assert.equal(refused.json.error.code, 'upstream_auth_error');
  assert.equal(refused.json.error.type, 'api_error');
  answers.push(refused);
  answers.push(await postJson(`${gateway.url}/v1/chat/completions`,
    { model: 'gone', messages: [{ role: 'user', content: 'x' }] }, { authorization: 'Bearer sk-tenant-a' }));
  assert.equal(answers.at(-1).status, 502);
  const stream = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-tenant-a', 'x-mock-reset-after-chunks': '2' },
    body: JSON.stringify({ model: 'mock-small', stream: true, messages: [{ role: 'user', content: 'a cut stream' }] }),
  });
  const streamText = await stream.text().catch(() => '');
  assertNoKey('a cut stream', streamText + JSON.stringify([...stream.headers]));

  for (const answer of answers) {
    assertNoKey(`an answer (${answer.status})`, answer.text + JSON.stringify([...answer.headers]));
  }
  await sleep(200);
  for (const path of ['/metrics', '/costgate/summary', '/costgate/spend', '/admin/budgets']) {
    const response = await fetch(`${gateway.url}${path}`, { headers: { authorization: 'Bearer the-admin-key' } });
    assert.equal(response.status, 200, path);
    assertNoKey(path, await response.text());
  }
  assertNoKey('the access log', gateway.lines.stdout.join('\n'));
  assertNoKey('the operational log (debug level)', gateway.lines.stderr.join('\n'));
});

test("one tenant's key can neither read another's cache entries nor spend its budget", async () => {
  const a = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'sk-tenant-a', maxRetries: 0 });
  const b = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'sk-tenant-b', maxRetries: 0 });
  const question = { model: 'mock-small', messages: [{ role: 'user', content: 'What is our Q3 revenue forecast?' }] };
  const stored = await a.chat.completions.create(question).withResponse();
  assert.equal(stored.response.headers.get('x-costgate-cache'), 'miss');
  const again = await a.chat.completions.create(question).withResponse();
  assert.equal(again.response.headers.get('x-costgate-cache'), 'hit-exact');

  // Tenant B asks the same, claiming A's team and feature in headers: its key's tags win, and its
  // key is its own partition.
  const claimed = await b.chat.completions.create(question, {
    headers: { 'x-costgate-team': 'team-a', 'x-costgate-feature': 'chat' },
  }).withResponse();
  assert.equal(claimed.response.headers.get('x-costgate-cache'), 'miss');
  assert.notEqual(claimed.data.id, stored.data.id);

  // Tenant A claiming B's team is charged to its own team: B's budget does not move.
  const budget = async () => {
    const { budgets } = await (await fetch(`${gateway.url}/admin/budgets`, { headers: { 'x-costgate-admin-key': 'the-admin-key' } })).json();
    return Number(budgets[0].spent_usd);
  };
  await sleep(100);
  const before = await budget();
  await a.chat.completions.create({ model: 'mock-small', messages: [{ role: 'user', content: 'charge team b please' }] },
    { headers: { 'x-costgate-team': 'team-b' } });
  await sleep(100);
  assert.equal(await budget(), before, "tenant A's call was charged to team B's budget");
  const line = gateway.accessLog().at(-1);
  assert.equal(line.team, 'team-a');

  // The key given only by its digest works; the digest itself is not a key.
  const byDigest = await postJson(`${gateway.url}/v1/chat/completions`, question, { authorization: `Bearer ${sha256('sk-tenant-b')}` });
  assert.equal(byDigest.status, 401);
  assert.equal(byDigest.json.error.code, 'invalid_api_key');
  // The admin key given by its digest works; tenant keys are not admin keys.
  const asTenant = await fetch(`${gateway.url}/admin/budgets`, { headers: { authorization: 'Bearer sk-tenant-a' } });
  assert.equal(asTenant.status, 401);
});
