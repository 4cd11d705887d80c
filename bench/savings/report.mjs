// The savings harness's figures: from the two passes' records (replay.mjs), the mock's bill of
// each pass and the gateway's access log. Money is counted in integer nano-dollars (BigInt).

import { readFileSync } from 'node:fs';

const configPath = new URL('./costgate.yaml', import.meta.url);

// Nano-dollars per million tokens of each model in costgate.yaml, so the direct pass is priced
// exactly as the gateway prices the other: {model: {input, cached_input, output}}.
export function pricesFromConfig(text = readFileSync(configPath, 'utf8')) {
  const prices = {};
  const pattern = /^ {2}([\w.-]+):\s*\n(?: {4}.*\n)*? {4}price:\s*\{([^}]*)\}/gm;
  for (const [, model, fields] of text.matchAll(pattern)) {
    const price = {};
    for (const [, key, value] of fields.matchAll(/(\w+):\s*([\d.]+)/g)) price[key] = decimalNanos(value);
    price.cached_input ??= price.input;
    prices[model] = price;
  }
  return prices;
}

// "0.000026" -> 26000n nano-dollars, exactly (the access log writes costs as decimal text).
export function decimalNanos(text) {
  const [whole, fraction = ''] = text.split('.');
  return BigInt(whole || '0') * 1_000_000_000n + BigInt((fraction + '000000000').slice(0, 9));
}

// What `tokens` cost at `price` (per million tokens, in nanos).
function tokenCost(price, { prompt = 0, cached = 0, completion = 0 }) {
  const perMillion = BigInt(prompt - cached) * price.input + BigInt(cached) * price.cached_input +
    BigInt(completion) * price.output;
  return perMillion / 1_000_000n;
}

// The mock's bill for a pass ({model: {calls, prompt_tokens, cached_tokens, completion_tokens}}),
// priced: total nanos, tokens.
export function priceBill(bill, prices) {
  let nanos = 0n, prompt = 0, cached = 0, calls = 0;
  const models = {};
  for (const [model, counts] of Object.entries(bill)) {
    const price = prices[model];
    if (!price) throw new Error(`no price for the mock's model ${model} in costgate.yaml`);
    const parts = {
      input: tokenCost(price, { prompt: counts.prompt_tokens - counts.cached_tokens }),
      cached: tokenCost(price, { prompt: counts.cached_tokens, cached: counts.cached_tokens }),
      output: tokenCost(price, { completion: counts.completion_tokens }),
    };
    models[model] = { ...counts, ...parts };
    nanos += tokenCost(price, { prompt: counts.prompt_tokens, cached: counts.cached_tokens, completion: counts.completion_tokens });
    prompt += counts.prompt_tokens;
    cached += counts.cached_tokens;
    calls += counts.calls;
  }
  return { nanos, prompt, cached, calls, models };
}

// Every cost_usd of an access-log line (the call's and each side call's), added exactly.
// What the gateway charged by its own count (a cut stream's side call: providers report no usage
// for a cancelled stream), part of lineCost.
export function estimatedCost(raw) {
  let nanos = 0n;
  for (const [, value] of raw.matchAll(/"cost_usd":([0-9.]+),"usage_source":"estimated"/g)) nanos += decimalNanos(value);
  return nanos;
}

export function lineCost(raw) {
  let nanos = 0n;
  for (const [, value] of raw.matchAll(/"cost_usd":([0-9.]+)/g)) nanos += decimalNanos(value);
  return nanos;
}

const usd = (nanos) => `$${(Number(nanos) / 1e9).toFixed(4)}`;
const pct = (part, whole) => (whole === 0 ? 'n/a' : `${((100 * part) / whole).toFixed(1)}%`);
const ratio = (a, b) => (b === 0 || b === 0n ? 'n/a' : `${(Number(a) / Number(b)).toFixed(2)}x`);
function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
const ms = (value) => (Number.isNaN(value) ? 'n/a' : `${Math.round(value)} ms`);
// What costgate added to a direct time, as a signed difference and a ratio.
const added = (through, direct) => {
  if (Number.isNaN(through) || Number.isNaN(direct)) return 'n/a';
  const diff = Math.round(through - direct);
  return `${diff >= 0 ? '+' : ''}${diff} ms, ${ratio(through, direct)}`;
};
const isCheap = (model) => /small|mini/i.test(model ?? '');

