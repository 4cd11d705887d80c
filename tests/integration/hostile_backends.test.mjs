// Backends that break, stall, lie or attack, each scripted byte by byte over node:net: resets
// mid-stream, stalls, garbage and gigantic answers, wrong content types, missing and absurd
// usage, slow or broken TLS handshakes, and backends echoing the gateway's key. The client must
// get an answer in OpenAI's shape (or a stream ended with an error event), in bounded time and
// memory, charged what it used and never a negative or non-finite amount; the backend's
// api_key never shows anywhere. docs/hardening.md lists the cases.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  startGateway, assertOpenAIError, sleep, checkMetrics, residentMiB, memoryBoundMiB,
} from './harness.mjs';
import { startScriptedBackend } from './raw_http.mjs';

const kKey = 'backend-secret';
const kReadTimeoutMs = 800;
const kConnectTimeoutMs = 500;

// ---- what the scripted backend writes ----

const sseHead = 'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n';
const chunk = (data) => Buffer.concat([
  Buffer.from(`${Buffer.byteLength(data).toString(16)}\r\n`), Buffer.from(data, typeof data === 'string' ? 'utf8' : undefined),
  Buffer.from('\r\n'),
]);
const chunkFields = { id: 'chatcmpl-raw', object: 'chat.completion.chunk', created: 1, model: 'raw' };
const delta = (content, fields = chunkFields) => `data: ${JSON.stringify({
  ...fields, choices: [{ index: 0, delta: { content }, finish_reason: null }],
})}\n\n`;
const usageEvent = (usage) => `data: ${JSON.stringify({ ...chunkFields, choices: [], usage })}\n\n`;
const done = 'data: [DONE]\n\n';
const completion = (content, usage) => JSON.stringify({
  id: 'chatcmpl-whole', object: 'chat.completion', created: 1, model: 'raw',
  choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
  ...(usage === undefined ? {} : { usage }),
});
const jsonAnswer = (body, fields = '') => 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n'
  + `${fields}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

// Writes `piece` until `total` bytes went out or the gateway closed the connection.
async function pump(socket, piece, total) {
  let sent = 0;
  while (sent < total && !socket.destroyed) {
    const flowing = socket.write(piece);
    sent += piece.length;
    if (!flowing) await new Promise((res) => { socket.once('drain', res); socket.once('close', res); });
  }
  return sent;
}

// The backend's answers, picked by the request's x-hostile header.
const behaviours = {
  'reset-mid-stream': (socket) => {
    socket.write(Buffer.concat([Buffer.from(sseHead), chunk(delta('Hello there, ')), chunk(delta('general Kenobi'))]));
    setTimeout(() => socket.resetAndDestroy(), 50);
  },
  'reset-mid-stream-close-delimited': (socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n'
      + delta('Hello there, ') + delta('general Kenobi'));
    setTimeout(() => socket.resetAndDestroy(), 50);
  },
  silent: () => {},
  'head-then-nothing': (socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"id":'),
  'stream-head-then-nothing': (socket) => socket.write(sseHead),
  'garbage-sse': (socket) => {
    socket.write(Buffer.concat([Buffer.from(sseHead), ...[
      'this is not server-sent events\n\n', 'data: {not json\n\n', Buffer.from([0x64, 0x61, 0x74, 0x61, 0x3a, 0x20, 0x00, 0xff, 0xfe, 0x0a, 0x0a]),
      delta('Real '), ': a comment\n\n', 'event: weird\ndata: [1,2\n\n', 'retry: banana\n\n', delta('text'), 'data:\n\n',
      '\n\n\n\n', done,
    ].map(chunk), Buffer.from('0\r\n\r\n')]));
  },
  'giant-event': async (socket) => {
    socket.write(Buffer.concat([Buffer.from(sseHead), chunk(delta('before the flood ')), chunk('data: ')]));
    await pump(socket, chunk('x'.repeat(1024 * 1024)), 50 * 1024 * 1024);
  },
  'giant-whole-declared': (socket) => {
    socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${200 * 1024 * 1024}\r\n\r\n{"id":"`);
  },
  'giant-whole-chunked': async (socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
    await pump(socket, chunk('x'.repeat(1024 * 1024)), 200 * 1024 * 1024);
  },
  html: (socket, request) => {
    const page = `<html><body>Proxy error. You sent: Authorization: ${request.headers.authorization}</body></html>`;
    socket.write(`HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: ${page.length}\r\n\r\n${page}`);
  },
  'json-for-stream': (socket) => socket.write(jsonAnswer(completion('A whole answer replayed as a stream.',
    { prompt_tokens: 12, completion_tokens: 8, total_tokens: 20 }))),
  'no-usage': (socket) => socket.write(jsonAnswer(completion('An answer whose backend counted nothing.'))),
  usage: (socket, request) => socket.write(jsonAnswer(completion('Usage as the header says.',
    JSON.parse(request.headers['x-hostile-usage'])))),
  'stream-usage': (socket, request) => socket.write(Buffer.concat([Buffer.from(sseHead),
    ...[delta('Streamed, usage as the header says.'), usageEvent(JSON.parse(request.headers['x-hostile-usage'])), done].map(chunk),
    Buffer.from('0\r\n\r\n')])),
  'echo-key': (socket, request) => {
    const auth = request.headers.authorization;
    socket.write(jsonAnswer(completion(`You authenticated with ${auth}.`, { prompt_tokens: 5, completion_tokens: 5 }),
      `X-Request-Id: echo-${auth}\r\nX-Ratelimit-Remaining-Tokens: ${auth}\r\nRetry-After: ${auth}\r\n`));
  },
  'echo-key-stream': (socket, request) => {
    const auth = request.headers.authorization;
    socket.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nX-Request-Id: ${auth}\r\nTransfer-Encoding: chunked\r\n\r\n`),
      ...[delta(`Your key: ${auth}`), `event: ${auth}\ndata: {"note":"${auth}"}\n\n`, done].map(chunk), Buffer.from('0\r\n\r\n')]));
  },
  'wrong-types-stream': (socket) => {
    const fields = { id: 5, object: 'chat.completion.chunk', created: 'yesterday', model: 7 };
    const typed = (content) => `data: ${JSON.stringify({ ...fields, choices: [{ index: '0', delta: { role: 5, content }, finish_reason: null }] })}\n\n`;
    socket.write(Buffer.concat([Buffer.from(sseHead), ...[typed('Typed '), typed('wrong.'), done].map(chunk), Buffer.from('0\r\n\r\n')]));
  },
  'endless-head': async (socket) => {
    socket.write('HTTP/1.1 200 OK\r\n');
    await pump(socket, 'X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n', 256 * 1024);
  },
  'bare-lf-head': (socket) => socket.write('HTTP/1.1 200 OK\nContent-Type: application/json\n\n{}'),
};

// ---- TLS backends that never finish a handshake ----

// A TCP server that accepts and then does `onConnection(socket)`: nothing, a byte now and then,
// or plain-text garbage in place of a ServerHello.
async function startFakeTls(onConnection) {
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    onConnection(socket);
  });
  await new Promise((res) => server.listen(0, '127.0.0.1', res));
  return {
    port: server.address().port,
    stop: () => new Promise((res) => { for (const s of sockets) s.destroy(); server.close(res); }),
  };
}

let backend;
let tlsBackends;
let gateway;
const seen = [];  // every text the gateway sent back, searched for the backend's key at the end

before(async () => {
  backend = await startScriptedBackend((socket, request) => {
    const behaviour = behaviours[request.headers['x-hostile']];
    assert.ok(behaviour, `no behaviour ${request.headers['x-hostile']}`);
    behaviour(socket, request);
  });
  tlsBackends = {
    silent: await startFakeTls(() => {}),
    // A byte every 250 ms: the fifth, at 1.25 s, would make the record header invalid (its
    // version 0x1616), long after connect_timeout_ms; at 100 ms it came at the deadline itself,
    // and which of the two the gateway saw first was a race.
    trickle: await startFakeTls((socket) => {
      const timer = setInterval(() => socket.write(Buffer.from([0x16])), 250);
      socket.on('close', () => clearInterval(timer));
    }),
    garbage: await startFakeTls((socket) => socket.once('data', () => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'))),
  };
  const backendEntry = (name, url) => `  ${name}:
    url: ${url}
    api_key: ${kKey}
    connect_timeout_ms: ${kConnectTimeoutMs}
    read_timeout_ms: ${kReadTimeoutMs}
    forward_headers: [x-hostile*]  # the scripted backend's behaviours are picked by header`;
  const modelEntry = (name, backendName) => `  ${name}:
    backend: ${backendName}
    backend_model: gpt-4o-mini
    encoding: o200k_base
    price: {input: 1, output: 2}`;
  gateway = await startGateway(`server:
  listen: 127.0.0.1:0
  threads: 2
backends:
${backendEntry('raw', backend.url)}
${Object.keys(tlsBackends).map((name) => backendEntry(`tls-${name}`, `https://127.0.0.1:${tlsBackends[name].port}/v1`)).join('\n')}
models:
${modelEntry('raw-model', 'raw')}
${Object.keys(tlsBackends).map((name) => modelEntry(`tls-${name}`, `tls-${name}`)).join('\n')}
upstream:
  attempts: 1
  eject_after_failures: 1000
admin:
  api_key: admin-secret
filters:
  - tagging: {defaults: {feature: hostile, team: qa, env: test}}
  - semantic_cache: {policies: [{name: all, mode: exact, ttl_seconds: 60}]}
  - budget:
      assumed_output_tokens: 100
      budgets: [{name: everything, match: {team: [qa]}, amount_usd: 1000, window: day}]
log_level: warn
`);
});
after(async () => {
  await gateway?.stop();
  await backend?.stop();
  for (const fake of Object.values(tlsBackends ?? {})) await fake.stop();
});

let requestCount = 0;
const messages = (text) => [{ role: 'user', content: `${text} (${requestCount += 1})` }];

async function call(behaviour, { stream = false, model = 'raw-model', headers = {}, body = {} } = {}) {
  const id = `${behaviour}-${requestCount}`;
  const started = Date.now();
  const response = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hostile': behaviour, 'x-request-id': id, ...headers },
    body: JSON.stringify({ model, stream, messages: messages(`Behave as ${behaviour}`), ...body }),
  });
  const text = await response.text();
  const took = Date.now() - started;
  seen.push(text, JSON.stringify([...response.headers]));
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  const events = text.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice(6));
  return { id, status: response.status, headers: response.headers, text, json, events, took };
}

// The access-log line of request `id`, once written.
async function logLine(id) {
  for (let i = 0; i < 50; i += 1) {
    const line = gateway.accessLog().find((l) => l.request_id === id);
    if (line) return line;
    await sleep(20);
  }
  throw new Error(`no access-log line for ${id}`);
}

async function metric(name, labels) {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.every((label) => l.includes(label)));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

// A stream that ended with an error event carrying `code`, after a proper end of stream.
function assertStreamError(result, code) {
  assert.equal(result.status, 200, result.text);
  assert.match(result.headers.get('content-type'), /^text\/event-stream/);
  const last = JSON.parse(result.events.at(-1));
  assert.ok(last.error, `the stream did not end with an error event: ${result.text.slice(-300)}`);
  assert.equal(last.error.type, 'api_error');
  assert.equal(last.error.code, code);
}

describe('broken streams', () => {
  for (const behaviour of ['reset-mid-stream', 'reset-mid-stream-close-delimited']) {
    test(`${behaviour}: an error event ends the stream, and the text relayed is charged`, async () => {
      const failedBefore = await metric('costgate_streams_total', ['outcome="upstream_failed"']);
      const result = await call(behaviour, { stream: true });
      assertStreamError(result, 'upstream_reset');
      const relayed = result.events.slice(0, -1).map((e) => JSON.parse(e).choices[0].delta.content).join('');
      assert.equal(relayed, 'Hello there, general Kenobi');
      const line = await logLine(result.id);
      assert.equal(line.usage_source, 'estimated');
      assert.ok(line.tokens_in > 0 && line.tokens_out >= 6, JSON.stringify(line));
      assert.ok(line.cost_usd > 0, JSON.stringify(line));
      assert.equal(await metric('costgate_streams_total', ['outcome="upstream_failed"']), failedBefore + 1);
    });
  }

  test('a stream whose chunks have fields of the wrong types is relayed whole and cached safely', async () => {
    const body = { messages: [{ role: 'user', content: 'typed wrong, twice' }] };
    for (let i = 0; i < 2; i += 1) {
      const result = await call('wrong-types-stream', { stream: true, body });
      assert.equal(result.status, 200);
      assert.equal(result.events.at(-1), '[DONE]', result.text);
      const text = result.events.slice(0, -1).map((e) => JSON.parse(e)).map((c) => c.choices?.[0]?.delta?.content ?? '').join('');
      assert.equal(text, 'Typed wrong.');
    }
  });

  test('garbage between events is skipped; whole events are relayed; the text is charged', async () => {
    const result = await call('garbage-sse', { stream: true });
    assert.equal(result.status, 200);
    assert.equal(result.events.at(-1), '[DONE]');
    const texts = result.events.map((e) => { try { return JSON.parse(e).choices?.[0]?.delta?.content; } catch { return undefined; } });
    assert.equal(texts.filter(Boolean).join(''), 'Real text');
    assert.match(result.text, /: costgate usage=estimated tokens_in=\d+ tokens_out=\d+ cost_usd=/);
    const line = await logLine(result.id);
    assert.equal(line.usage_source, 'estimated');
    assert.ok(line.tokens_out > 0);
  });
});

describe('stalls', () => {
  for (const [behaviour, stream, what] of [
    ['silent', false, 'a backend that never answers the head'],
    ['silent', true, 'a backend that never answers the head of a stream'],
    ['head-then-nothing', false, 'a whole answer whose body never comes'],
  ]) {
    test(`${what} is 504 upstream_timeout after read_timeout_ms`, async () => {
      const result = await call(behaviour, { stream });
      assertOpenAIError(result, 504, 'api_error', 'upstream_timeout');
      assert.ok(result.took >= kReadTimeoutMs - 50 && result.took < kReadTimeoutMs + 1000, `answered after ${result.took} ms`);
    });
  }

  test('a stream whose events never come ends with an upstream_timeout error event', async () => {
    const result = await call('stream-head-then-nothing', { stream: true });
    assertStreamError(result, 'upstream_timeout');
    assert.ok(result.took < kReadTimeoutMs + 1000, `ended after ${result.took} ms`);
  });

  test('TLS handshakes that never finish are bounded by connect_timeout_ms', async () => {
    for (const [model, status, code] of [
      ['tls-silent', 504, 'upstream_timeout'], ['tls-trickle', 504, 'upstream_timeout'], ['tls-garbage', 502, 'upstream_tls_error'],
    ]) {
      for (const stream of [false, true]) {
        const result = await call('silent', { model, stream });
        assertOpenAIError(result, status, 'api_error', code);
        assert.match(result.json.error.message, /TLS handshake/);
        assert.ok(result.took < kConnectTimeoutMs + 1000, `${model}: answered after ${result.took} ms`);
      }
    }
  });
});

describe('gigantic and malformed answers', () => {
  // The gateway's resident memory at its largest while `work` runs.
  async function peakGrowth(work) {
    const pid = gateway.child.pid;
    const before = residentMiB(pid);
    let peak = before;
    const timer = setInterval(() => { peak = Math.max(peak, residentMiB(pid)); }, 10);
    try {
      return { result: await work(), grown: () => peak - before };
    } finally {
      clearInterval(timer);
      peak = Math.max(peak, residentMiB(pid));
    }
  }

  test('a 50 MB event is cut with upstream_response_too_large, memory bounded', async (t) => {
    const { result, grown } = await peakGrowth(() => call('giant-event', { stream: true }));
    assertStreamError(result, 'upstream_response_too_large');
    assert.equal(JSON.parse(result.events[0]).choices[0].delta.content, 'before the flood ');
    assert.ok(grown() < memoryBoundMiB(64), `resident memory grew by ${grown().toFixed(1)} MiB`);
    t.diagnostic(`cut after ${result.took} ms; resident memory grew by ${grown().toFixed(1)} MiB at most`);
  });

  test('a 200 MB whole answer is refused: at once when declared, at the limit when chunked', async (t) => {
    const declared = await call('giant-whole-declared');
    assertOpenAIError(declared, 502, 'api_error', 'upstream_response_too_large');
    assert.ok(declared.took < kReadTimeoutMs, `answered after ${declared.took} ms`);
    const { result: chunked, grown } = await peakGrowth(() => call('giant-whole-chunked'));
    assertOpenAIError(chunked, 502, 'api_error', 'upstream_response_too_large');
    assert.ok(grown() < memoryBoundMiB(200), `resident memory grew by ${grown().toFixed(1)} MiB`);
    t.diagnostic(`declared: refused after ${declared.took} ms; chunked: after ${chunked.took} ms, resident memory grew by ${grown().toFixed(1)} MiB at most`);
  });

  test('a 200 that is not JSON is 502 upstream_protocol_error, its body not relayed', async () => {
    const result = await call('html');
    assertOpenAIError(result, 502, 'api_error', 'upstream_protocol_error');
    assert.match(result.json.error.message, /not JSON \(content-type: text\/html\)/);
  });

  test('a JSON answer to a stream request is replayed as a stream and charged from its usage', async () => {
    const result = await call('json-for-stream', { stream: true });
    assert.equal(result.status, 200);
    assert.match(result.headers.get('content-type'), /^text\/event-stream/);
    assert.equal(result.events.at(-1), '[DONE]');
    const text = result.events.slice(0, -1).map((e) => JSON.parse(e).choices[0]?.delta?.content ?? '').join('');
    assert.equal(text, 'A whole answer replayed as a stream.');
    assert.equal(result.headers.get('x-costgate-tokens-in'), '12');
    const line = await logLine(result.id);
    assert.equal(line.usage_source, 'backend');
  });

  test('heads that never end or end in bare LFs are 502 upstream_protocol_error, not waited on', async () => {
    for (const behaviour of ['endless-head', 'bare-lf-head']) {
      const result = await call(behaviour);
      assertOpenAIError(result, 502, 'api_error', 'upstream_protocol_error');
      assert.ok(result.took < kReadTimeoutMs, `${behaviour}: answered after ${result.took} ms`);
    }
  });
});

describe('missing and absurd usage', () => {
  test('an answer without usage is charged by the gateway\'s own count', async () => {
    const result = await call('no-usage');
    assert.equal(result.status, 200);
    assert.ok(Number(result.headers.get('x-costgate-tokens-in')) > 0);
    // "An answer whose backend counted nothing." is 40 characters: about 10 tokens.
    assert.equal(result.headers.get('x-costgate-tokens-out'), '10');
    assert.ok(Number(result.headers.get('x-costgate-cost-usd')) > 0);
    assert.equal((await logLine(result.id)).usage_source, 'estimated');
  });

  // [usage the backend reports, whether the gateway may trust it]
  const usages = [
    [{ prompt_tokens: -5, completion_tokens: 7 }, false],
    [{ prompt_tokens: 12, completion_tokens: -1 }, false],
    [{ prompt_tokens: 1e30, completion_tokens: 7 }, false],
    [{ prompt_tokens: '12', completion_tokens: '7' }, false],
    [{ prompt_tokens: null, completion_tokens: 7 }, false],
    [{ completion_tokens: 7 }, false],
    [{ prompt_tokens: 12.5, completion_tokens: 7 }, false],
    [{ prompt_tokens: 2 ** 53, completion_tokens: 2 ** 53 }, false],
    [{ prompt_tokens: 12, completion_tokens: 7, prompt_tokens_details: { cached_tokens: -3 } }, false],
    [{ prompt_tokens: 12, completion_tokens: 7, completion_tokens_details: { reasoning_tokens: 'many' } }, false],
    [{ prompt_tokens: 12, completion_tokens: 7, prompt_tokens_details: { cached_tokens: 500 } }, true],
    [{ prompt_tokens: 12, completion_tokens: 7 }, true],
  ];

  for (const stream of [false, true]) {
    test(`${stream ? 'streamed' : 'whole'}: untrusted usage is estimated instead, never negative or non-finite`, async () => {
      for (const [usage, trusted] of usages) {
        const result = await call(stream ? 'stream-usage' : 'usage', { stream, headers: { 'x-hostile-usage': JSON.stringify(usage) } });
        assert.equal(result.status, 200, result.text);
        const line = await logLine(result.id);
        assert.equal(line.usage_source, trusted ? 'backend' : 'estimated', `${JSON.stringify(usage)}: ${JSON.stringify(line)}`);
        for (const key of ['tokens_in', 'tokens_out', 'cost_usd']) {
          assert.ok(Number.isFinite(line[key]) && line[key] >= 0, `${JSON.stringify(usage)}: ${JSON.stringify(line)}`);
        }
        if (trusted) assert.equal(line.tokens_in, 12);
        else assert.ok(line.tokens_in < 100 && line.tokens_out < 100, JSON.stringify(line));
      }
      const budgets = (await (await fetch(`${gateway.url}/admin/budgets`, { headers: { authorization: 'Bearer admin-secret' } })).json()).budgets;
      for (const budget of budgets) assert.ok(Number(budget.spent_usd) >= 0 && Number(budget.reserved_usd) >= 0, JSON.stringify(budget));
    });
  }
});

describe('the backend\'s key', () => {
  test('a backend echoing it in an answer, its headers or its events: redacted', async () => {
    const whole = await call('echo-key');
    assert.equal(whole.status, 200);
    assert.match(whole.json.choices[0].message.content, /You authenticated with Bearer \[redacted\]\./);
    assert.equal(whole.headers.get('x-upstream-request-id'), 'echo-Bearer [redacted]');
    const streamed = await call('echo-key-stream', { stream: true });
    assert.equal(streamed.status, 200);
    assert.match(streamed.text, /Your key: Bearer \[redacted\]/);
  });

  test('...and never appears in any answer, the access log, the operational log or /metrics', async () => {
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    checkMetrics(metrics);
    for (const line of metrics.split('\n').filter((l) => l && !l.startsWith('#'))) {
      assert.ok(Number.isFinite(Number(line.split(' ').at(-1))), line);
    }
    const logs = [...gateway.lines.stdout, ...gateway.lines.stderr].join('\n');
    for (const text of [...seen, metrics, logs]) assert.ok(!text.includes(kKey), `leaked in: ${text.slice(0, 300)}`);
    assert.ok(seen.length > 40, 'the answers were collected');
    assert.equal(gateway.child.exitCode, null, 'the gateway exited');
  });
});
