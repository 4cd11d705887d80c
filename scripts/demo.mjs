// costgate demo: replays a small mixed workload (the savings harness's generator,
// bench/savings/trace.mjs) against a running gateway, then prints what the gateway saved against
// calling the requested models directly, by what saved it. Run as `costgate demo` or
// `node scripts/demo.mjs`; `--help` says how.
//
// Where each figure comes from:
// - "through costgate": the gateway's own books, /metrics' costgate_cost_usd_total (every call it
//   made: escalated attempts included, cache hits at $0), counted from before to after the replay;
// - "direct": each answered request priced at the model the client asked for (GET
//   /v1/models/{id}), with the tokens the client sent (what the backend was sent plus what pruning
//   took out: x-costgate-tokens-saved) and the tokens of the answer it got;
// - cache hits, escalations, tokens pruned, budget actions: /metrics, as the same difference.
// A question the trace marks hard is sent with "[hard]" in it: the mock (costgate-mock, default
// mode) then answers the small model with low confidence, as a real small model would be unsure.

import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { generateTrace, tableKey, turnMessages } from '../bench/savings/trace.mjs';

const kUsage = `usage: costgate demo [--url URL] [--requests N] [--rate R] [--seed S] [--concurrency C] [--json]

Replays a small mixed workload (support FAQ questions, coding conversations with pasted files,
JSON ticket triage: bench/savings/trace.mjs) against a running gateway, then prints what it saved
against calling the requested models directly: cost, cache hits, escalations, tokens pruned and
budget actions, read from the gateway's /metrics. Start the gateway first (scripts/run.sh).

  --url URL          the gateway (default: http://127.0.0.1:8080)
  --requests N       requests to send (default: 240)
  --rate R           requests started per second at most (default: 5), so that the replay spans
                     about a minute as traffic does, and the demo's per-minute budget acts on it
  --seed S           the workload's seed (default: 7; another seed, another workload)
  --concurrency C    conversations in flight at once (default: 4)
  --json             print the figures as one JSON object instead of the table
  --help             print this text and exit
`;

// Which model each feature's client asks for: what a team would call without a gateway.
const kRequestedModel = { support: 'mock-large', coding: 'mock-large', triage: 'mock-small' };

function parseArgs(argv) {
  const args = { url: 'http://127.0.0.1:8080', requests: 240, rate: 5, seed: 7, concurrency: 4, json: false };
  for (let i = 0; i < argv.length; ++i) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') return { help: true };
    if (arg === '--json') { args.json = true; continue; }
    const key = arg.replace(/^--/, '');
    if (!arg.startsWith('--') || !(key in args) || i + 1 >= argv.length) {
      throw new Error(`unknown or incomplete argument '${arg}'`);
    }
    const value = argv[++i];
    if (key === 'url') {
      args.url = value.replace(/\/+$/, '');
    } else {
      args[key] = Number(value);
      if (!Number.isInteger(args[key]) || args[key] < 1) throw new Error(`--${key} takes a positive integer, got '${value}'`);
    }
  }
  return args;
}

// ---- money: integer nano-dollars (BigInt), as the gateway counts them ----

function nanosOf(usd) {
  const text = String(usd);
  const [whole, fraction = ''] = text.replace(/^-/, '').split('.');
  const nanos = BigInt(whole) * 1000000000n + BigInt(fraction.padEnd(9, '0').slice(0, 9));
  return text.startsWith('-') ? -nanos : nanos;
}
// Four decimals, six below a cent (pruning saves fractions of one).
const dollars = (nanos) => `$${(Number(nanos) / 1e9).toFixed(nanos < 10000000n && nanos > -10000000n ? 6 : 4)}`;
const percent = (part, whole) => (whole > 0n ? `${((Number(part) * 100) / Number(whole)).toFixed(1)}%` : 'n/a');