// Why a served answer through costgate is wrong, or null when it is right.
export function wrongCause(record) {
  if (record.verdict === 'right') return null;
  if (record.verdict === 'error') return 'no answer (error)';
  if ((record['x-costgate-cache'] ?? '').startsWith('hit')) {
    return record.verdict === 'wrong' ? 'cache hit replaying a wrong answer' : "cache hit replaying another question's answer";
  }
  if (record.verdict === 'unknown_prompt') return 'prompt changed by the gateway (unknown to the table)';
  if (record.verdict !== 'wrong') return `answer of another question (${record.verdict})`;
  if (!isCheap(record['x-costgate-model'])) return 'strong model wrong (a mock bug)';
  if (record.failure === 'confident') return 'cheap model wrong, confident (no signal to judge)';
  return record.stream ? 'cheap model wrong with a signal, streamed (not judged or accepted)'
    : 'cheap model wrong with a signal, judged and accepted';
}

// The figures of one run. `direct` and `through`: replay records; `bills`: {direct, through} as
// GET /mock/stats "models"; `accessLog`: the gateway's raw access-log lines.
export function summarize({ direct, through, oracle = null, bills, accessLog, prices = pricesFromConfig() }) {
  const logById = new Map();
  for (const raw of accessLog) {
    const match = raw.match(/"request_id":"([^"]*)"/);
    if (match) logById.set(match[1], raw);
  }
  const features = ['all', ...new Set(direct.map((r) => r.feature))];
  const inFeature = (records, f) => (f === 'all' ? records : records.filter((r) => r.feature === f));
  const usageCost = (r, model) => (r.usage
    ? tokenCost(prices[model], { prompt: r.usage.prompt_tokens, cached: r.usage.prompt_tokens_details?.cached_tokens ?? 0, completion: r.usage.completion_tokens })
    : 0n);
  const directCost = (r) => usageCost(r, 'mock-large');
  const throughLine = (r) => logById.get(r['x-request-id']);
  const out = { features: {}, lines: [] };
  for (const f of features) {
    const d = inFeature(direct, f), t = inFeature(through, f);
    const costDirect = d.reduce((sum, r) => sum + directCost(r), 0n);
    const costOracle = oracle ? inFeature(oracle, f).reduce((sum, r) => sum + usageCost(r, r.model), 0n) : null;
    const costThrough = t.reduce((sum, r) => sum + (throughLine(r) ? lineCost(throughLine(r)) : 0n), 0n);
    const estimatedThrough = t.reduce((sum, r) => sum + (throughLine(r) ? estimatedCost(throughLine(r)) : 0n), 0n);
    const wrong = {};
    for (const r of t) {
      const cause = wrongCause(r);
      if (cause) wrong[cause] = (wrong[cause] ?? 0) + 1;
    }
    const wrongTotal = Object.values(wrong).reduce((a, b) => a + b, 0);
    const hard = t.filter((r) => r.hard);
    const hardCheap = hard.filter((r) => isCheap(r['x-costgate-model']) && !(r['x-costgate-cache'] ?? '').startsWith('hit'));
    const cachedShare = (records, fromLog) => {
      let prompt = 0, cached = 0;
      for (const r of records) {
        if (fromLog) {
          const raw = throughLine(r);
          const tin = raw?.match(/"tokens_in":(\d+)/), tc = raw?.match(/"cached_tokens":(\d+)/);
          if (!raw || /"usage_source":"cache"/.test(raw)) continue;
          prompt += Number(tin?.[1] ?? 0);
          cached += Number(tc?.[1] ?? 0);
        } else if (r.usage) {
          prompt += r.usage.prompt_tokens;
          cached += r.usage.prompt_tokens_details?.cached_tokens ?? 0;
        }
      }
      return { prompt, cached };
    };
    out.features[f] = {
      requests: t.length,
      answered: t.filter((r) => r.status === 200).length,
      directRight: d.filter((r) => r.verdict === 'right').length,
      costDirect, costThrough, costOracle, estimatedThrough, wrong, wrongTotal,
      hard: hard.length, hardCheap: hardCheap.length,
      cachedDirect: cachedShare(d, false), cachedThrough: cachedShare(t, true),
      latency: {
        direct: [percentile(d.map((r) => r.latencyMs), 50), percentile(d.map((r) => r.latencyMs), 99)],
        through: [percentile(t.map((r) => r.latencyMs), 50), percentile(t.map((r) => r.latencyMs), 99)],
      },
      ttft: {
        direct: [50, 99].map((p) => percentile(d.filter((r) => r.ttftMs !== null).map((r) => r.ttftMs), p)),
        through: [50, 99].map((p) => percentile(t.filter((r) => r.ttftMs !== null).map((r) => r.ttftMs), p)),
      },
      missingLogLines: t.filter((r) => r.status === 200 && !throughLine(r)).length,
    };
  }
  out.bills = { direct: priceBill(bills.direct, prices), through: priceBill(bills.through, prices) };
  out.lines = reportLines(out);
  return out;
}

