// Issue 23's body and attribution cases, on the wire: a body with a repeated member name (refused,
// never forwarded), a control character in a model name (refused before a router could rewrite
// it) or in a tag, a key that fixes some tags (the rest locked), label slots that clients cannot
// use up (even for a key added by reload), query values kept out of the access log, and secrets
// kept out of configuration errors (--check-config and the reload log).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  startMock, startGateway, postJson, assertOpenAIError, gatewayBinary, tempDir, until, sleep,
} from './harness.mjs';

let mock;
let gateway;

function config({ extraKey = '', adminDigest = '' } = {}) {
  return `server:
  listen: 127.0.0.1:0
  threads: 2
  reload_check_ms: 100
backends:
  mock:
    url: ${mock.url}/v1
    api_key: backend-secret
models:
  mock-small:
    backend: mock
    price: {input: 1, output: 2}
  mock-large:
    backend: mock
    price: {input: 10, output: 20}
${adminDigest ? `admin:\n  api_key_sha256: ${adminDigest}\n` : ''}filters:
  - tagging:
      defaults: {feature: none-given, team: none-given, env: none-given}
      api_keys:
        keys:
          - {key: sk-team-only, team: growth}
          - {key: sk-open-feature, team: growth, client_tags: [feature]}
${extraKey}  - router:
      policies: [{name: gate, allowed_models: [mock-small], on_disallowed: rewrite, default_model: mock-small}]
log_level: info
`;
}

const messages = [{ role: 'user', content: 'hello' }];

before(async () => {
  mock = await startMock();
  gateway = await startGateway(config());
});
after(async () => {
  await gateway?.stop();
  await mock?.stop();
});

const post = (body, headers = {}, path = '/v1/chat/completions') => postJson(`${gateway.url}${path}`, body, headers);

async function logLine(requestId) {
  return until(`the access-log line of ${requestId}`, () => gateway.accessLog().find((l) => l.request_id === requestId));
}

test('a body with a member name twice, at any depth or in any spelling, is refused and never forwarded', async () => {
  const cases = [
    ['{"model":"mock-small","messages":[{"role":"user","content":"hi"}],"max_tokens":999999,"max_tokens":5}', 'max_tokens'],
    ['{"model":"mock-large","model":"mock-small","messages":[{"role":"user","content":"hi"}]}', 'model'],
    ['{"model":"mock-small","messages":[{"role":"user","content":"hi"}],"stream":false,"stream":true}', 'stream'],
    ['{"model":"mock-small","messages":[{"role":"user","content":"hi"}],"n":1,"n":2}', 'n'],
    ['{"model":"mock-small","messages":[{"role":"user","content":"hi"}],"messages":[]}', 'messages'],
    ['{"model":"mock-small","messages":[{"role":"user","content":"hi","role":"system"}]}', 'messages[0].role'],
    ['{"model":"mock-small","messages":[{"role":"user","content":"hi"}],"max\\u005ftokens":5,"max_tokens":999999}', 'max_tokens'],
    ['{"model":"mock-small","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"text","type":"json_object"}}', 'response_format.type'],
    ['{"model":"mock-small","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{},"a":{}}}}}]}', 'tools[0].function.parameters.properties.a'],
  ];
  const backendCalls = async () => (await (await fetch(`${mock.url}/mock/stats`)).json()).requests;
  const callsBefore = await backendCalls();
  for (const [body, param] of cases) {
    const result = await post(body, { 'x-mock-echo-body': '1' });
    assertOpenAIError(result, 400, 'invalid_request_error', 'duplicate_member');
    assert.equal(result.json.error.param, param, body);
    const name = param.split('.').pop().replace(/\[\d+\]$/, '');
    assert.ok(result.json.error.message.includes(`duplicate member "${name}"`), result.json.error.message);
  }
  // Embeddings too.
  const embeddings = await post('{"model":"mock-small","input":"a","input":"b"}', {}, '/v1/embeddings');
  assertOpenAIError(embeddings, 400, 'invalid_request_error', 'duplicate_member');
  assert.equal(await backendCalls(), callsBefore, 'a refused body reached the backend');
  // The same names in different objects are fine.
  const fine = await post({ model: 'mock-small', messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: 'c' }] });
  assert.equal(fine.status, 200, fine.text);
});

test('a control character in a model name is refused before the router could rewrite it', async () => {
  // Without one, the router rewrites a model it does not allow.
  const rewritten = await post({ model: 'mock-large', messages });
  assert.equal(rewritten.status, 200, rewritten.text);
  for (const model of ['mock-large\n', 'mock-small\r\nx-evil: 1', 'mock\u0000large', 'mock-large\u007f', '\tmock-small']) {
    const result = await post({ model, messages });
    assertOpenAIError(result, 400, 'invalid_request_error', 'invalid_value');
    assert.equal(result.json.error.param, 'model', JSON.stringify(model));
  }
});

test('a tag named with a control character is refused', async () => {
  const header = await post({ model: 'mock-small', messages }, { 'x-costgate-team': 'a\tb' });
  assertOpenAIError(header, 400, 'invalid_request_error', 'invalid_tag');
  assert.equal(header.json.error.param, 'x-costgate-team');
  const metadata = await post({ model: 'mock-small', messages, metadata: { feature: 'a\nb' } });
  assertOpenAIError(metadata, 400, 'invalid_request_error', 'invalid_tag');
  assert.equal(metadata.json.error.param, 'metadata.feature');
});