// What `tokens` cost at `price` ({input, cached_input, output} in USD per million tokens), rounded
// once as the gateway rounds (pricing::costOf).
function costOf(price, { input, cached = 0, output }) {
  const perMillion = BigInt(input - cached) * nanosOf(price.input) + BigInt(cached) * nanosOf(price.cached_input)
    + BigInt(output) * nanosOf(price.output);
  return (perMillion + 500000n) / 1000000n;
}

// ---- the gateway's /metrics ----

// Every sample of the Prometheus text: [{name, labels, value}] (values as text, so that USD
// amounts stay exact).
export function parseMetrics(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels = {};
    for (const [, key, value] of (match[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key] = value;
    samples.push({ name: match[1], labels, value: match[4] });
  }
  return samples;
}

// The counters the table reads, summed over their series.
export function countersOf(samples) {
  const sum = (name, keep = () => true) => samples.filter((s) => s.name === name && keep(s.labels))
    .reduce((total, s) => total + Number(s.value), 0);
  const usd = (name) => samples.filter((s) => s.name === name).reduce((total, s) => total + nanosOf(Number(s.value).toFixed(9)), 0n);
  return {
    cost: usd('costgate_cost_usd_total'),
    cache_saved: usd('costgate_cache_saved_usd_total'),
    cache_exact: sum('costgate_cache_requests_total', (l) => l.result === 'hit-exact'),
    cache_semantic: sum('costgate_cache_requests_total', (l) => l.result === 'hit-semantic'),
    cache_miss: sum('costgate_cache_requests_total', (l) => l.result === 'miss'),
    escalations: sum('costgate_escalations_total'),
    cascaded: sum('costgate_route_decisions_total', (l) => l.tier === 'cascade'),
    tokens_pruned: sum('costgate_tokens_saved_total'),
    budget_degraded: sum('costgate_budget_degradations_total'),
    budget_refused: sum('costgate_budget_rejections_total'),
    rate_limited: sum('costgate_rate_limited_total'),
  };
}

export async function scrape(url) {
  const response = await fetch(`${url}/metrics`);
  if (!response.ok) throw new Error(`GET ${url}/metrics answered ${response.status}`);
  return countersOf(parseMetrics(await response.text()));
}

function difference(after, before) {
  const out = {};
  for (const key of Object.keys(after)) out[key] = after[key] - before[key];
  return out;
}

// ---- the replay ----

async function priceOf(url, model) {
  const response = await fetch(`${url}/v1/models/${model}`);
  if (response.status === 404) throw new Error(`the gateway serves no model '${model}' (the demo needs the default config, config/costgate.yaml)`);
  const body = await response.json();
  if (!body.costgate_price) throw new Error(`model '${model}' has no price on the gateway`);
  return body.costgate_price;
}

// The answer's text and usage from a stream: content deltas, and the usage chunk asked for with
// stream_options.include_usage.
async function readStream(response) {
  const text = await response.text();
  let content = '';
  let usage = null;
  for (const line of text.split('\n')) {
    if (!line.startsWith('data: {')) continue;
    const chunk = JSON.parse(line.slice(6));
    content += chunk.choices?.[0]?.delta?.content ?? '';
    if (chunk.usage) usage = usageOf(chunk.usage);
  }
  return { content, usage };
}

const usageOf = (usage) => ({
  input: usage.prompt_tokens ?? 0,
  cached: usage.prompt_tokens_details?.cached_tokens ?? 0,
  output: usage.completion_tokens ?? 0,
});

// One request: what the client saw of it.
async function send(url, body, feature) {
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-costgate-feature': feature, 'x-costgate-team': 'demo' },
    body: JSON.stringify(body),
  });
  const header = (name) => response.headers.get(name);
  const seen = {
    status: response.status,
    saved: Number(header('x-costgate-tokens-saved') ?? 0),
    warned: header('x-costgate-budget-warning') !== null,
    degraded: header('x-costgate-budget-degraded') !== null,
    content: '',
    usage: null,
  };
  if (response.status !== 200) {
    const error = await response.json().catch(() => ({}));
    seen.code = error.error?.code ?? String(response.status);
    return seen;
  }
  if (body.stream) {
    Object.assign(seen, await readStream(response));
  } else {
    const data = await response.json();
    seen.content = data.choices?.[0]?.message?.content ?? '';
    seen.usage = data.usage ? usageOf(data.usage) : null;
  }
  return seen;
}

