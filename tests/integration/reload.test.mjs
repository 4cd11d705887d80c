// Live reload end to end: the gateway watches its configuration file (and reloads on SIGHUP); a
// valid change applies to new requests while a stream that began before it finishes on the old
// configuration, cache entries and budget spend survive, an invalid file is rejected with its
// place in the log and a metric while the old configuration keeps serving, and SIGTERM drains.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, renameSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { startMock, startGateway, postJson, sleep, tempDir, until } from './harness.mjs';

let mock;
let mockV2;

before(async () => {
  mock = await startMock();
  mockV2 = await startMock();
});
after(async () => {
  await mock?.stop();
  await mockV2?.stop();
});

function config({ backendUrl = `${mock.url}/v1`, backendModel = 'backend-v1', team = 'core', budget = 1, check = 100, extraModel = '', drain = 10000 } = {}) {
  return `server:
  listen: 127.0.0.1:0
  threads: 2
  reload_check_ms: ${check}
  drain_timeout_ms: ${drain}
backends:
  mock:
    url: ${backendUrl}
    forward_headers: [defaults, x-mock-*]  # the mock takes its directives from headers
models:
  mock-small:
    backend: mock
    backend_model: ${backendModel}
    price: {input: 1, output: 2}
${extraModel}admin:
  api_key: admin-secret
filters:
  - tagging: {defaults: {feature: support, team: ${team}, env: test}}
  - semantic_cache: {policies: [{name: faq, mode: exact, ttl_seconds: 600}]}
  - budget:
      budgets: [{name: daily, amount_usd: ${budget}, window: day}]
log_level: info
`;
}

// Replaces the file the way editors and Kubernetes do: a new file renamed over the old one.
function rewrite(gateway, text) {
  writeFileSync(`${gateway.configFile}.new`, text);
  renameSync(`${gateway.configFile}.new`, gateway.configFile);
}

async function metric(gateway, pattern) {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  const line = text.split('\n').find((l) => pattern.test(l));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

async function budgetSpent(gateway) {
  const { budgets } = await (await fetch(`${gateway.url}/admin/budgets`, { headers: { authorization: 'Bearer admin-secret' } })).json();
  return Number(budgets.find((b) => b.name === 'daily').spent_usd);
}

const question = { model: 'mock-small', messages: [{ role: 'user', content: 'What are your opening hours?' }] };

test('a changed file applies to new requests while a stream begun before it finishes on the old configuration; cache and spend survive', async () => {
  const gateway = await startGateway(config());
  try {
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'client-key' });
    // Before: an answer cached, some spend.
    const cached = await client.chat.completions.create(question);
    assert.equal(cached.model, 'backend-v1');
    const spentBefore = await until('the first call to settle', async () => (await budgetSpent(gateway)) > 0 && budgetSpent(gateway));

    // A slow stream starts under the first configuration...
    const stream = await client.chat.completions.create(
      { model: 'mock-small', stream: true, messages: [{ role: 'user', content: 'Tell me a long story' }] },
      { headers: { 'x-mock-chunks': '10', 'x-mock-chunk-delay-ms': '150' } },
    );
    const chunks = [];
    const streamDone = (async () => { for await (const chunk of stream) chunks.push(chunk); })();
    await sleep(200);

    // ...and the file changes under it: another backend, a new model, a new limit.
    rewrite(gateway, config({
      backendUrl: `${mockV2.url}/v1`, backendModel: 'backend-v2', budget: 2,
      extraModel: '  mock-large:\n    backend: mock\n    price: {input: 10, output: 20}\n',
    }));
    await until('the reload', async () => (await metric(gateway, /^costgate_config_reloads_total\{result="applied"\}/)) === 1);
    const models = await client.models.list();
    assert.deepEqual(models.data.map((m) => m.id).sort(), ['mock-large', 'mock-small']);

    await streamDone;
    assert.ok(chunks.length >= 10, `the stream crossing the reload was cut after ${chunks.length} chunks`);
    assert.ok(chunks.every((c) => c.model === 'backend-v1'), 'the stream moved to the new backend');
    assert.ok(chunks.some((c) => c.choices[0]?.finish_reason === 'stop'), 'the stream did not end normally');

    // New requests get the new configuration.
    const fresh = await client.chat.completions.create({ model: 'mock-small', messages: [{ role: 'user', content: 'Something new' }] });
    assert.equal(fresh.model, 'backend-v2');

    // The cache kept its entry (the tags, which partition it, did not change): the same question
    // is a hit, not a call to the new backend.
    const again = await client.chat.completions.create(question).withResponse();
    assert.equal(again.response.headers.get('x-costgate-cache'), 'hit-exact');
    assert.equal(again.data.model, 'backend-v1');

    // The spend kept counting across the reload, under the new limit.
    await until('every call to settle', async () => (await budgetSpent(gateway)) > spentBefore);
    const { budgets } = await (await fetch(`${gateway.url}/admin/budgets`, { headers: { authorization: 'Bearer admin-secret' } })).json();
    assert.equal(budgets[0].limit_usd, '2.000000');

    // The access log has the stream, whole and charged.
    await sleep(100);
    const streamed = gateway.accessLog().find((l) => l.stream === true);
    assert.equal(streamed.status, 200);
    assert.ok(Number(streamed.cost_usd) > 0, JSON.stringify(streamed));
    assert.equal(await metric(gateway, /^costgate_config_last_reload_successful /), 1);
    assert.ok(gateway.lines.stderr.some((l) => l.includes('configuration reloaded (file changed)')), gateway.lines.stderr.join('\n'));
  } finally {
    await gateway.stop();
  }
});

