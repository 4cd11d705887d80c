// The savings harness (docs/benchmarks.md, "Savings on realistic traffic"): generates a trace,
// starts the mock in its realistic mode and the gateway with bench/savings/costgate.yaml, replays
// the trace DIRECT (model mock-large, straight to the mock) and THROUGH costgate (the same requests,
// tagged with their feature), resetting the mock's bill between the passes, and prints the figures.
//
//   node bench/savings/run.mjs [--requests N] [--seed S] [--time-scale X] [--build DIR]
//                              [--coding-hard SHARE] [--config FILE (another gateway configuration)]
//                              [--oracle 1 (also price perfect routing: each turn to the model its
//                                difficulty needs, straight to the mock)]
//
// runPasses() is the part tests/integration/savings.test.mjs shares.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { generateTrace } from './trace.mjs';
import { replay } from './replay.mjs';
import { pricesFromConfig, summarize } from './report.mjs';

export const configPath = fileURLToPath(new URL('./costgate.yaml', import.meta.url));

async function mockBill(mockUrl) {
  const stats = await (await fetch(`${mockUrl}/mock/stats`)).json();
  if (!stats.models) throw new Error('the mock was not started with --savings-table');
  return stats.models;
}
async function resetMock(mockUrl) {
  const response = await fetch(`${mockUrl}/mock/stats/reset`, { method: 'POST' });
  if (!response.ok) throw new Error(`resetting the mock's bill: HTTP ${response.status}`);
}

// Both passes and their figures. `accessLog()` returns the gateway's access-log lines so far.
// `oracle` adds a third pass that sends each turn straight to the model its difficulty needs (the
// table's hard ones to mock-large, the rest to mock-small): what perfect routing alone would cost.
export async function runPasses({ mockUrl, gatewayUrl, trace, table, accessLog, concurrency = 8, oracle = false, prices, progress = () => {} }) {
  await resetMock(mockUrl);
  progress('direct pass');
  const direct = await replay({ baseURL: `${mockUrl}/v1`, trace, table, concurrency });
  const directBill = await mockBill(mockUrl);
  await resetMock(mockUrl);
  progress('costgate pass');
  const through = await replay({
    baseURL: `${gatewayUrl}/v1`, trace, table, concurrency,
    headersOf: (feature) => ({ 'x-costgate-feature': feature }),
  });
  const throughBill = await mockBill(mockUrl);
  // The last lines of the log may be written just after the last answer.
  const answered = new Set(through.filter((r) => r.status === 200).map((r) => r['x-request-id']));
  for (let i = 0; i < 50; ++i) {
    const logged = accessLog().filter((l) => answered.has(l.match(/"request_id":"([^"]*)"/)?.[1])).length;
    if (logged >= answered.size) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  let oracleRecords = null;
  if (oracle) {
    await resetMock(mockUrl);
    progress('oracle pass');
    oracleRecords = await replay({
      baseURL: `${mockUrl}/v1`, trace, table, concurrency,
      modelOf: (entry) => (entry.hard ? 'mock-large' : 'mock-small'),
    });
  }
  const summary = summarize({
    direct, through, oracle: oracleRecords, bills: { direct: directBill, through: throughBill }, accessLog: accessLog(), ...(prices ? { prices } : {}),
  });
  return { direct, through, summary };
}

// Starts `binary` with `args` and resolves once a line of its `stream` matches `ready`; keeps
// every stdout line.
function start(binary, args, { ready, stream, env = {} }) {
  const child = spawn(binary, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = { stdout: [], stderr: [] };
  let resolveReady, rejectReady;
  const readyPromise = new Promise((resolve, reject) => { resolveReady = resolve; rejectReady = reject; });
  for (const name of ['stdout', 'stderr']) {
    let partial = '';
    child[name].setEncoding('utf8');
    child[name].on('data', (text) => {
      const parts = (partial + text).split('\n');
      partial = parts.pop();
      for (const line of parts) {
        lines[name].push(line);
        const match = name === stream && line.match(ready);
        if (match) resolveReady(match);
      }
    });
  }
  child.on('exit', (code) => rejectReady(new Error(`${binary} exited (${code}): ${lines.stderr.join('\n')}`)));
  return { child, lines, ready: readyPromise };
}

async function main() {
  const args = { requests: 2432, seed: 7, 'time-scale': 0.2, build: 'build', concurrency: 8, 'coding-hard': 0.2, config: configPath, oracle: 0 };
  for (let i = 2; i < process.argv.length; i += 2) {
    const key = process.argv[i].replace(/^--/, '');
    if (!(key in args)) throw new Error(`unknown argument ${process.argv[i]}`);
    args[key] = key === 'build' || key === 'config' ? process.argv[i + 1] : Number(process.argv[i + 1]);
  }
  const dir = mkdtempSync(join(tmpdir(), 'costgate-savings-'));
  const children = [];
  try {
    const trace = generateTrace({ requests: args.requests, seed: args.seed, codingHard: args['coding-hard'] });
    const table = trace.table;
    writeFileSync(join(dir, 'table.json'), JSON.stringify(table));
    const mock = start(join(args.build, 'costgate-mock'),
      ['--listen', '127.0.0.1:0', '--threads', '2', '--savings-table', join(dir, 'table.json'), '--time-scale', String(args['time-scale'])],
      { ready: /listening on ([\d.]+):(\d+)/, stream: 'stdout' });
    children.push(mock.child);
    const mockUrl = `http://127.0.0.1:${(await mock.ready)[2]}`;
    const gateway = start(join(args.build, 'costgate'), ['--config', args.config],
      { ready: /listening on (\S+):(\d+)/, stream: 'stderr', env: { SAVINGS_MOCK_URL: `${mockUrl}/v1` } });
    children.push(gateway.child);
    const gatewayUrl = `http://127.0.0.1:${(await gateway.ready)[2]}`;
    const accessLog = () => gateway.lines.stdout.filter((l) => l.startsWith('{'));
    const requests = trace.conversations.reduce((n, c) => n + c.turns.length, 0);
    console.log(`savings: ${requests} requests in ${trace.conversations.length} conversations, seed ${args.seed}, ` +
      `time scale ${args['time-scale']}, ${args.concurrency} conversations at a time, coding hard share ${args['coding-hard']} (+ half the rewrites)`);
    const started = Date.now();
    const { summary, through } = await runPasses({
      mockUrl, gatewayUrl, trace, table, accessLog, concurrency: args.concurrency, oracle: args.oracle > 0,
      prices: pricesFromConfig(readFileSync(args.config, 'utf8')),
      progress: (what) => console.log(`savings: ${what} (${((Date.now() - started) / 1000).toFixed(0)} s)`),
    });
    for (const line of summary.lines) console.log(line);
    // For a closer look at the gateway's decisions: SAVINGS_ACCESS_LOG=file keeps its access log.
    if (process.env.SAVINGS_ACCESS_LOG) writeFileSync(process.env.SAVINGS_ACCESS_LOG, `${accessLog().join('\n')}\n`);
    // ... and SAVINGS_RECORDS=file the client's record of each request through costgate.
    if (process.env.SAVINGS_RECORDS) writeFileSync(process.env.SAVINGS_RECORDS, through.map((r) => JSON.stringify(r)).join('\n') + '\n');
  } finally {
    for (const child of children) child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
