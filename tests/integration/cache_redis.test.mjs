// The semantic cache on Redis (store: redis://...): two gateway processes share one real
// redis-server, so an answer one of them stored is a hit on the other; entries expire with their
// TTL; and Redis going away mid-run turns hits into misses, never into errors, until it is back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startMock, startGateway, startRedis, gatewayConfig, sleep, askCached } from './harness.mjs';

let mock;
let redis;
let gateways = [];
let clients = [];

before(async () => {
  mock = await startMock();
  redis = await startRedis();
  const store = `store: "${redis.url}"`;
  const filters = [
    'tagging: {defaults: {feature: support, team: core, env: test}}',
    `semantic_cache: {policies: [{name: short, match: {feature: [short]}, ttl_seconds: 1, ${store}}, {name: shared, threshold: 0.9, ttl_seconds: 300, ${store}}]}`,
  ];
  const config = gatewayConfig({ backendUrl: `${mock.url}/v1`, filters });
  gateways = [await startGateway(config), await startGateway(config)];
  clients = gateways.map((g) => new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'app-key', maxRetries: 0 }));
});
after(async () => {
  for (const gateway of gateways) await gateway?.stop();
  await redis?.stop();
  await mock?.stop();
});

const ask = (replica, content, headers = {}) => askCached(clients[replica], content, headers);

// Asks until the answer is a hit (a replica learns of another's entry within milliseconds, and
// a replica (re)starting its sync needs a scan first), at most ~3 s.
async function askUntilHit(replica, content, headers = {}) {
  let answer;
  for (let i = 0; i < 60; i += 1) {
    answer = await ask(replica, content, { 'cache-control': 'no-store', ...headers });
    if (answer.cache.startsWith('hit')) return answer;
    await sleep(50);
  }
  return answer;
}

// Until `replica`'s store is in sync with Redis: it then keeps what it is asked, and a repeat
// hits (out of sync, it misses and keeps nothing).
async function waitInSync(replica, content) {
  for (let i = 0; i < 60; i += 1) {
    if ((await ask(replica, content)).cache.startsWith('hit')) return;
    await sleep(50);
  }
  assert.fail(`replica ${replica} never got in sync with Redis`);
}

test('two gateways share one cache: an answer stored by one is a hit on the other', async () => {
  const question = 'What is the warranty on refurbished laptops?';
  await waitInSync(0, 'first warm-up question');
  await waitInSync(1, 'second warm-up question');
  const first = await ask(0, question);
  assert.equal(first.cache, 'miss');
  const other = await askUntilHit(1, question);
  assert.equal(other.cache, 'hit-exact');
  assert.deepEqual(other.data, first.data);
  const paraphrase = await ask(1, 'What is the warranty on a refurbished laptop?');
  assert.equal(paraphrase.cache, 'hit-semantic');
  const negated = await ask(1, 'Is there no warranty on refurbished laptops?');
  assert.equal(negated.cache, 'miss', 'the facts guard holds across replicas');
});

test('entries expire with their TTL, in Redis and on every replica', async () => {
  const short = { 'x-costgate-feature': 'short' };
  const question = 'Is the store open today?';
  assert.equal((await ask(0, question, short)).cache, 'miss');
  assert.equal((await askUntilHit(1, question, short)).cache, 'hit-exact');
  await sleep(1300);
  assert.equal((await ask(1, question, { ...short, 'cache-control': 'no-store' })).cache, 'miss');
  assert.equal((await ask(0, question, { ...short, 'cache-control': 'no-store' })).cache, 'miss');
});

test('Redis killed mid-run: misses without errors; back: the replicas share again', async () => {
  const question = 'Do you price-match other shops?';
  assert.equal((await ask(0, question)).cache, 'miss');
  assert.equal((await askUntilHit(1, question)).cache, 'hit-exact');

  await redis.stop();
  await sleep(200);
  for (let i = 0; i < 5; i += 1) {
    for (const replica of [0, 1]) {
      const answer = await ask(replica, question);
      assert.equal(answer.cache, 'miss', 'an unreachable Redis is a miss');
      assert.equal(answer.data.object, 'chat.completion', 'and the call is served');
    }
  }
  const down = await (await fetch(`${gateways[0].url}/metrics`)).text();
  assert.match(down, /costgate_cache_shared_store_up\{policy="shared"\} 0/);
  const streamed = await clients[0].chat.completions.create({
    model: 'mock-small', stream: true, messages: [{ role: 'user', content: 'A streamed question' }],
  });
  let text = '';
  for await (const chunk of streamed) text += chunk.choices[0]?.delta?.content ?? '';
  assert.ok(text.length > 0, 'streams are served too');

  redis = await startRedis(redis.port);
  const again = 'Do you price-match online shops?';
  await waitInSync(0, 'first warm-up after the outage');
  await waitInSync(1, 'second warm-up after the outage');
  assert.equal((await ask(0, again)).cache, 'miss');
  assert.equal((await askUntilHit(1, again)).cache, 'hit-exact', 'shared again after the restart');
  const up = await (await fetch(`${gateways[1].url}/metrics`)).text();
  assert.match(up, /costgate_cache_shared_store_up\{policy="shared"\} 1/);
  const errors = gateways.flatMap((g) => g.accessLog()).filter((l) => l.status >= 500);
  assert.deepEqual(errors, [], 'no request failed');
});
