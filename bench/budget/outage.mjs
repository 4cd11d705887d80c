// How far an outage lets a budget be passed with on_ledger_error: open (docs/budgets.md,
// "Outages"): two gateway replicas on one redis-server spend part of a small daily budget, Redis is
// frozen, both replicas serve from their stand-in ledgers under concurrent load until each refuses,
// then Redis is thawed and takes what they owe. Prints what Redis holds against the limit and the
// documented bound: (replicas - 1) x what was left when they last saw Redis, plus each replica's
// worst case in flight. bench/budget/outage.sh runs it.
import {
  startMock, startGateway, startRedis, sleep, until, nanosOf, usdText, gatewayConfig,
} from '../../tests/integration/harness.mjs';

const budgetUsd = process.argv[2] ?? '0.05';
const clients = Number(process.argv[3] ?? 16);
const limit = nanosOf(budgetUsd);
// mock-large, 40 output tokens (the cap) and a short prompt: the dearest request sent.
const worst = nanosOf('0.0011');

function config(mockUrl, redisUrl) {
  return gatewayConfig({
    backendUrl: `${mockUrl}/v1`,
    models: ['mock-large'],
    prices: { 'mock-large': '{input: 12.97, output: 21.93}' },
    filters: [
      '{tagging: {defaults: {feature: support, team: core, env: bench}}}',
      `{budget: {ledger: "${redisUrl}", on_ledger_error: open, budgets: [{name: outage, amount_usd: ${budgetUsd}, window: day}]}}`,
    ],
  }) + 'admin:\n  api_key: admin-secret\n';
}

async function chat(gateway, i) {
  const answer = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'mock-large', max_tokens: 40, messages: [{ role: 'user', content: `outage ${i}` }] }),
  });
  await answer.arrayBuffer();
  return answer.status;
}

async function spent(gateway) {
  const answer = await fetch(`${gateway.url}/admin/budgets`, { headers: { authorization: 'Bearer admin-secret' } });
  if (answer.status !== 200) return undefined;
  return nanosOf((await answer.json()).budgets[0].spent_usd);
}

async function pending(gateway) {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  return Number(text.match(/^costgate_budget_pending_settles (\S+)$/m)?.[1] ?? 0);
}

// Sends from `clients` concurrent clients until the replica has refused 20 requests in a row.
async function untilRefused(gateway, from) {
  let refusedInARow = 0;
  let sent = from;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (refusedInARow < 20) {
      const status = await chat(gateway, sent++);
      refusedInARow = status === 429 ? refusedInARow + 1 : 0;
    }
  }));
  return sent - from;
}

const mock = await startMock();
const redis = await startRedis();
const gateways = [await startGateway(config(mock.url, redis.url)), await startGateway(config(mock.url, redis.url))];
try {
  // Up to 60% of the budget, alternating replicas, then every lease back in Redis.
  let i = 0;
  while ((await spent(gateways[0])) < (limit * 6n) / 10n) await chat(gateways[i % 2], i++);
  await until('the leases are back in Redis', async () => (await pending(gateways[0])) === 0 && (await pending(gateways[1])) === 0, 10000);
  for (const g of gateways) await chat(g, i++);  // each replica's last look at Redis
  const seen = await spent(gateways[0]);

  redis.child.kill('SIGSTOP');
  await sleep(1500);  // the leases age out: requests now need Redis
  const sent = await Promise.all(gateways.map((g, n) => untilRefused(g, 1e6 * (n + 1))));
  redis.child.kill('SIGCONT');
  await until('every replica has written what it owes', async () => (await pending(gateways[0])) === 0 && (await pending(gateways[1])) === 0, 20000);
  const total = await until('the ledger answers', () => spent(gateways[0]), 5000);

  const left = limit - seen;
  const bound = left * BigInt(gateways.length - 1) + worst * BigInt(gateways.length * clients);
  const over = total > limit ? total - limit : 0n;
  console.log(`budget $${usdText(limit)}, spent when Redis froze $${usdText(seen)} (left $${usdText(left)}), ` +
    `requests sent during the outage ${sent.join(' + ')}`);
  console.log(`fail-open outage, 2 replicas x ${clients} clients: spent $${usdText(total)} of $${usdText(limit)}: ` +
    `over by $${usdText(over)} (${((Number(over) / Number(limit)) * 100).toFixed(1)}% of the budget); ` +
    `bound (replicas - 1) x left + worst cases in flight: $${usdText(bound)}`);
} finally {
  redis.child.kill('SIGCONT');
  for (const g of gateways) await g.stop();
  await redis.stop();
  await mock.stop();
}
