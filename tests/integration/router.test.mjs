// The cascading router end to end, with the mock's per-model behaviour: "backend-mock-small" is
// unsure (low logprobs) on prompts marked [hard], "backend-mock-large" is always sure. Judged
// signals, streams, the approval gate, fallbacks on every fault class, retries, ejection and
// recovery, and the charge of every attempt.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startMock, startGateway, freePort, postJson, assertOpenAIError, sleep } from './harness.mjs';

let mock;
let gateway;
let client;
let deadPort;
let gonePort;

function config() {
  return `server:
  listen: 127.0.0.1:0
  threads: 2
backends:
  mock:
    url: ${mock.url}/v1
    forward_headers: [defaults, x-mock-*]  # the mock takes its directives from headers
    api_key: backend-secret
    read_timeout_ms: 1000
  dead:
    url: http://127.0.0.1:${deadPort}/v1
    connect_timeout_ms: 300
  gone:
    url: http://127.0.0.1:${gonePort}/v1
    connect_timeout_ms: 300
models:
  mock-small:
    backend: mock
    backend_model: backend-mock-small
    price: {input: 0.15, output: 0.6}
    fallbacks: [mock-large]
  mock-large:
    backend: mock
    backend_model: backend-mock-large
    price: {input: 2.5, output: 10}
  mock-gone:
    backend: gone
    fallbacks: [mock-large]
  mock-pair:
    deployments:
      - {backend: dead, backend_model: backend-mock-large}
      - {backend: mock, backend_model: backend-mock-large}
    price: {input: 2.5, output: 10}
upstream:
  attempts: 2
  base_delay_ms: 10
  max_delay_ms: 50
  eject_after_failures: 3
  eject_cooldown_ms: 600
filters:
  - tagging: {defaults: {feature: support, team: core, env: test}}
  - router:
      policies:
        - {name: gated, match: {feature: [gated]}, allowed_models: [mock-small], on_disallowed: reject}
        - name: rewritten
          match: {feature: [rewritten]}
          allowed_models: [mock-small]
          on_disallowed: rewrite
          default_model: mock-small
        - name: prerouted
          match: {feature: [prerouted]}
          tiers: [{name: cascade, models: [mock-small, mock-large]}]
          rules: [{name: all, when: {}, tier: cascade}]
          cascade: {streams: pre_route}
        - name: buffered
          match: {feature: [buffered]}
          tiers: [{name: cascade, models: [mock-small, mock-large]}]
          rules: [{name: all, when: {}, tier: cascade}]
          cascade: {streams: buffer}
        - name: main
          match: {feature: [support]}
          tiers:
            - {name: cascade, models: [mock-small, mock-large]}
            - {name: strong, models: [mock-large]}
          rules:
            - {name: tools, when: {has_tools: true}, tier: strong}
            - {name: everything, when: {}, tier: cascade}
log_level: warn
`;
}

before(async () => {
  mock = await startMock();
  deadPort = await freePort();
  gonePort = await freePort();
  gateway = await startGateway(config());
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'app-key', maxRetries: 0 });
});
after(async () => {
  await gateway?.stop();
  await mock?.stop();
});

async function ask(content, { headers = {}, model = 'mock-small', ...body } = {}) {
  const { data, response } = await client.chat.completions
    .create({ model, messages: [{ role: 'user', content }], ...body }, { headers })
    .withResponse();
  return {
    data,
    model: response.headers.get('x-costgate-model'),
    escalated: response.headers.get('x-costgate-escalated'),
    attempts: response.headers.get('x-costgate-attempts'),
  };
}

const onlySmall = (fault) => ({ 'x-mock-only-model': 'backend-mock-small', ...fault });
const metric = async (pattern) => {
  await sleep(30);  // a request is counted once its response went out
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  return text.split('\n').filter((l) => pattern.test(l));
};

