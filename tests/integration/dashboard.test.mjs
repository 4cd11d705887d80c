// The built-in dashboard end to end: traffic through the official openai SDK, /costgate/summary
// checked against what that traffic cost, then headless Chromium (Debian's chromium package,
// installed by scripts/setup.sh --test) loads /dashboard from the gateway, runs its script, and
// the rendered page must show that spend and request count. A screenshot is kept in
// tests/integration/artifacts/ for a person to look at.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdirSync, rmSync, statSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { startMock, startGateway, gatewayConfig, tempDir, nanosOf, usdText } from './harness.mjs';

const artifacts = join(dirname(fileURLToPath(import.meta.url)), 'artifacts');

let mock;
let gateway;
let client;
// What the test's own traffic did, from the gateway's answers.
const sent = { requests: 0, costNanos: 0n, hits: 0, features: new Set() };

before(async () => {
  mock = await startMock();
  const filters = [
    'tagging: {defaults: {feature: support, team: core, env: test}}',
    'semantic_cache: {policies: [{name: faq, mode: exact, ttl_seconds: 60}]}',
    'budget: {ledger: memory, assumed_output_tokens: 100, budgets: [{name: support-day, match: {feature: [support]}, amount_usd: 1, window: day}]}',
  ];
  gateway = await startGateway(gatewayConfig({
    backendUrl: `${mock.url}/v1`, filters, prices: { 'mock-small': '{input: 2.5, output: 10}' },
  }));
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'app-key', maxRetries: 0 });
  // The traffic every test below looks at: priced calls for three features, a cache hit, a 404.
  for (const [feature, team, count] of [['search', 'growth', 3], ['support', 'core', 2], ['translate', 'growth', 1]]) {
    for (let i = 0; i < count; i += 1) {
      await ask(`Dashboard test request ${i} for ${feature}`, { 'x-costgate-feature': feature, 'x-costgate-team': team });
    }
  }
  await ask('What are your opening hours on Sunday?');
  await ask('What are your opening hours on Sunday?');  // a repeat: answered by the cache
  await assert.rejects(client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
    (error) => error.status === 404);
});
after(async () => {
  await gateway?.stop();
  await mock?.stop();
});

async function ask(content, headers = {}) {
  const { response } = await client.chat.completions
    .create({ model: 'mock-small', messages: [{ role: 'user', content }] }, { headers })
    .withResponse();
  sent.requests += 1;
  // x-costgate-cost-usd is exact: added up as integer nano-dollars.
  sent.costNanos += nanosOf(response.headers.get('x-costgate-cost-usd') ?? '0');
  if (response.headers.get('x-costgate-cache')?.startsWith('hit-')) sent.hits += 1;
  sent.features.add(headers['x-costgate-feature'] ?? 'support');
}

// Chromium from Debian's package; the test fails (never skips) without it.
function chromiumPath() {
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    try {
      return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
    } catch { /* not this one */ }
  }
  assert.fail('chromium is not installed: the dashboard test needs headless Chromium (Debian package '
    + '"chromium"; scripts/setup.sh --test installs it)');
}