test('reloads under load drop no request: each is answered whole by one configuration or the other', async () => {
  const gateway = await startGateway(config({ check: 0 }));
  try {
    const requests = [];
    for (let i = 0; i < 200; i++) {
      requests.push(postJson(`${gateway.url}/v1/chat/completions`,
        { model: 'mock-small', stream: i % 2 === 1, messages: [{ role: 'user', content: `question ${i}` }] },
        { 'x-mock-latency-ms': String(20 + (i % 7) * 30) }));
      if (i % 40 === 20) {
        rewrite(gateway, config({ check: 0, backendModel: `backend-r${i}` }));
        gateway.child.kill('SIGHUP');
      }
      if (i % 10 === 0) await sleep(15);
    }
    const answers = await Promise.all(requests);
    const statuses = answers.map((a) => a.status);
    assert.deepEqual([...new Set(statuses)], [200], `statuses: ${statuses.join(',')}`);
    for (const answer of answers.filter((a) => a.text.startsWith('data:'))) {
      assert.ok(answer.text.includes('data: [DONE]'), 'a stream was cut');
    }
    const models = new Set(answers.filter((a) => a.json).map((a) => a.json.model));
    // Signals sent close together may merge into one reload; most apply.
    assert.ok(models.size >= 3, `answers came from ${[...models].join(', ')}: the reloads did not apply`);
    assert.ok((await metric(gateway, /^costgate_config_reloads_total\{result="applied"\}/)) >= 3);
  } finally {
    await gateway.stop();
  }
});