test('an easy prompt is served by the small model; a hard one escalates on its low logprobs', async () => {
  const easy = await ask('What are your opening hours?', { headers: { 'x-request-id': 'r-easy' } });
  assert.equal(easy.model, 'mock-small');
  assert.equal(easy.escalated, null);
  assert.equal(easy.attempts, '1');
  assert.equal(easy.data.choices[0].logprobs ?? null, null, 'the logprobs the gateway asked for are hidden');

  const hard = await ask('[hard] Prove that the halting problem is undecidable.', { headers: { 'x-request-id': 'r-hard' } });
  assert.equal(hard.model, 'mock-large');
  assert.match(hard.escalated, /mock-small->mock-large: mean_logprob/);
  assert.equal(hard.attempts, '2');

  await sleep(50);
  const log = gateway.accessLog();
  const line = log.find((l) => l.request_id === 'r-hard');
  assert.equal(line.model, 'mock-large');
  assert.equal(line.route, 'chat_completions');
  assert.equal(line.route_decision, 'cascade:everything');
  const raw = gateway.lines.stdout.find((l) => l.includes('"request_id":"r-hard"'));
  assert.equal(raw.match(/"route":/g).length, 1, `a key repeated in ${raw}`);
  assert.equal(line.side_calls[0].model, 'mock-small', 'the escalated cheap call is charged too');
  assert.ok(line.side_calls[0].cost_usd > 0);
  assert.ok(line.cost_usd > 0);
  const spend = await (await fetch(`${gateway.url}/costgate/spend`)).json();
  assert.match(JSON.stringify(spend), /mock-small/);
  assert.ok((await metric(/^costgate_escalations_total\{.*from="mock-small".*reason="mean_logprob".*to="mock-large"/)).length === 1
    || (await metric(/^costgate_escalations_total\{.*reason="mean_logprob"/)).length === 1);
  assert.equal((await metric(/^costgate_route_decisions_total\{rule="everything",tier="cascade"\}/)).length, 1);
});

test('every judged signal escalates with its reason', async () => {
  const cases = [
    [{ 'x-mock-refuse': '1' }, 'refusal', {}],
    [{ 'x-mock-empty': '1' }, 'empty', {}],
    [{ 'x-mock-finish-reason': 'length' }, 'finish_reason', {}],
    [{ 'x-mock-finish-reason': 'content_filter' }, 'finish_reason', {}],
    [{ 'x-mock-invalid-json': '1' }, 'invalid_json', { response_format: { type: 'json_object' } }],
  ];
  for (const [fault, reason, body] of cases) {
    const answer = await ask('Tell me about your returns policy', { headers: onlySmall(fault), ...body });
    assert.equal(answer.model, 'mock-large', reason);
    assert.match(answer.escalated, new RegExp(`: ${reason}$`), reason);
  }
  // Uncertainty alone weighs 0.5 (score 0.5 < 0.6): a hedge escalates on its own.
  const unsure = await ask('Tell me about gift wrapping', { headers: onlySmall({ 'x-mock-uncertain': '1' }) });
  assert.equal(unsure.model, 'mock-large');
  assert.match(unsure.escalated, /: uncertainty$/);
  // Valid JSON from the small model is accepted.
  const json = await ask('Give me JSON', { response_format: { type: 'json_object' } });
  assert.equal(json.model, 'mock-small');
  assert.deepEqual(Object.keys(JSON.parse(json.data.choices[0].message.content)), ['answer']);
});

test('a rule can send a request straight to the strong tier', async () => {
  const tools = [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: {} } } }];
  const answer = await ask('Where is my order?', { tools });
  assert.equal(answer.model, 'mock-large');
  assert.equal(answer.escalated, null);
});