function reportLines({ features, bills }) {
  const lines = [];
  const all = features.all;
  const costTarget = { all: ' (target >= 3x)', coding: ' (target >= 2x)' };
  lines.push(`requests ${all.requests}, answered through costgate ${all.answered}, direct answers right ${all.directRight} of ${all.requests}`);
  for (const [f, x] of Object.entries(features)) {
    lines.push(`${f}: cost direct ${usd(x.costDirect)} costgate ${usd(x.costThrough)} ratio ${ratio(x.costDirect, x.costThrough)}${costTarget[f] ?? ''}`);
  }
  for (const [f, x] of Object.entries(features)) {
    if (x.costOracle === null) continue;
    lines.push(`${f}: perfect routing alone (each turn straight to the model its difficulty needs) cost ${usd(x.costOracle)} ratio ${ratio(x.costDirect, x.costOracle)}`);
  }
  lines.push(`bill check: direct priced from responses ${usd(all.costDirect)}, mock's bill ${usd(bills.direct.nanos)}; ` +
    `costgate access log ${usd(all.costThrough)}, mock's bill ${usd(bills.through.nanos)} (difference ${(Number(all.costThrough - bills.through.nanos) / 1e9).toFixed(9)} USD; ` +
    `${usd(all.estimatedThrough)} of the log is the gateway's own count of cut streams, which report no usage)`);
  for (const [pass, bill] of Object.entries(bills)) {
    for (const [model, m] of Object.entries(bill.models)) {
      lines.push(`bill ${pass} ${model}: ${m.calls} calls, input ${m.prompt_tokens - m.cached_tokens} tokens ${usd(m.input)}, ` +
        `cached ${m.cached_tokens} tokens ${usd(m.cached)}, output ${m.completion_tokens} tokens ${usd(m.output)}`);
    }
  }
  for (const [f, x] of Object.entries(features)) {
    lines.push(`${f}: wrong answers served ${x.wrongTotal} of ${x.requests} (${pct(x.wrongTotal, x.requests)})${f === 'all' ? ' (target <= 1%)' : ''}`);
    for (const [cause, n] of Object.entries(x.wrong).sort((a, b) => b[1] - a[1])) lines.push(`  ${cause}: ${n}`);
  }
  const cacheWrong = all.wrong['cache hit replaying a wrong answer'] ?? 0;
  const cacheOther = all.wrong["cache hit replaying another question's answer"] ?? 0;
  lines.push(`all: wrong answers replayed by the cache ${cacheWrong + cacheOther} (target 0)`);
  for (const [f, x] of Object.entries(features)) {
    lines.push(`${f}: hard prompts answered by the cheap model ${x.hardCheap} of ${x.hard} (${pct(x.hardCheap, x.hard)})${f === 'all' ? ' (target <= 5%)' : ''}`);
  }
  lines.push(`all: provider-cached share of input tokens (mock's bill) direct ${pct(bills.direct.cached, bills.direct.prompt)} ` +
    `costgate ${pct(bills.through.cached, bills.through.prompt)} (target costgate >= direct)`);
  for (const [f, x] of Object.entries(features)) {
    if (f === 'all') continue;
    lines.push(`${f}: provider-cached share of input tokens direct ${pct(x.cachedDirect.cached, x.cachedDirect.prompt)} costgate ${pct(x.cachedThrough.cached, x.cachedThrough.prompt)}`);
  }
  for (const [f, x] of Object.entries(features)) {
    const [d50, d99] = x.latency.direct, [t50, t99] = x.latency.through;
    lines.push(`${f}: latency p50 direct ${ms(d50)} costgate ${ms(t50)} (${added(t50, d50)}), p99 direct ${ms(d99)} costgate ${ms(t99)} (${added(t99, d99)})`);
    const [f50, f99] = x.ttft.direct, [g50, g99] = x.ttft.through;
    if (!Number.isNaN(f50)) {
      lines.push(`${f}: stream time to first token p50 direct ${ms(f50)} costgate ${ms(g50)} (${added(g50, f50)}), ` +
        `p99 direct ${ms(f99)} costgate ${ms(g99)} (${added(g99, f99)})${f === 'all' ? ' (target <= 1.3x)' : ''}`);
    }
  }
  if (all.missingLogLines) lines.push(`warning: ${all.missingLogLines} answered requests have no access-log line`);
  return lines;
}
