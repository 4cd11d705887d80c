// The semantic cache end to end (memory store): the official SDK as the client, the mock as the
// backend. A hit must look to the client like the call it replaces, streams included, and must
// never cross a partition.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startMock, startGateway, gatewayConfig, postJson, sleep } from './harness.mjs';

let mock;
let gateway;
let client;

before(async () => {
  mock = await startMock();
  const filters = [
    'tagging: {defaults: {feature: support, team: core, env: test}}',
    'semantic_cache: {policies: [{name: faq, mode: semantic, threshold: 0.9, ttl_seconds: 60}]}',
  ];
  gateway = await startGateway(gatewayConfig({
    backendUrl: `${mock.url}/v1`, filters, prices: { 'mock-small': '{input: 2.5, output: 10}' },
  }));
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'app-key', maxRetries: 0 });
});
after(async () => {
  await gateway?.stop();
  await mock?.stop();
});

async function ask(content, { headers = {}, ...body } = {}) {
  const { data, response } = await client.chat.completions
    .create({ model: 'mock-small', messages: [{ role: 'user', content }], ...body }, { headers })
    .withResponse();
  return { data, cache: response.headers.get('x-costgate-cache'), headers: response.headers };
}

test('a repeat is answered from the cache, as the call it replaces, at no cost', async () => {
  const first = await ask('What are your opening hours on Sunday?');
  assert.equal(first.cache, 'miss');
  assert.ok(Number(first.headers.get('x-costgate-cost-usd')) > 0);
  const again = await ask('What are your opening hours on Sunday?');
  assert.equal(again.cache, 'hit-exact');
  assert.deepEqual(again.data, first.data, 'the same completion, usage included');
  assert.equal(again.headers.get('x-costgate-model'), 'mock-small');
  const spaced = await ask('  What are your   opening hours on Sunday? ');
  assert.equal(spaced.cache, 'hit-exact', 'whitespace does not split the exact level');
});

test('a paraphrase is a semantic hit; a negation, a number or a name is not', async () => {
  assert.equal((await ask('How do I reset my password?')).cache, 'miss');
  assert.equal((await ask('How can I reset my password?')).cache, 'hit-semantic');
  assert.equal((await ask('How do I enable 2FA on my account?')).cache, 'miss');
  assert.equal((await ask('How do I disable 2FA on my account?')).cache, 'miss');
  assert.equal((await ask('What is 17*23?')).cache, 'miss');
  assert.equal((await ask('What is 17*24?')).cache, 'miss');
  assert.equal((await ask('Do you ship to Paris?')).cache, 'miss');
  assert.equal((await ask('Do you ship to Lyon?')).cache, 'miss');
});

test('entries never cross a partition: tenant, system prompt, sampling, model parameters', async () => {
  const question = 'Which payment methods do you accept?';
  assert.equal((await ask(question)).cache, 'miss');
  assert.equal((await ask(question)).cache, 'hit-exact');
  assert.equal((await ask(question, { headers: { 'x-costgate-team': 'billing' } })).cache, 'miss');
  assert.equal((await ask(question, { headers: { 'x-costgate-feature': 'sales' } })).cache, 'miss');
  assert.equal((await ask(question, { temperature: 0.2 })).cache, 'miss');
  assert.equal((await ask(question, { max_tokens: 500 })).cache, 'miss');
  const withSystem = await client.chat.completions.create({
    model: 'mock-small',
    messages: [{ role: 'system', content: 'Answer in French.' }, { role: 'user', content: question }],
  }).withResponse();
  assert.equal(withSystem.response.headers.get('x-costgate-cache'), 'miss');
});

