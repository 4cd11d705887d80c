// Coalescing across replicas: two gateway processes share one real redis-server (store:
// redis://...), and identical requests in flight together, split across both, make one backend
// call between them; when the replica making it fails (its call fails, or it dies) the other
// still answers, with one more call, not one per request.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startMock, startGateway, startRedis, gatewayConfig, postJson, sleep, askCached } from './harness.mjs';

let mock;
let redis;
let gateways = [];
let clients = [];

before(async () => {
  mock = await startMock();
  redis = await startRedis();
  const filters = [
    'tagging: {defaults: {feature: support, team: core, env: test}}',
    `semantic_cache: {policies: [{name: shared, mode: exact, ttl_seconds: 300, store: "${redis.url}"}]}`,
  ];
  // One attempt per call: a failed call is one backend request, so the counts below are exact.
  const config = `${gatewayConfig({ backendUrl: `${mock.url}/v1`, filters })}upstream:\n  attempts: 1\n`;
  gateways = [await startGateway(config), await startGateway(config)];
  clients = gateways.map((g) => new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'app-key', maxRetries: 0 }));
  await waitInSync(0, 'first warm-up question');
  await waitInSync(1, 'second warm-up question');
});
after(async () => {
  for (const gateway of gateways) await gateway?.stop();
  await redis?.stop();
  await mock?.stop();
});

const ask = (replica, content, headers = {}) => askCached(clients[replica], content, headers);

// Until `replica`'s store is in sync with Redis (a repeat then hits).
async function waitInSync(replica, content) {
  for (let i = 0; i < 60; i += 1) {
    if ((await ask(replica, content)).cache.startsWith('hit')) return;
    await sleep(50);
  }
  assert.fail(`replica ${replica} never got in sync with Redis`);
}

// A streamed request's text and cache header.
async function askStreamed(replica, content, headers = {}) {
  const { data, response } = await clients[replica].chat.completions
    .create({ model: 'mock-small', stream: true, messages: [{ role: 'user', content }] }, { headers })
    .withResponse();
  let text = '';
  for await (const chunk of data) text += chunk.choices[0]?.delta?.content ?? '';
  return { text, cache: response.headers.get('x-costgate-cache') };
}

async function backendCalls() {
  return (await (await fetch(`${mock.url}/mock/stats`)).json()).requests;
}

async function replicaWaits(replica) {
  const text = await (await fetch(`${gateways[replica].url}/metrics`)).text();
  const waits = {};
  for (const match of text.matchAll(/^costgate_cache_replica_waits_total\{([^}]*)\} (\S+)$/gm)) {
    const outcome = match[1].match(/outcome="([^"]+)"/)[1];
    waits[outcome] = (waits[outcome] ?? 0) + Number(match[2]);
  }
  return waits;
}

test('60 identical requests in flight, split across two replicas, make one backend call', async () => {
  const question = 'How long does shipping to Canada take?';
  const slow = { 'x-mock-latency-ms': '500' };
  const before = await backendCalls();
  // Every sixth a stream: waiting for another replica's answer works for those too.
  const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 6 === 5
    ? askStreamed(i % 2, question, slow) : ask(i % 2, question, slow))));
  assert.equal(await backendCalls() - before, 1, 'one backend call for 60 requests on two replicas');
  const caches = answers.map((a) => a.cache);
  assert.equal(caches.filter((c) => c === 'miss').length, 1);
  assert.equal(caches.filter((c) => c === 'hit-exact').length, 59);
  const whole = answers.filter((a) => a.data);
  const text = whole[0].data.choices[0].message.content;
  assert.ok(text.length > 0);
  for (const answer of answers) {
    assert.equal(answer.data ? answer.data.choices[0].message.content : answer.text, text, 'all got the answer');
  }
  for (const answer of whole) assert.deepEqual(answer.data, whole[0].data);

  // The replica that did not call waited for the other once (its leader); its other requests
  // waited for that leader, as within one process.
  const waits = [await replicaWaits(0), await replicaWaits(1)];
  assert.deepEqual(waits.map((w) => w.served ?? 0).sort(), [0, 1], JSON.stringify(waits));
  await sleep(50);
  const logs = gateways.flatMap((g) => g.accessLog()).filter((l) => l.replica_wait);
  assert.equal(logs.length, 1);
  assert.equal(logs[0].replica_wait, 'served');
  assert.equal(logs[0].cache, 'hit-exact');
  assert.equal(logs[0].coalesced, true);
});

test('the holder\'s call fails: the other replica makes one more call, not one per request', async () => {
  const question = 'Can I pay by bank transfer?';
  const before = await backendCalls();
  const failing = postJson(`${gateways[0].url}/v1/chat/completions`,
    { model: 'mock-small', messages: [{ role: 'user', content: question }] },
    { authorization: 'Bearer app-key', 'x-mock-status': '503', 'x-mock-latency-ms': '600' });
  await sleep(150);  // replica 0 holds the lock, its call on its way
  const waitsBefore = await replicaWaits(1);
  const answers = await Promise.all(Array.from({ length: 30 }, () => ask(1, question, { 'x-mock-latency-ms': '300' })));
  assert.equal((await failing).status, 503, 'the holder gets its own error');
  for (const answer of answers) assert.equal(answer.data.object, 'chat.completion');
  assert.equal(answers.filter((a) => a.cache === 'miss').length, 1);
  assert.equal(await backendCalls() - before, 2, 'the failed call and one more');
  const waits = await replicaWaits(1);
  assert.equal((waits.lock_vanished ?? 0) - (waitsBefore.lock_vanished ?? 0), 1, JSON.stringify(waits));
});

test('the holder dies mid-call: the other replica answers once its lock expires', async () => {
  const question = 'Do you deliver on Saturdays?';
  const before = await backendCalls();
  const dying = postJson(`${gateways[0].url}/v1/chat/completions`,
    { model: 'mock-small', messages: [{ role: 'user', content: question }] },
    { authorization: 'Bearer app-key', 'x-mock-latency-ms': '2500' }).catch((error) => error);
  await sleep(150);
  const started = Date.now();
  const pending = Promise.all(Array.from({ length: 30 }, () => ask(1, question, { 'x-mock-latency-ms': '200' })));
  await sleep(200);
  gateways[0].child.kill('SIGKILL');  // it never gives its lock back
  const answers = await pending;
  const took = Date.now() - started;
  await dying;
  for (const answer of answers) assert.equal(answer.data.object, 'chat.completion');
  assert.equal(answers.filter((a) => a.cache === 'miss').length, 1);
  assert.equal(await backendCalls() - before, 2, 'the dead replica\'s call and one more');
  assert.ok(took < 6000, `answered once the lock expired (3 s), not after coalesce_wait: ${took} ms`);
  const waits = await replicaWaits(1);
  assert.ok((waits.lock_vanished ?? 0) >= 2, JSON.stringify(waits));
});