function requestBody(conversation, t, answers, hard) {
  const messages = turnMessages(conversation, t, answers);
  if (hard) messages[messages.length - 1] = { ...messages.at(-1), content: `${messages.at(-1).content} [hard]` };
  const body = { model: kRequestedModel[conversation.feature], messages };
  if (conversation.max_tokens) body.max_tokens = conversation.max_tokens;
  if (conversation.response_format) body.response_format = conversation.response_format;
  if (conversation.stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };  // a cache hit's replay has no cost comment
  }
  return body;
}

function progressBar(done, total, started) {
  if (!process.stderr.isTTY) return;
  const width = 32;
  const filled = Math.round((done / total) * width);
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  process.stderr.write(`\r  [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} requests, ${seconds} s `);
  if (done === total) process.stderr.write('\n');
}

// Replays the trace; returns what the client saw, totalled.
async function replay(args, prices) {
  const trace = generateTrace({ requests: args.requests, seed: args.seed });
  const totals = {
    requests: 0, answered: 0, refused: 0, failed: 0, warned: 0, degraded_seen: 0, tokens_saved_seen: 0, pruned_value: 0n,
    direct: 0n, by_feature: {},
  };
  const started = performance.now();
  let next = 0;
  let scheduled = 0;
  // The n-th request starts no earlier than n / rate seconds in.
  const pace = async () => {
    const due = started + (scheduled++ * 1000) / args.rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolvePromise) => setTimeout(resolvePromise, wait));
  };
  const worker = async () => {
    while (next < trace.conversations.length) {
      const conversation = trace.conversations[next++];
      const answers = [];
      const feature = (totals.by_feature[conversation.feature] ??= { requests: 0, direct: 0n });
      for (let t = 0; t < conversation.turns.length; ++t) {
        const entry = trace.table.entries[tableKey(conversation.turns[t].user)];
        const body = requestBody(conversation, t, answers, entry.hard);
        await pace();
        const seen = await send(args.url, body, conversation.feature);
        answers.push(seen.content);
        totals.requests += 1;
        feature.requests += 1;
        if (seen.warned) totals.warned += 1;
        if (seen.degraded) totals.degraded_seen += 1;
        if (seen.status === 429) {
          totals.refused += 1;
        } else if (seen.status !== 200 || !seen.usage) {
          totals.failed += 1;
        } else {
          totals.answered += 1;
          totals.tokens_saved_seen += seen.saved;
          totals.pruned_value += costOf(prices[body.model], { input: seen.saved, output: 0 });
          // What the client's own request would have cost at the model it asked for.
          const direct = costOf(prices[body.model], { ...seen.usage, input: seen.usage.input + seen.saved });
          totals.direct += direct;
          feature.direct += direct;
        }
        progressBar(totals.requests, trace.requests, started);
      }
    }
  };
  await Promise.all(Array.from({ length: args.concurrency }, worker));
  totals.seconds = (performance.now() - started) / 1000;
  return totals;
}

// ---- the report ----

export function figures(seen, metrics, url) {
  const hits = metrics.cache_exact + metrics.cache_semantic;
  return {
    gateway: url,
    requests: seen.requests,
    answered: seen.answered,
    seconds: Number(seen.seconds.toFixed(1)),
    requests_by_feature: Object.fromEntries(Object.entries(seen.by_feature).map(([name, f]) => [name, f.requests])),
    direct_usd: (Number(seen.direct) / 1e9).toFixed(9),
    through_usd: (Number(metrics.cost) / 1e9).toFixed(9),
    saved_usd: (Number(seen.direct - metrics.cost) / 1e9).toFixed(9),
    cache: { hits, exact: metrics.cache_exact, semantic: metrics.cache_semantic, misses: metrics.cache_miss, saved_usd: (Number(metrics.cache_saved) / 1e9).toFixed(9) },
    routing: { cascaded: metrics.cascaded, escalations: metrics.escalations },
    pruning: { tokens_pruned: metrics.tokens_pruned, tokens_pruned_seen: seen.tokens_saved_seen, saved_usd: (Number(seen.pruned_value) / 1e9).toFixed(9) },
    budget: { warned: seen.warned, degraded: metrics.budget_degraded, refused: metrics.budget_refused, rate_limited: metrics.rate_limited },
    failed: seen.failed,
    dashboard: `${url}/dashboard`,
  };
}