test('a streamed miss is stored whole; a hit is replayed to a streaming client as a real stream', async () => {
  const question = 'Can I change my delivery address after ordering?';
  const stream = await client.chat.completions
    .create({ model: 'mock-small', stream: true, messages: [{ role: 'user', content: question }] })
    .withResponse();
  assert.equal(stream.response.headers.get('x-costgate-cache'), 'miss');
  let streamed = '';
  for await (const chunk of stream.data) streamed += chunk.choices[0]?.delta?.content ?? '';
  await sleep(50);
  const whole = await ask(question);
  assert.equal(whole.cache, 'hit-exact', 'the stream was stored');
  assert.equal(whole.data.choices[0].message.content, streamed);

  const replay = await client.chat.completions
    .create({
      model: 'mock-small', stream: true, stream_options: { include_usage: true },
      messages: [{ role: 'user', content: question }],
    })
    .withResponse();
  assert.equal(replay.response.headers.get('x-costgate-cache'), 'hit-exact');
  assert.match(replay.response.headers.get('content-type'), /^text\/event-stream/);
  let replayed = '';
  let chunks = 0;
  let usage;
  for await (const chunk of replay.data) {
    chunks += 1;
    replayed += chunk.choices[0]?.delta?.content ?? '';
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(replayed, streamed);
  assert.ok(chunks > 3, `${chunks} chunks`);
  assert.ok(usage && usage.completion_tokens > 0, 'the usage chunk the client asked for');
});

test('Cache-Control: no-cache skips the lookup, no-store skips the store', async () => {
  const question = 'Is there a student discount?';
  assert.equal((await ask(question, { headers: { 'cache-control': 'no-store' } })).cache, 'miss');
  assert.equal((await ask(question, { headers: { 'cache-control': 'no-store' } })).cache, 'miss', 'nothing was stored');
  assert.equal((await ask(question)).cache, 'miss');
  assert.equal((await ask(question)).cache, 'hit-exact');
  assert.equal((await ask(question, { headers: { 'cache-control': 'no-cache' } })).cache, 'bypass');
});

test('errors and truncated answers are not cached; requests that may not be are bypassed', async () => {
  const question = 'Why was my card declined?';
  const failed = await postJson(`${gateway.url}/v1/chat/completions`,
    { model: 'mock-small', messages: [{ role: 'user', content: question }] }, { 'x-mock-status': '500' });
  assert.equal(failed.status, 500);
  assert.equal((await ask(question)).cache, 'miss', 'the error was not stored');

  const truncated = 'Tell me everything about your return policy';
  assert.equal((await ask(truncated, { max_tokens: 3 })).cache, 'miss');
  assert.equal((await ask(truncated, { max_tokens: 3 })).cache, 'miss', 'finish_reason length was not stored');

  assert.equal((await ask('Pick a random number', { n: 2 })).cache, 'bypass');
  assert.equal((await ask('Write a poem', { temperature: 1.5 })).cache, 'bypass');
  const tools = [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: {} } } }];
  assert.equal((await ask('Where is my order?', { tools })).cache, 'bypass');
});

test('hits are billed at zero and counted as saved in the metrics, the log and the spend report', async () => {
  const question = 'Do you have gift cards?';
  await ask(question, { headers: { 'x-request-id': 'cache-miss-1' } });
  const hit = await ask(question, { headers: { 'x-request-id': 'cache-hit-1' } });
  assert.equal(hit.cache, 'hit-exact');
  assert.equal(hit.headers.get('x-costgate-cost-usd'), null);
  await sleep(50);
  const log = gateway.accessLog();
  const missLine = log.find((l) => l.request_id === 'cache-miss-1');
  const hitLine = log.find((l) => l.request_id === 'cache-hit-1');
  assert.equal(hitLine.cache, 'hit-exact');
  assert.equal(hitLine.cost_usd, 0);
  assert.equal(hitLine.saved_usd, missLine.cost_usd, 'a hit saves what the call it replaces cost');
  assert.equal(hitLine.usage_source, 'cache');

  const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
  const savedTotal = metrics.split('\n').filter((l) => l.startsWith('costgate_cache_saved_usd_total{'))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
  const savedLogged = gateway.accessLog().reduce((sum, l) => sum + (l.saved_usd ?? 0), 0);
  assert.ok(Math.abs(savedTotal - savedLogged) < 1e-9, `${savedTotal} vs ${savedLogged}`);
  assert.match(metrics, /costgate_cache_requests_total\{[^}]*result="hit-exact"/);
  assert.match(metrics, /costgate_cache_requests_total\{[^}]*result="hit-semantic"/);
  assert.match(metrics, /costgate_cache_lookup_seconds_count \d+/);
  assert.match(metrics, /costgate_cache_entries\{policy="faq"\} [1-9]/);

  const spend = await (await fetch(`${gateway.url}/costgate/spend`)).json();
  assert.ok(Number(spend.total.saved_usd) > 0, JSON.stringify(spend.total));
});

async function mockRequests() {
  return (await (await fetch(`${mock.url}/mock/stats`)).json()).requests;
}