test('streams: pre-routed to the first model, or buffered, judged and replayed', async () => {
  // streams: hold is the default; pre_route is asked for here.
  const stream = await client.chat.completions
    .create({ model: 'mock-small', stream: true, messages: [{ role: 'user', content: '[hard] Derive the formula.' }] },
      { headers: { 'x-costgate-feature': 'prerouted' } })
    .withResponse();
  assert.equal(stream.response.headers.get('x-costgate-model'), 'mock-small', 'pre-routed: no cascade for streams');
  for await (const chunk of stream.data) void chunk;

  const buffered = await client.chat.completions
    .create({ model: 'mock-small', stream: true, messages: [{ role: 'user', content: '[hard] Derive the formula.' }] },
      { headers: { 'x-costgate-feature': 'buffered' } })
    .withResponse();
  assert.equal(buffered.response.headers.get('x-costgate-model'), 'mock-large');
  assert.match(buffered.response.headers.get('x-costgate-escalated'), /mean_logprob/);
  let text = '';
  for await (const chunk of buffered.data) text += chunk.choices[0]?.delta?.content ?? '';
  assert.ok(text.length > 0);

  const accepted = await client.chat.completions
    .create({ model: 'mock-small', stream: true, messages: [{ role: 'user', content: 'An easy one.' }] },
      { headers: { 'x-costgate-feature': 'buffered' } })
    .withResponse();
  assert.equal(accepted.response.headers.get('x-costgate-model'), 'mock-small');
  assert.match(accepted.response.headers.get('content-type'), /^text\/event-stream/);
  let chunks = 0;
  text = '';
  for await (const chunk of accepted.data) { chunks += 1; text += chunk.choices[0]?.delta?.content ?? ''; }
  assert.ok(chunks > 2 && text.length > 0, 'the accepted answer replayed as a real stream');
});

test('streams are held for their first tokens, judged, then released or switched', async () => {
  const mockUrl = mock.url.replace(/\/v1$/, '');
  const cancelledBefore = (await (await fetch(`${mockUrl}/mock/stats`)).json()).streams_cancelled;
  // A weak start (low logprobs): the cheap stream is cut and the strong model streams instead.
  const hard = await client.chat.completions
    .create({ model: 'mock-small', stream: true, messages: [{ role: 'user', content: '[hard] Derive the formula.' }] },
      { headers: { 'x-mock-chunk-delay-ms': '30' } })
    .withResponse();
  assert.equal(hard.response.headers.get('x-costgate-model'), 'mock-large');
  assert.match(hard.response.headers.get('x-costgate-escalated'), /^mock-small->mock-large: mean_logprob/);
  let chunks = 0;
  let text = '';
  for await (const chunk of hard.data) { chunks += 1; text += chunk.choices[0]?.delta?.content ?? ''; }
  assert.ok(chunks > 2, 'chunks stay chunks');
  assert.match(text, /^Mock reply to: \[hard\] Derive/);
  const cancelledAfter = (await (await fetch(`${mockUrl}/mock/stats`)).json()).streams_cancelled;
  assert.equal(cancelledAfter, cancelledBefore + 1, 'the cheap stream was cancelled, not read to its end');

  // A hedge at the start is caught before the hold is full.
  const hedged = await client.chat.completions
    .create({ model: 'mock-small', stream: true, messages: [{ role: 'user', content: 'Which port?' }] },
      { headers: onlySmall({ 'x-mock-uncertain': '1' }) })
    .withResponse();
  assert.match(hedged.response.headers.get('x-costgate-escalated'), /: uncertainty$/);
  for await (const chunk of hedged.data) void chunk;

  // A sure start is released and streamed on, without the logprobs the judge asked for, and
  // with its cost at the end.
  const response = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer app-key' },
    body: JSON.stringify({ model: 'mock-small', stream: true, messages: [{ role: 'user', content: 'An easy one.' }] }),
  });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('x-costgate-model'), 'mock-small');
  assert.equal(response.headers.get('x-costgate-escalated'), null);
  const raw = await response.text();
  const events = raw.split('\n\n').filter((e) => e.startsWith('data: {'));
  assert.ok(events.length > 2);
  for (const event of events) {
    const chunk = JSON.parse(event.slice(6));
    assert.ok(!chunk.choices?.[0]?.logprobs, 'logprobs the client did not ask for are not relayed');
  }
  assert.match(raw, /: costgate usage=backend tokens_in=\d+ tokens_out=\d+ cost_usd=[\d.]+\n\ndata: \[DONE\]/);
});