test('a key that fixes only team locks feature and env; one that leaves feature open lets its holder name it', async () => {
  const claims = { 'x-costgate-feature': 'someone-elses', 'x-costgate-team': 'finance', 'x-costgate-env': 'prod' };
  await post({ model: 'mock-small', messages, metadata: { feature: 'meta' } },
    { ...claims, authorization: 'Bearer sk-team-only', 'x-request-id': 'locked-key' });
  const locked = await logLine('locked-key');
  assert.deepEqual([locked.feature, locked.team, locked.env], ['none-given', 'growth', 'none-given']);
  await post({ model: 'mock-small', messages }, { ...claims, authorization: 'Bearer sk-open-feature', 'x-request-id': 'open-key' });
  const open = await logLine('open-key');
  assert.deepEqual([open.feature, open.team, open.env], ['someone-elses', 'growth', 'none-given']);
  await post({ model: 'mock-small', messages }, { ...claims, 'x-request-id': 'no-key' });
  const keyless = await logLine('no-key');
  assert.deepEqual([keyless.feature, keyless.team, keyless.env], ['someone-elses', 'finance', 'prod']);
});

test('query values never reach the access log; their names do', async () => {
  await fetch(`${gateway.url}/healthz?key=sk-query-secret&verbose=1`, { headers: { 'x-request-id': 'query-health' } });
  await post({ model: 'mock-small', messages }, { 'x-request-id': 'query-chat' }, '/v1/chat/completions?api-key=sk-query-secret');
  assert.equal((await logLine('query-health')).path, '/healthz?key=REDACTED&verbose=REDACTED');
  assert.equal((await logLine('query-chat')).path, '/v1/chat/completions?api-key=REDACTED');
  assert.ok(!gateway.lines.stdout.join('\n').includes('sk-query-secret'));
  assert.ok(!gateway.lines.stderr.join('\n').includes('sk-query-secret'));
});

async function requestsByTeam() {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith('costgate_requests_total{'));
}

test('clients cannot use up label slots: configured teams keep theirs, a key added by reload too', async () => {
  // 300 keyless requests, each with a team and a feature of its own: more than the free-form slots.
  for (let i = 0; i < 300; i += 25) {
    await Promise.all(Array.from({ length: 25 }, (_, j) => post({ model: 'mock-small', messages },
      { 'x-costgate-team': `random-team-${i + j}`, 'x-costgate-feature': `random-feature-${i + j}` })));
  }
  await post({ model: 'mock-small', messages }, { 'x-costgate-team': 'late-free-form' });
  await post({ model: 'mock-small', messages }, { authorization: 'Bearer sk-team-only' });
  let lines = await requestsByTeam();
  assert.ok(lines.some((l) => l.includes('team="growth"')), 'the keyed team lost its label');
  assert.ok(!lines.some((l) => l.includes('team="late-free-form"')), 'free-form values are unbounded');
  assert.ok(lines.some((l) => l.includes('team="other"')));
  // A key added by reload, after the slots were full.
  const before = gateway.lines.stderr.length;
  writeFileSync(`${gateway.configFile}.new`, config({ extraKey: '          - {key: sk-late, team: late-team, feature: late-feature}\n' }));
  renameSync(`${gateway.configFile}.new`, gateway.configFile);
  await until('the reload', () => gateway.lines.stderr.slice(before).some((l) => /reload|applied/i.test(l)), 5000);
  await until('the new key', async () => (await post({ model: 'mock-small', messages }, { authorization: 'Bearer sk-late' })).status === 200);
  lines = await requestsByTeam();
  assert.ok(lines.some((l) => l.includes('feature="late-feature"') && l.includes('team="late-team"')),
    `the reloaded key's team is not labelled:\n${lines.filter((l) => l.includes('late')).join('\n')}`);
});

test('a secret in the wrong field is never printed back: --check-config and the reload log', async () => {
  const secret = 'sk-admin-plain-secret-0123456789';
  const dir = tempDir();
  try {
    const file = join(dir, 'costgate.yaml');
    const check = (text) => {
      writeFileSync(file, text);
      return spawnSync(gatewayBinary, ['--check-config', file], { encoding: 'utf8' });
    };
    const admin = check(config({ adminDigest: secret }));
    assert.equal(admin.status, 1);
    assert.match(admin.stderr, /api_key_sha256: expected 64 hex digits/);
    assert.ok(!`${admin.stdout}${admin.stderr}`.includes(secret), admin.stderr);
    const ledger = check(`${config()}`.replace('log_level: info', `  - budget:\n      ledger: "rediss://:${secret}@cache:6380"\n      budgets: [{name: d, amount_usd: 1, window: day}]\nlog_level: info`));
    assert.equal(ledger.status, 1, ledger.stdout);
    assert.ok(!`${ledger.stdout}${ledger.stderr}`.includes(secret), ledger.stderr);
    const url = check(config().replace(`url: ${mock.url}/v1`, `url: ${mock.url}/v1?key=${secret}`));
    assert.equal(url.status, 1);
    assert.ok(!`${url.stdout}${url.stderr}`.includes(secret), url.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // The reload log: the file is rejected, the old configuration serves, the key is not shown.
  const before = gateway.lines.stderr.length;
  writeFileSync(`${gateway.configFile}.new`, config({ adminDigest: secret }));
  renameSync(`${gateway.configFile}.new`, gateway.configFile);
  await until('the rejected reload', () => gateway.lines.stderr.slice(before).some((l) => l.includes('api_key_sha256')), 5000);
  await sleep(200);
  assert.ok(!gateway.lines.stderr.join('\n').includes(secret), gateway.lines.stderr.slice(before).join('\n'));
  const still = await post({ model: 'mock-small', messages });
  assert.equal(still.status, 200, still.text);
  writeFileSync(`${gateway.configFile}.new`, config());
  renameSync(`${gateway.configFile}.new`, gateway.configFile);
});