test('identical requests in flight together share one backend call (coalescing)', async () => {
  const question = 'How long does shipping to Canada take?';
  const slow = { 'x-mock-latency-ms': '400' };
  const before = await mockRequests();
  const answers = await Promise.all([
    ask(question, { headers: slow }),
    ...Array.from({ length: 4 }, () => sleep(50).then(() => ask(question, { headers: slow }))),
  ]);
  assert.equal(await mockRequests() - before, 1, 'one backend call for five identical requests');
  assert.deepEqual(answers.map((a) => a.cache).sort(), ['hit-exact', 'hit-exact', 'hit-exact', 'hit-exact', 'miss']);
  for (const answer of answers) assert.deepEqual(answer.data, answers[0].data);

  // A streaming follower gets the leader's answer replayed as a stream.
  const streamed = 'Do you deliver on Saturdays?';
  const leader = ask(streamed, { headers: slow });
  await sleep(50);
  const follower = await client.chat.completions
    .create({ model: 'mock-small', stream: true, messages: [{ role: 'user', content: streamed }] }, { headers: slow })
    .withResponse();
  assert.equal(follower.response.headers.get('x-costgate-cache'), 'hit-exact');
  let text = '';
  for await (const chunk of follower.data) text += chunk.choices[0]?.delta?.content ?? '';
  assert.equal(text, (await leader).data.choices[0].message.content);
  await sleep(50);
  assert.ok(gateway.accessLog().some((l) => l.coalesced === true && l.cache === 'hit-exact'));
});

test('when the call others wait for fails, each of them calls the backend itself', async () => {
  const question = 'Can I pay by bank transfer?';
  const failing = postJson(`${gateway.url}/v1/chat/completions`,
    { model: 'mock-small', messages: [{ role: 'user', content: question }] },
    { 'x-mock-status': '503', 'x-mock-latency-ms': '300' });
  await sleep(50);
  const before = await mockRequests();
  const followers = await Promise.all([ask(question), ask(question)]);
  assert.equal((await failing).status, 503, 'the leader gets its own error');
  for (const follower of followers) assert.equal(follower.data.object, 'chat.completion');
  assert.ok(await mockRequests() - before >= 1, 'the followers were served by the backend');
});

test('a backend embedder: /v1/embeddings of a configured model, charged to the request', async () => {
  const filters = [
    'tagging: {defaults: {feature: search, team: core, env: test}}',
    'semantic_cache: {policies: [{name: embedded, mode: semantic, threshold: 0.85, embedding_model: mock-embed}]}',
  ];
  const config = gatewayConfig({ backendUrl: `${mock.url}/v1`, models: ['mock-small', 'mock-embed'], filters })
    .replace('    backend_model: backend-mock-small', '    backend_model: backend-mock-small\n    price: {input: 2.5, output: 10}')
    .replace('    backend_model: backend-mock-embed', '    backend_model: text-embedding-3-small\n    price: {input: 1, output: 0}');
  const embedded = await startGateway(config);
  try {
    const embeddedClient = new OpenAI({ baseURL: `${embedded.url}/v1`, apiKey: 'k', maxRetries: 0 });
    const askEmbedded = async (content, id) => {
      const { response } = await embeddedClient.chat.completions
        .create({ model: 'mock-small', messages: [{ role: 'user', content }] }, { headers: { 'x-request-id': id } })
        .withResponse();
      return response.headers.get('x-costgate-cache');
    };
    assert.equal(await askEmbedded('How do I reset my password on the website?', 'e-1'), 'miss');
    assert.equal(await askEmbedded('how do I reset my password on this website', 'e-2'), 'hit-semantic');
    assert.equal(await askEmbedded('How do I reset my password on the website?', 'e-3'), 'hit-exact');
    assert.equal(await askEmbedded('Which cities do you ship furniture to?', 'e-4'), 'miss');
    await sleep(50);
    const log = embedded.accessLog();
    const line = (id) => log.find((l) => l.request_id === id);
    assert.equal(line('e-1').side_calls[0].model, 'mock-embed');
    assert.ok(line('e-1').side_calls[0].cost_usd > 0, 'the embedding call is charged');
    assert.ok(line('e-2').side_calls[0].cost_usd > 0, 'a semantic hit still paid for its embedding');
    assert.equal(line('e-3').side_calls, undefined, 'an exact hit needs no embedding');
    const spend = await (await fetch(`${embedded.url}/costgate/spend`)).json();
    const byModel = JSON.stringify(spend);
    assert.match(byModel, /mock-embed/);
  } finally {
    await embedded.stop();
  }
});