test('the approval gate refuses an unapproved model with 403, or rewrites it', async () => {
  await assert.rejects(
    ask('hi', { model: 'mock-large', headers: { 'x-costgate-feature': 'gated' } }),
    (error) => error instanceof OpenAI.PermissionDeniedError && error.code === 'model_not_allowed',
  );
  const raw = await postJson(`${gateway.url}/v1/chat/completions`,
    { model: 'mock-large', messages: [{ role: 'user', content: 'hi' }] }, { 'x-costgate-feature': 'gated' });
  assertOpenAIError(raw, 403, 'invalid_request_error', 'model_not_allowed');
  const rewritten = await ask('hi', { model: 'mock-large', headers: { 'x-costgate-feature': 'rewritten' } });
  assert.equal(rewritten.model, 'mock-small');
});

test('faults fall back to the next model: 5xx, 429, timeouts and resets', async () => {
  const faults = [
    [{ 'x-mock-status': '503' }, 'status_503'],
    [{ 'x-mock-status': '429', 'x-mock-retry-after': '0' }, 'rate_limited'],
    [{ 'x-mock-latency-ms': '1500' }, 'upstream_timeout'],
    [{ 'x-mock-reset': '1' }, 'upstream_reset'],
  ];
  for (const [fault, reason] of faults) {
    const answer = await ask('What is the weather like?', { headers: { ...onlySmall(fault), 'x-costgate-feature': 'rewritten' } });
    assert.equal(answer.model, 'mock-large', reason);
    assert.equal(answer.attempts, '3', `${reason}: two tries of mock-small, then mock-large`);
    assert.equal((await metric(new RegExp(`^costgate_fallbacks_total\\{from="mock-small",reason="${reason}",to="mock-large"\\}`))).length, 1, reason);
    // A success between the cases: two failures in a row do not eject (eject_after_failures 3).
    assert.equal((await ask('A healthy call', { headers: { 'x-costgate-feature': 'rewritten' } })).model, 'mock-small');
  }
});

test('an unreachable backend falls back too', async () => {
  const answer = await ask('Anyone there?', { model: 'mock-gone', headers: { 'x-costgate-feature': 'other' } });
  assert.equal(answer.model, 'mock-large');
  assert.equal((await metric(/^costgate_fallbacks_total\{from="mock-gone",reason="upstream_unreachable",to="mock-large"\}/)).length, 1);
});

test('a failed attempt is retried with backoff and the retry can succeed', async () => {
  const answer = await ask('Retry me', {
    headers: { 'x-costgate-feature': 'rewritten', 'x-request-id': 'retry-1', 'x-mock-fail-attempts': '1', 'x-mock-status': '502' },
  });
  assert.equal(answer.model, 'mock-small');
  assert.equal(answer.attempts, '2');
});

test('a failing deployment is ejected, its twin serves, and it is probed back in', async () => {
  for (let i = 0; i < 8; i += 1) {
    const answer = await ask(`Pair question ${i}`, { model: 'mock-pair', headers: { 'x-costgate-feature': 'other' } });
    assert.equal(answer.model, 'mock-pair');
  }
  assert.equal((await metric(/^costgate_backend_up\{backend="dead",model="mock-pair"\} 0/)).length, 1, 'ejected');
  // The dead backend comes to life; after the cool-down a probe brings it back.
  const revived = await startMock(['--listen', `127.0.0.1:${deadPort}`]);
  try {
    await sleep(1400);
    for (let i = 0; i < 6; i += 1) await ask(`Pair again ${i}`, { model: 'mock-pair', headers: { 'x-costgate-feature': 'other' } });
    assert.equal((await metric(/^costgate_backend_up\{backend="dead",model="mock-pair"\} 1/)).length, 1, 'probed back in');
    const stats = await (await fetch(`${revived.url}/mock/stats`)).json();
    assert.ok(stats.requests > 0, 'the revived deployment serves again');
  } finally {
    await revived.stop();
  }
});