test('an invalid file is rejected with its place in the log and a metric; the old configuration keeps serving', async () => {
  const gateway = await startGateway(config());
  try {
    // Line 18, column 5: a filter that does not exist.
    rewrite(gateway, config().replace('  - tagging:', '  - teleport: {}\n  - tagging:'));
    await until('the rejection', async () => (await metric(gateway, /^costgate_config_reloads_total\{result="rejected"\}/)) === 1);
    assert.equal(await metric(gateway, /^costgate_config_last_reload_successful /), 0);
    const logged = gateway.lines.stderr.find((l) => l.includes('configuration not reloaded'));
    assert.ok(logged, gateway.lines.stderr.join('\n'));
    assert.match(logged, /costgate\.yaml:18:5: unknown filter 'teleport'/);

    const served = await postJson(`${gateway.url}/v1/chat/completions`, question);
    assert.equal(served.status, 200);
    assert.equal(served.json.model, 'backend-v1');

    // A YAML syntax error too, then a fix: the fix applies.
    rewrite(gateway, config().replace('models:', 'models: [oops'));
    await until('the second rejection', async () => (await metric(gateway, /^costgate_config_reloads_total\{result="rejected"\}/)) === 2);
    rewrite(gateway, config({ backendModel: 'backend-fixed' }));
    await until('the fix', async () => (await metric(gateway, /^costgate_config_reloads_total\{result="applied"\}/)) === 1);
    assert.equal(await metric(gateway, /^costgate_config_last_reload_successful /), 1);
    const fixed = await postJson(`${gateway.url}/v1/chat/completions`, { ...question, messages: [{ role: 'user', content: 'after the fix' }] });
    assert.equal(fixed.json.model, 'backend-fixed');
  } finally {
    await gateway.stop();
  }
});

test('SIGHUP reloads when the file is not watched; server settings wait for a restart', async () => {
  const gateway = await startGateway(config({ check: 0 }));
  try {
    rewrite(gateway, config({ check: 0, backendModel: 'backend-hup', drain: 5000 }));
    await sleep(300);
    let answer = await postJson(`${gateway.url}/v1/chat/completions`, question);
    assert.equal(answer.json.model, 'backend-v1', 'reloaded without being asked to');
    gateway.child.kill('SIGHUP');
    await until('the SIGHUP reload', async () => (await metric(gateway, /^costgate_config_reloads_total\{result="applied"\}/)) === 1);
    answer = await postJson(`${gateway.url}/v1/chat/completions`, { ...question, messages: [{ role: 'user', content: 'after the signal' }] });
    assert.equal(answer.json.model, 'backend-hup');
    assert.ok(gateway.lines.stderr.some((l) => l.includes("'server' settings take effect only on restart")), gateway.lines.stderr.join('\n'));
  } finally {
    await gateway.stop();
  }
});

test('an access log file keeps every line whatever the log level, before and after a reload', async () => {
  const logFile = join(tempDir(), 'access.log');
  const withLog = (level) => `${config({ check: 0 }).replace('log_level: info', `log_level: ${level}`)}access_log: {path: "${logFile}"}\n`;
  const gateway = await startGateway(withLog('warn'));
  try {
    assert.equal((await postJson(`${gateway.url}/v1/chat/completions`, question)).status, 200);
    rewrite(gateway, withLog('error'));
    gateway.child.kill('SIGHUP');
    await until('the reload', async () => (await metric(gateway, /^costgate_config_reloads_total\{result="applied"\}/)) === 1);
    assert.equal((await postJson(`${gateway.url}/v1/chat/completions`, { ...question, messages: [{ role: 'user', content: 'second' }] })).status, 200);
    // The file is flushed once a second.
    const lines = await until('both lines in the file', async () => {
      const text = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
      const chat = text.split('\n').filter((l) => l.includes('"route":"chat_completions"'));
      return chat.length === 2 && chat;
    });
    assert.equal(lines.length, 2);
  } finally {
    await gateway.stop();
  }
});

test('SIGTERM drains a stream up to the drain deadline, then exits 0', async () => {
  const gateway = await startGateway(config({ drain: 500 }));
  try {
    const started = Date.now();
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-mock-chunks': '40', 'x-mock-chunk-delay-ms': '100' },
      body: JSON.stringify({ ...question, stream: true }),
    });
    const reader = response.body.getReader();
    await reader.read();
    gateway.child.kill('SIGTERM');
    let text = '';
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
    } catch {
      // the connection closed at the deadline
    }
    const { code } = await gateway.exited;
    assert.equal(code, 0);
    assert.ok(!text.includes('[DONE]'), 'a 4 s stream finished inside a 0.5 s drain');
    const took = Date.now() - started;
    assert.ok(took < 3000, `shutdown took ${took} ms with a 500 ms drain deadline`);
  } finally {
    await gateway.stop();
  }
});