// Loads `url` in headless Chromium, lets its script run for `budgetMs` of virtual time (its
// polls included), and returns the DOM as rendered then; with `screenshot`, also saves the page
// as a PNG there.
function renderPage(url, { screenshot, budgetMs = 5000 } = {}) {
  const profile = tempDir();
  const args = [
    '--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--no-first-run',
    '--disable-extensions', '--disable-background-networking', `--user-data-dir=${profile}`,
    '--window-size=1280,1240', `--virtual-time-budget=${budgetMs}`, '--dump-dom',
    ...(screenshot ? [`--screenshot=${screenshot}`] : []), url,
  ];
  return new Promise((resolve, reject) => {
    execFile(chromiumPath(), args, { timeout: 60000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      rmSync(profile, { recursive: true, force: true });
      if (error) reject(new Error(`chromium failed: ${error.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

function attribute(dom, id, name) {
  const element = dom.match(new RegExp(`<[^>]*\\bid="${id}"[^>]*>`));
  assert.ok(element, `no element #${id} in the rendered page`);
  const value = element[0].match(new RegExp(`\\b${name}="([^"]*)"`));
  assert.ok(value, `#${id} has no ${name}: ${element[0]}`);
  return value[1];
}

test('/costgate/summary adds up the traffic sent', async () => {
  assert.equal(sent.hits, 1, 'the repeat was a cache hit');
  assert.ok(sent.costNanos > 0n);

  const summary = await (await fetch(`${gateway.url}/costgate/summary`)).json();
  assert.equal(summary.requests.api, sent.requests + 1, 'every chat request, the 404 too');
  assert.equal(summary.requests.api_ok, sent.requests);
  assert.equal(summary.requests.client_errors, 1);
  assert.equal(summary.spend.total_usd, usdText(sent.costNanos));
  assert.deepEqual(new Set(summary.spend.by_feature.map((group) => group.name)), sent.features);
  const byFeature = summary.spend.by_feature.reduce((sum, group) => sum + nanosOf(group.cost_usd), 0n);
  assert.equal(byFeature, sent.costNanos, 'the features add up to the total');
  assert.equal(summary.cache.hit_exact, 1);
  assert.ok(Number(summary.cache.saved_usd) > 0, summary.cache.saved_usd);
  assert.ok(summary.cache.hit_rate > 0 && summary.cache.hit_rate < 1, String(summary.cache.hit_rate));
  assert.ok(summary.tokens.per_call > 0);
  assert.ok(summary.latency_seconds.upstream.count >= sent.requests - sent.hits);
  assert.ok(summary.latency_seconds.overhead.p50 > 0);
  const [budget] = summary.budgets;
  assert.equal(budget.name, 'support-day');
  assert.equal(budget.limit_usd, '1.000000');
  assert.equal(budget.state, 'ok');
  assert.ok(Number(budget.spent_usd) > 0);

  // The same totals as /costgate/spend.
  const spend = await (await fetch(`${gateway.url}/costgate/spend`)).json();
  assert.equal(spend.total.cost_usd, summary.spend.total_usd);
  assert.equal(spend.total.saved_usd, summary.cache.saved_usd);
});

test('/dashboard is one uncached HTML page under a strict Content-Security-Policy', async () => {
  const response = await fetch(`${gateway.url}/dashboard`);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(response.headers.get('cache-control'), 'no-cache');
  assert.match(response.headers.get('content-security-policy'), /default-src 'none'.*connect-src 'self'/);
  const html = await response.text();
  assert.match(html, /^<!doctype html>/);
  assert.doesNotMatch(html, /<(script|link|img)[^>]+(src|href)="?https?:/i, 'nothing loaded from elsewhere');
  const post = await fetch(`${gateway.url}/dashboard`, { method: 'POST' });
  assert.equal(post.status, 404);
});

test('headless Chromium renders the spend and requests, and a screenshot is saved', async () => {
  mkdirSync(artifacts, { recursive: true });
  const screenshot = join(artifacts, 'dashboard.png');
  rmSync(screenshot, { force: true });
  const errorsBefore = (await (await fetch(`${gateway.url}/costgate/summary`)).json()).requests.client_errors;
  const dom = await renderPage(`${gateway.url}/dashboard`, { screenshot });

  assert.match(dom, /<body[^>]*data-state="live"/, 'the page read /costgate/summary');
  const shownSpend = attribute(dom, 'total-spend', 'data-usd');
  assert.ok(Number(shownSpend) > 0, `total spend shown: ${shownSpend}`);
  assert.equal(shownSpend, usdText(sent.costNanos));
  assert.equal(Number(attribute(dom, 'requests-total', 'data-count')), sent.requests + 1);
  for (const feature of sent.features) assert.match(dom, new RegExp(`title="${feature}"`), `${feature} in the tables`);
  assert.match(dom, /data-budget="support-day"/);
  assert.match(dom, /<polyline class="line"/, 'the spend chart is drawn');
  assert.ok(Number(attribute(dom, 'cache-saved', 'data-usd')) > 0);
  const errorsAfter = (await (await fetch(`${gateway.url}/costgate/summary`)).json()).requests.client_errors;
  assert.equal(errorsAfter, errorsBefore, 'the page asked for nothing that is not there (a favicon)');

  assert.ok(existsSync(screenshot), `no screenshot at ${screenshot}`);
  const { size } = statSync(screenshot);
  assert.ok(size > 20000, `a screenshot of ${size} bytes is too small to show the page`);
  console.log(`dashboard screenshot: ${screenshot} (${size} bytes)`);
});

test('the page says so when /costgate/summary fails', async () => {
  // The gateway's own page, served by a stand-in whose summary endpoint answers 503.
  const html = await (await fetch(`${gateway.url}/dashboard`)).text();
  const server = createServer((request, response) => {
    if (request.url === '/dashboard') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(html);
    } else {
      response.writeHead(503, { 'content-type': 'application/json' });
      response.end('{"error":{"message":"down","type":"server_error","param":null,"code":null}}');
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const dom = await renderPage(`http://127.0.0.1:${server.address().port}/dashboard`, { budgetMs: 3000 });
    assert.match(dom, /<body[^>]*data-state="error"/);
    const banner = dom.match(/<div class="banner" id="error-banner"[^>]*>([^<]*)</);
    assert.ok(banner, 'the error banner is shown');
    assert.doesNotMatch(banner[0], /hidden/);
    assert.match(banner[1], /Cannot read \/costgate\/summary: HTTP 503/);
    assert.match(dom, /id="status"[^>]*>Offline</);
  } finally {
    server.close();
  }
});

test('with an admin key, the numbers need it: the page asks for it, and shows them once given', async () => {
  const guarded = await startGateway(`${gatewayConfig({
    backendUrl: `${mock.url}/v1`, prices: { 'mock-small': '{input: 2.5, output: 10}' },
    // /admin/budgets is the budget filter's endpoint: served only where the filter is.
    filters: ['tagging: {defaults: {feature: support, team: core, env: test}}',
      'budget: {budgets: [{name: day, amount_usd: 10}]}'],
  })}admin:\n  api_key: dashboard-admin-key\n`);
  try {
    const guardedClient = new OpenAI({ baseURL: `${guarded.url}/v1`, apiKey: 'app-key', maxRetries: 0 });
    await guardedClient.chat.completions.create({ model: 'mock-small', messages: [{ role: 'user', content: 'hello' }] });
    for (const path of ['/costgate/summary', '/costgate/spend', '/admin/budgets']) {
      const refused = await fetch(`${guarded.url}${path}`);
      assert.equal(refused.status, 401, path);
      assert.equal((await refused.json()).error.code, 'missing_admin_key');
      const wrong = await fetch(`${guarded.url}${path}`, { headers: { authorization: 'Bearer app-key' } });
      assert.equal((await wrong.json()).error.code, 'invalid_admin_key', path);
      const allowed = await fetch(`${guarded.url}${path}`, { headers: { authorization: 'Bearer dashboard-admin-key' } });
      assert.equal(allowed.status, 200, path);
    }
    // The page itself and the metrics stay open (protect_metrics is off).
    assert.equal((await fetch(`${guarded.url}/dashboard`)).status, 200);
    assert.equal((await fetch(`${guarded.url}/metrics`)).status, 200);

    const asked = await renderPage(`${guarded.url}/dashboard`, { budgetMs: 3000 });
    assert.match(asked, /<body[^>]*data-state="error"/);
    assert.match(asked, /<form class="key-form" id="key-form">/, 'the key form is shown');
    assert.match(asked, /needs the admin key/);

    const shown = await renderPage(`${guarded.url}/dashboard#admin-key=dashboard-admin-key`);
    assert.match(shown, /<body[^>]*data-state="live"/);
    assert.ok(Number(attribute(shown, 'total-spend', 'data-usd')) > 0);
    assert.match(shown, /<form class="key-form" id="key-form" hidden/);
  } finally {
    await guarded.stop();
  }
});