export function table(f) {
  const direct = nanosOf(f.direct_usd);
  const through = nanosOf(f.through_usd);
  const byFeature = Object.entries(f.requests_by_feature).map(([name, n]) => `${name} ${n}`).join(', ');
  const row = (what, figure, detail = '') => `  ${what.padEnd(14)}${figure.padEnd(26)}${detail}`;
  const lines = [
    `costgate demo: ${f.requests} requests (${byFeature}) to ${f.gateway} in ${f.seconds} s`,
    '',
    row('cost', `direct ${dollars(direct)}`, `through costgate ${dollars(through)}: saved ${dollars(direct - through)} (${percent(direct - through, direct)})`),
    row('cache', `${f.cache.hits} hits`, `${f.cache.exact} exact, ${f.cache.semantic} semantic, ${f.cache.misses} misses; answers worth ${dollars(nanosOf(f.cache.saved_usd))} not bought again`),
    row('routing', `${f.routing.escalations} escalations`, `${f.routing.cascaded} requests for mock-large tried mock-small first; ${f.routing.cascaded - f.routing.escalations} stayed there`),
    row('pruning', `${f.pruning.tokens_pruned} tokens pruned`, `repeated messages and whitespace not sent: ${dollars(nanosOf(f.pruning.saved_usd))} at the requested models' input price`),
    row('budget', `${f.budget.warned} warned`, `${f.budget.degraded} degraded to mock-small, ${f.budget.refused} refused (429) by the coding feature's per-minute budget`),
  ];
  if (f.failed > 0) lines.push(row('failed', `${f.failed} requests`, 'answered with an error other than a budget refusal'));
  lines.push('', `"direct": each answered request priced at the model it asked for, with the tokens it sent and got.`,
    `"through costgate": what the gateway was charged (/metrics, costgate_cost_usd_total), escalated attempts included.`,
    '', `Dashboard: ${f.dashboard}    Metrics: ${f.gateway}/metrics    Spend: ${f.gateway}/costgate/spend`);
  return lines.join('\n') + '\n';
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`costgate demo: ${error.message}\n${kUsage}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(kUsage);
    return 0;
  }
  let before;
  try {
    before = await scrape(args.url);
  } catch (error) {
    process.stderr.write(`costgate demo: cannot reach the gateway at ${args.url} (${error.cause?.code ?? error.message}); start it with scripts/run.sh, or give --url\n`);
    return 1;
  }
  const prices = {};
  for (const model of new Set(Object.values(kRequestedModel))) prices[model] = await priceOf(args.url, model);
  if (!args.json) process.stderr.write(`Replaying ${args.requests} requests against ${args.url} ...\n`);
  const seen = await replay(args, prices);
  // The gateway records a call once its reply is sent: wait for the last ones to be counted.
  let after = await scrape(args.url);
  const same = (a, b) => Object.keys(a).every((key) => a[key] === b[key]);
  for (let i = 0; i < 20; ++i) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const again = await scrape(args.url);
    if (same(after, again)) break;
    after = again;
  }
  const result = figures(seen, difference(after, before), args.url);
  process.stdout.write(args.json ? `${JSON.stringify(result, null, 2)}\n` : table(result));
  return result.failed > 0 ? 1 : 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main().catch((error) => {
    process.stderr.write(`costgate demo: ${error.stack ?? error}\n`);
    return 1;
  });
}
