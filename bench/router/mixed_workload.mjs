// The cascading router on a synthetic mixed workload (bench/router/run.sh starts the processes).
// The same prompts go once through a cascade (mock-small first, mock-large when its answer is
// judged weak) and once straight to mock-large; the report is the share the small model served,
// the cost of the cascade against all-large (both from the gateway's own spend report, every
// attempt included), and how many hard prompts the small model wrongly kept.
//
// The mix (seeded, documented here and printed):
//   55% easy questions                     the small model is sure: it should keep them
//   10% easy JSON tasks (json_object)      valid JSON from the small model: keep
//   25% hard questions, marked [hard]      the small model is unsure (low logprobs): escalate
//    5% the small model refuses            (x-mock-refuse on mock-small only): escalate
//    5% the small model is cut short       (finish_reason length on mock-small only): escalate
const [gatewayUrl, countArg = '400', concurrencyArg = '8', seedArg = '7'] = process.argv.slice(2);
const count = Number(countArg);
const concurrency = Number(concurrencyArg);

function prng(seed) {
  let state = BigInt(seed) || 1n;
  return () => {
    state ^= state << 13n; state &= (1n << 64n) - 1n;
    state ^= state >> 7n;
    state ^= state << 17n; state &= (1n << 64n) - 1n;
    return Number(state % 1000000n) / 1000000;
  };
}
const random = prng(seedArg);
const topics = ['invoices', 'passwords', 'shipping', 'refunds', 'API keys', 'webhooks', 'exports', 'teams'];
const kinds = [
  [0.55, 'easy'], [0.10, 'json'], [0.25, 'hard'], [0.05, 'refused'], [0.05, 'truncated'],
];
function pick() {
  let r = random();
  for (const [share, kind] of kinds) { if ((r -= share) < 0) return kind; }
  return 'easy';
}
const prompts = Array.from({ length: count }, (_, i) => {
  const kind = pick();
  const topic = topics[Math.floor(random() * topics.length)];
  const body = { model: 'mock-small', messages: [{ role: 'user', content: `Question ${i} about ${topic}: how does it work?` }] };
  const headers = { 'content-type': 'application/json' };
  if (kind === 'json') body.response_format = { type: 'json_object' };
  if (kind === 'hard') body.messages[0].content = `[hard] Question ${i}: prove the ${topic} invariant holds.`;
  if (kind === 'refused') Object.assign(headers, { 'x-mock-only-model': 'mock-small', 'x-mock-refuse': '1' });
  if (kind === 'truncated') Object.assign(headers, { 'x-mock-only-model': 'mock-small', 'x-mock-finish-reason': 'length' });
  return { kind, body, headers, hard: kind === 'hard' || kind === 'refused' || kind === 'truncated' };
});

async function run(feature) {
  const served = new Array(prompts.length);
  let next = 0;
  async function worker() {
    while (next < prompts.length) {
      const i = next++;
      const p = prompts[i];
      const response = await fetch(`${gatewayUrl}/v1/chat/completions`, {
        method: 'POST', headers: { ...p.headers, 'x-costgate-feature': feature }, body: JSON.stringify(p.body),
      });
      if (response.status !== 200) throw new Error(`${feature} #${i}: ${response.status} ${await response.text()}`);
      await response.arrayBuffer();
      served[i] = response.headers.get('x-costgate-model');
    }
  }
  const started = Date.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { served, seconds: (Date.now() - started) / 1000 };
}

const cascade = await run('cascade');
const direct = await run('direct');
const spend = await (await fetch(`${gatewayUrl}/costgate/spend`)).json();
const costOf = (feature) => spend.groups.filter((g) => g.feature === feature)
  .reduce((sum, g) => sum + Number(g.cost_usd), 0);

const byKind = {};
for (const [i, p] of prompts.entries()) {
  byKind[p.kind] ??= { total: 0, small: 0 };
  byKind[p.kind].total += 1;
  if (cascade.served[i] === 'mock-small') byKind[p.kind].small += 1;
}
const small = cascade.served.filter((m) => m === 'mock-small').length;
const hard = prompts.filter((p) => p.hard);
const hardKept = prompts.filter((p, i) => p.hard && cascade.served[i] === 'mock-small').length;
const easy = prompts.filter((p) => !p.hard);
const easyEscalated = prompts.filter((p, i) => !p.hard && cascade.served[i] !== 'mock-small').length;
const cascadeCost = costOf('cascade');
const directCost = costOf('direct');
const pct = (a, b) => (b ? (100 * a / b).toFixed(1) : '0.0');

console.log(`router mixed workload: ${count} prompts, ${concurrency} at a time, seed ${seedArg}`);
for (const [kind, { total, small: kept }] of Object.entries(byKind)) {
  console.log(`  ${kind.padEnd(10)} ${String(total).padStart(5)} prompts, served by mock-small: ${kept}`);
}
console.log(`share served by the small model: ${pct(small, count)}% (${small} of ${count})`);
console.log(`hard prompts wrongly kept on the small model: ${pct(hardKept, hard.length)}% (${hardKept} of ${hard.length})`);
console.log(`easy prompts escalated anyway: ${pct(easyEscalated, easy.length)}% (${easyEscalated} of ${easy.length})`);
console.log(`cost: cascade $${cascadeCost.toFixed(6)}, all on mock-large $${directCost.toFixed(6)}; ratio ${(cascadeCost / directCost).toFixed(3)} (every escalated attempt charged)`);
console.log(`time: cascade ${cascade.seconds.toFixed(2)} s, direct ${direct.seconds.toFixed(2)} s`);
