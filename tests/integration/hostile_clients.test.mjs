// Clients that mean harm or are badly broken, against the real gateway with every filter on:
// request smuggling and malformed framing, oversized heads and bodies, slowloris, pipelined
// floods, hostile JSON, wrong field types, absurd token counts and huge conversations. Each must
// get an answer in OpenAI's shape (or a closed connection), never a crash, a hang, a 500 or a
// reservation that goes negative. Web pages too: cross-site simple POSTs, foreign origins and
// DNS-rebinding Host names. docs/hardening.md lists the cases.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  startMock, startGateway, gatewayConfig, postJson, assertOpenAIError, sleep, checkMetrics, residentMiB, memoryBoundMiB,
} from './harness.mjs';
import { rawExchange, parseResponses, startScriptedBackend } from './raw_http.mjs';

const kHeaderTimeoutMs = 600;
const kMaxBodyBytes = 4 * 1024 * 1024;

// Every filter on: tagging, pruning, token caps, the cache, the router's gate and a budget.
function allFiltersConfig(mockUrl) {
  const model = (name, backendModel, price) => `  ${name}:
    backend: mock
    backend_model: ${backendModel}
    encoding: o200k_base
    price: ${price}`;
  return `server:
  listen: 127.0.0.1:0
  threads: 2
  header_timeout_ms: ${kHeaderTimeoutMs}
  max_header_bytes: 16384
  max_body_bytes: ${kMaxBodyBytes}
backends:
  mock:
    url: ${mockUrl}/v1
    forward_headers: [defaults, x-mock-*]  # the mock takes its directives from headers
    api_key: backend-secret
models:
${model('mock-small', 'backend-mock-small', '{input: 1, output: 2}')}
${model('mock-large', 'backend-mock-large', '{input: 10, output: 20}')}
${model('mock-embed', 'text-embedding-3-small', '{input: 1, output: 0}')}
admin:
  api_key: admin-secret
filters:
  - tagging: {defaults: {feature: hostile, team: qa, env: test}}
  - prompt_pruning: {policies: [{name: tidy, collapse_whitespace: true, drop_duplicates: true}]}
  - token_cap:
      policies:
        - {name: bulk, match: {feature: [bulk]}, max_input_tokens: 2000, over_input: prune,
           prune: {keep_last_turns: 2}}
        - {name: refuse, match: {feature: [refuse]}, max_input_tokens: 2000, over_input: reject}
        - {name: default, max_output_tokens: 256, max_n: 2}
  - semantic_cache: {policies: [{name: all, mode: semantic, threshold: 0.9, ttl_seconds: 60}]}
  - router:
      policies: [{name: gate, allowed_models: [mock-small, mock-large, mock-embed], on_disallowed: reject}]
  - budget:
      assumed_output_tokens: 100
      budgets: [{name: everything, match: {team: [qa]}, amount_usd: 1000, window: day}]
      rate_limits: [{name: tokens, match: {team: [qa]}, tokens_per_minute: 100000000}]
log_level: warn
`;
}

const chat = (extra = {}) => ({
  model: 'mock-small',
  messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello, hostile world' }],
  ...extra,
});

let mock;
let gateway;
const seen = [];  // every text the gateway sent back, searched for the backend's key at the end

async function post(path, body, headers = {}) {
  const result = await postJson(`${gateway.url}${path}`, body, headers);
  seen.push(result.text, JSON.stringify([...result.headers]));
  return result;
}

async function exchange(pieces, options) {
  const raw = await rawExchange(gateway.port, pieces, options);
  seen.push(raw);
  return raw;
}

async function budgets() {
  const response = await fetch(`${gateway.url}/admin/budgets`, { headers: { authorization: 'Bearer admin-secret' } });
  return (await response.json()).budgets;
}

before(async () => {
  mock = await startMock(['--threads', '1']);
  gateway = await startGateway(allFiltersConfig(mock.url));
});
after(async () => {
  await gateway?.stop();
  await mock?.stop();
});

describe('request smuggling and malformed framing', () => {
  // http1.test.mjs already refuses both framings, two different lengths, a non-hex chunk size,
  // a bad HTTP version and a folded header line; these are the rest.
  const head = (fields) => `POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n${fields}\r\n`;
  const smuggled = 'GET /admin/budgets HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer admin-secret\r\n\r\n';

  const expectRefused = async (what, bytes, status = 400) => {
    const started = Date.now();
    const [response, ...more] = parseResponses(await exchange([bytes]));
    assert.equal(response.status, status, `${what}: ${response.head}`);
    assertOpenAIError({ status: response.status, json: response.json, text: response.body }, status, 'invalid_request_error');
    assert.equal(more.length, 0, `${what}: a second message was read from the same bytes`);
    assert.ok(Date.now() - started < kHeaderTimeoutMs, `${what}: answered after ${Date.now() - started} ms`);
    return response;
  };

  test('a body framed two ways never carries a second request', async () => {
    const chunkedThenSmuggled = `0\r\n\r\n${smuggled}`;
    for (const [what, fields] of [
      ['Content-Length then Transfer-Encoding', `Content-Length: ${chunkedThenSmuggled.length}\r\nTransfer-Encoding: chunked\r\n`],
      ['Transfer-Encoding then Content-Length', `Transfer-Encoding: chunked\r\nContent-Length: ${chunkedThenSmuggled.length}\r\n`],
      ['Content-Length as a list that disagrees', `Content-Length: 5, ${chunkedThenSmuggled.length}\r\n`],
    ]) {
      const response = await expectRefused(what, head(fields) + chunkedThenSmuggled);
      assert.match(response.json.error.message, /malformed HTTP request/, what);
    }
  });

  test('a repeated Content-Length with the same value is one request, and the connection lives on', async () => {
    const body = JSON.stringify(chat({ messages: [{ role: 'user', content: 'twice the same length' }] }));
    const once = head(`Content-Type: application/json\r\nContent-Length: ${body.length}\r\nContent-Length: ${body.length}\r\n`) + body;
    const last = head(`Content-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n`) + body;
    const responses = parseResponses(await exchange([once + last]));
    assert.deepEqual(responses.map((r) => r.status), [200, 200]);
  });

  test('transfer codings other than chunked alone are refused', async () => {
    for (const coding of ['gzip', 'chunked, gzip', 'gzip, chunked', 'identity', 'xchunked', 'chunked\r\nTransfer-Encoding: chunked']) {
      const response = await expectRefused(coding, head(`Transfer-Encoding: ${coding}\r\n`) + '0\r\n\r\n');
      assert.match(response.json.error.message, /Transfer-Encoding|Content-Length/, coding);
    }
  });

  test('bad chunk framing is refused; a chunk larger than the body limit is refused before its data', async () => {
    for (const [what, chunks] of [
      ['size overflowing 64 bits', 'fffffffffffffffffffff\r\n'],
      ['negative size', '-5\r\nhello\r\n0\r\n\r\n'],
      ['0x prefix', '0x5\r\nhello\r\n0\r\n\r\n'],
      ['data longer than its size', '5\r\nhello, world\r\n0\r\n\r\n'],
      ['no CRLF after the data', '5\r\nhello0\r\n\r\n'],
      ['bare LF after the size', '5\nhello\r\n0\r\n\r\n'],
    ]) {
      await expectRefused(what, head('Transfer-Encoding: chunked\r\n') + chunks);
    }
    // The chunk's data is never sent: the size alone is over the limit.
    const response = await expectRefused('a 256 MiB chunk', `${head('Transfer-Encoding: chunked\r\n')}10000000\r\n`, 413);
    assert.equal(response.json.error.code, 'request_too_large');
  });

  test('bare LF line endings are refused at once, not waited on', async () => {
    for (const [what, bytes] of [
      ['every line', 'GET /healthz HTTP/1.1\nHost: gw\n\n'],
      ['the request line', 'GET /healthz HTTP/1.1\nHost: localhost\r\n\r\n'],
      ['a field line', 'GET /healthz HTTP/1.1\r\nHost: gw\nX-A: b\r\n\r\n'],
      ['the blank line', 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\n'],
    ]) {
      await expectRefused(what, bytes);
    }
  });
});

describe('oversized heads and bodies', () => {
  test('a head over the limit is 431 as soon as the limit is reached', async () => {
    // One field that never ends: the gateway must not wait for the rest.
    const [response] = parseResponses(await exchange([`GET /healthz HTTP/1.1\r\nX-Huge: ${'a'.repeat(20000)}`]));
    assert.equal(response.status, 431);
    assert.equal(response.json.error.code, 'request_header_fields_too_large');
  });

  test('many header fields: within the byte limit they are served, past it 431', async () => {
    const fields = (count) => Array.from({ length: count }, (_, i) => `x-f${i}:${i % 10}\r\n`).join('');
    const [served] = parseResponses(await exchange([`GET /healthz HTTP/1.1\r\nHost: localhost\r\n${fields(1000)}Connection: close\r\n\r\n`]));
    assert.equal(served.status, 200);
    const [refused] = parseResponses(await exchange([`GET /healthz HTTP/1.1\r\nHost: localhost\r\n${fields(100000)}\r\n`]));
    assert.equal(refused.status, 431);
  });

  test('a declared body over the limit is 413 before any of it is sent', async () => {
    const raw = await exchange([
      'POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n' +
        `Content-Length: ${10 * 1024 ** 3}\r\n\r\n`,
    ]);
    const [response, ...more] = parseResponses(raw);
    assertOpenAIError({ status: response.status, json: response.json, text: response.body }, 413, 'invalid_request_error', 'request_too_large');
    assert.equal(more.length, 0);
  });

  test('a chunked body that grows past the limit is cut at the limit, not read to its end', async (t) => {
    const socket = net.connect(gateway.port, '127.0.0.1');
    await new Promise((res) => socket.on('connect', res));
    socket.on('error', () => {});
    let received = '';
    socket.on('data', (d) => { received += d.toString('latin1'); });
    const closed = new Promise((res) => socket.on('close', res));
    socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n');
    const chunk = `${(64 * 1024).toString(16)}\r\n${'x'.repeat(64 * 1024)}\r\n`;
    let sent = 0;
    // Up to 64 MiB, stopping when the gateway answers: it must answer near 4 MiB.
    while (sent < 64 * 1024 * 1024 && !received && !socket.destroyed) {
      if (!socket.write(chunk)) await new Promise((res) => { socket.once('drain', res); socket.once('close', res); });
      sent += 64 * 1024;
    }
    await closed;
    seen.push(received);
    const [response] = parseResponses(received);
    assert.equal(response.status, 413);
    assert.ok(sent < 16 * 1024 * 1024, `the gateway read ${sent} bytes before refusing`);
    t.diagnostic(`413 after ${(sent / 1024 / 1024).toFixed(1)} MiB sent`);
  });
});

describe('slowloris', () => {
  // A head trickled one byte at a time, for as long as the gateway keeps the connection.
  function trickle(stopAfterMs = 5000) {
    const socket = net.connect(gateway.port, '127.0.0.1');
    socket.on('error', () => {});
    const text = `POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nX-Slow: ${'s'.repeat(1000)}`;
    let at = 0;
    let received = '';
    socket.on('data', (d) => { received += d.toString('latin1'); });
    const timer = setInterval(() => { if (at < text.length && !socket.destroyed) socket.write(text[at++]); }, 40);
    const started = Date.now();
    const closed = new Promise((res) => socket.on('close', () => { clearInterval(timer); res({ after: Date.now() - started, received }); }));
    const guard = setTimeout(() => socket.destroy(), stopAfterMs);
    return { closed: closed.finally(() => clearTimeout(guard)), socket };
  }

  test('a head trickled a byte at a time is cut at the header timeout', async (t) => {
    const { after: closedAfter, received } = await trickle().closed;
    assert.ok(closedAfter >= kHeaderTimeoutMs - 50 && closedAfter < kHeaderTimeoutMs + 1500, `closed after ${closedAfter} ms`);
    t.diagnostic(`closed after ${closedAfter} ms`);
    // Nothing, or a 408: never a request handled half-read.
    if (received) assert.equal(parseResponses(received)[0].status, 408);
  });

  test('hundreds of slow clients do not keep a normal one waiting', async (t) => {
    const slow = Array.from({ length: 300 }, () => trickle());
    await sleep(200);
    const started = Date.now();
    const result = await post('/v1/chat/completions', chat({ messages: [{ role: 'user', content: 'served despite slowloris' }] }));
    const took = Date.now() - started;
    assert.equal(result.status, 200, result.text);
    assert.ok(took < 1000, `a normal request took ${took} ms among 300 slow clients`);
    const ends = await Promise.all(slow.map((s) => s.closed));
    const longest = Math.max(...ends.map((e) => e.after));
    assert.ok(longest < kHeaderTimeoutMs + 2500, `a slow client was kept ${longest} ms`);
    t.diagnostic(`normal request: ${took} ms among 300 slow clients; the last slow one closed after ${longest} ms`);
  });
});

describe('pipelined floods', () => {
  // 20,000 answered without the connection ever waiting: this once overflowed the worker's stack
  // under AddressSanitizer (each answer resumed the session inside the last one).
  test('20,000 requests written at once are answered in order, with bounded memory', async (t) => {
    const count = 20000;
    const before = residentMiB(gateway.child.pid);
    let requests = '';
    for (let i = 0; i < count; i += 1) {
      requests += `GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: flood-${i}\r\n${i === count - 1 ? 'Connection: close\r\n' : ''}\r\n`;
    }
    const responses = parseResponses(await exchange([requests]));
    assert.equal(responses.length, count);
    responses.forEach((response, i) => {
      assert.equal(response.status, 200);
      assert.match(response.head, new RegExp(`\\r\\nx-request-id: flood-${i}(\\r|$)`, 'i'));
    });
    const grown = residentMiB(gateway.child.pid) - before;
    assert.ok(grown < memoryBoundMiB(32), `resident memory grew by ${grown.toFixed(1)} MiB`);
    t.diagnostic(`resident memory grew by ${grown.toFixed(1)} MiB`);
  });

  test('pipelined proxied calls come back in order too', async () => {
    let requests = '';
    for (let i = 0; i < 100; i += 1) {
      const body = JSON.stringify(chat({ messages: [{ role: 'user', content: `pipelined question ${i}` }] }));
      requests += 'POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n'
        + `X-Request-Id: piped-${i}\r\nContent-Length: ${body.length}\r\n${i === 99 ? 'Connection: close\r\n' : ''}\r\n${body}`;
    }
    const responses = parseResponses(await exchange([requests]));
    assert.equal(responses.length, 100);
    responses.forEach((response, i) => {
      assert.equal(response.status, 200, response.body);
      assert.match(response.head, new RegExp(`\\r\\nx-request-id: piped-${i}(\\r|$)`, 'i'));
    });
  });
});

describe('hostile JSON', () => {
  const sendBytes = async (bytes) => {
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: bytes,
    });
    const text = await response.text();
    seen.push(text);
    return { status: response.status, text, json: JSON.parse(text) };
  };

  test('invalid UTF-8 in a string is 400 invalid_json', async () => {
    const prefix = Buffer.from('{"model":"mock-small","messages":[{"role":"user","content":"');
    const suffix = Buffer.from('"}]}');
    for (const bad of [[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80]]) {
      const result = await sendBytes(Buffer.concat([prefix, Buffer.from(bad), suffix]));
      assertOpenAIError(result, 400, 'invalid_request_error', 'invalid_json');
    }
    // A lone surrogate, escaped, is not text either.
    assertOpenAIError(await sendBytes('{"model":"mock-small","messages":[{"role":"user","content":"\\ud800"}]}'),
      400, 'invalid_request_error', 'invalid_json');
  });

  test('JSON nested 100,000 deep is 400, and the gateway lives on', async () => {
    for (const deep of ['['.repeat(100000), `${'{"a":'.repeat(100000)}1${'}'.repeat(100000)}`,
      `{"model":"mock-small","messages":[{"role":"user","content":"x"}],"metadata":${'['.repeat(50000)}${']'.repeat(50000)}}`]) {
      const result = await sendBytes(deep);
      assertOpenAIError(result, 400, 'invalid_request_error', 'invalid_json');
    }
    const healthy = await fetch(`${gateway.url}/healthz`);
    assert.equal(healthy.status, 200);
  });
});

describe('wrong field types with every filter on', () => {
  const user = (content, extra = {}) => ({ messages: [{ role: 'user', content, ...extra }] });
  // [what is sent on top of a valid chat request, the param the 400 must name]
  const cases = [
    [{ model: 7 }, 'model'], [{ model: '' }, 'model'], [{ model: ['mock-small'] }, 'model'],
    [{ messages: 'hello' }, 'messages'], [{ messages: [] }, 'messages'], [{ messages: [null] }, 'messages[0]'],
    [{ messages: [{ role: 7, content: 'x' }] }, 'messages[0].role'],
    [{ messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role'],
    [user(7), 'messages[0].content'], [user({ text: 'x' }), 'messages[0].content'],
    [user(['x']), 'messages[0].content[0]'], [user([7]), 'messages[0].content[0]'],
    [user([{ text: 'x' }]), 'messages[0].content[0].type'], [user([{ type: 7, text: 'x' }]), 'messages[0].content[0].type'],
    [user([{ type: 'text', text: 7 }]), 'messages[0].content[0].text'],
    [user([{ type: 'text' }]), 'messages[0].content[0].text'],
    [user([{ type: 'image_url', image_url: 7 }]), 'messages[0].content[0].image_url'],
    [user([{ type: 'image_url', image_url: { url: 7 } }]), 'messages[0].content[0].image_url.url'],
    [user('x', { name: 7 }), 'messages[0].name'],
    [{ messages: [{ role: 'assistant', content: null, tool_calls: 'call' }] }, 'messages[0].tool_calls'],
    [{ messages: [{ role: 'assistant', content: null, tool_calls: [7] }] }, 'messages[0].tool_calls[0]'],
    [{ messages: [{ role: 'tool', content: 'x', tool_call_id: 7 }] }, 'messages[0].tool_call_id'],
    [{ stream: 'yes' }, 'stream'], [{ stream: 1 }, 'stream'],
    [{ stream: true, stream_options: 'usage' }, 'stream_options'],
    [{ stream: true, stream_options: { include_usage: 'yes' } }, 'stream_options.include_usage'],
    [{ max_tokens: '5' }, 'max_tokens'], [{ max_tokens: 2.5 }, 'max_tokens'], [{ max_tokens: -1 }, 'max_tokens'],
    [{ max_tokens: 0 }, 'max_tokens'], [{ max_tokens: 1e9 * 1e9 * 1e9 }, 'max_tokens'],
    [{ max_completion_tokens: true }, 'max_completion_tokens'], [{ max_completion_tokens: -5 }, 'max_completion_tokens'],
    [{ n: '2' }, 'n'], [{ n: 0 }, 'n'], [{ n: -3 }, 'n'], [{ n: 1.5 }, 'n'], [{ n: 1000000000 }, 'n'],
    [{ temperature: 'hot' }, 'temperature'], [{ temperature: 9 }, 'temperature'], [{ top_p: [] }, 'top_p'],
    [{ presence_penalty: {} }, 'presence_penalty'], [{ frequency_penalty: '1' }, 'frequency_penalty'],
    [{ seed: 'lucky' }, 'seed'], [{ stop: 7 }, 'stop'], [{ logit_bias: [1] }, 'logit_bias'],
    [{ tools: 'search' }, 'tools'], [{ tools: [7] }, 'tools[0]'], [{ tools: [{ function: { name: 'f' } }] }, 'tools[0].type'],
    [{ tools: [{ type: 'function' }] }, 'tools[0].function'],
    [{ tools: [{ type: 'function', function: 'f' }] }, 'tools[0].function'],
    [{ tools: [{ type: 'function', function: { name: 7 } }] }, 'tools[0].function.name'],
    [{ tool_choice: 7 }, 'tool_choice'], [{ tool_choice: ['auto'] }, 'tool_choice'],
    [{ tool_choice: { type: 7 } }, 'tool_choice.type'],
    [{ parallel_tool_calls: 'yes' }, 'parallel_tool_calls'],
    [{ response_format: 'json' }, 'response_format'], [{ response_format: {} }, 'response_format.type'],
    [{ response_format: { type: 7 } }, 'response_format.type'],
    [{ logprobs: 'yes' }, 'logprobs'], [{ top_logprobs: '3' }, 'top_logprobs'], [{ top_logprobs: 50 }, 'top_logprobs'],
    [{ user: 7 }, 'user'], [{ user: { id: 'u' } }, 'user'],
    [{ metadata: 'x' }, 'metadata'], [{ metadata: [] }, 'metadata'], [{ metadata: { feature: 7 } }, 'metadata.feature'],
  ];

  test('each is a 400 in OpenAI shape naming the field, streamed or not', async () => {
    for (const [fields, param] of cases) {
      for (const stream of [false, true]) {
        const body = { ...chat({ stream }), ...fields };
        const result = await post('/v1/chat/completions', body);
        assertOpenAIError(result, 400, 'invalid_request_error');
        assert.equal(result.json.error.param, param, `${JSON.stringify(fields)}: ${result.text}`);
      }
    }
  });

  test('the other routes name their fields too', async () => {
    for (const [path, body, param] of [
      ['/v1/completions', { model: 'mock-small', prompt: 7 }, 'prompt'],
      ['/v1/completions', { model: 'mock-small', prompt: 'p', max_tokens: -1 }, 'max_tokens'],
      ['/v1/completions', { model: 'mock-small', prompt: 'p', n: 'x' }, 'n'],
      ['/v1/embeddings', { model: 'mock-embed', input: 7 }, 'input'],
      ['/v1/embeddings', { model: 'mock-embed', input: 'x', dimensions: -1 }, 'dimensions'],
      ['/v1/embeddings', { model: 'mock-embed', input: 'x', encoding_format: 7 }, 'encoding_format'],
      ['/v1/embeddings', { model: 'mock-embed', input: 'x', user: 7 }, 'user'],
    ]) {
      const result = await post(path, body);
      assertOpenAIError(result, 400, 'invalid_request_error');
      assert.equal(result.json.error.param, param, `${path} ${JSON.stringify(body)}: ${result.text}`);
    }
  });
});

describe('absurd token counts with token_cap and budget', () => {
  test('huge max_tokens and n are capped, and the call is charged a sane amount', async () => {
    const result = await post('/v1/chat/completions', chat({ max_tokens: 2 ** 31, n: 128 }), {
      'x-mock-echo-body': '1', 'x-request-id': 'capped-huge',
    });
    assert.equal(result.status, 200, result.text);
    assert.equal(result.json.mock_received_body.max_tokens, 256);
    assert.equal(result.json.mock_received_body.n, 2);
    const cost = Number(result.headers.get('x-costgate-cost-usd'));
    assert.ok(cost > 0 && cost < 0.01, `charged ${cost}`);
  });

  test('numbers no filter may trust are never reserved as negative or overflowed amounts', async () => {
    // The completions and embeddings routes do not validate every field the budget reads. A
    // huge cap is held as 2^31 tokens (times n, at most 128): the budget or the tokens-per-minute
    // limit refuses it. A negative one counts as none (assumed_output_tokens). Both used to be
    // cast to a negative hold, which let an unpriced output (mock-embed's) past the limit.
    for (const [path, body, status, code] of [
      ['/v1/completions', { model: 'mock-small', prompt: 'count to three', max_completion_tokens: 1e300 }, 429, 'budget_exceeded'],
      ['/v1/completions', { model: 'mock-small', prompt: 'count to three', max_completion_tokens: 9223372036854775807 }, 429, 'budget_exceeded'],
      ['/v1/completions', { model: 'mock-small', prompt: 'count to three', max_completion_tokens: -1e300 }, 400, 'invalid_type'],
      ['/v1/embeddings', { model: 'mock-embed', input: 'embed me', n: -1e300, max_tokens: 1e300 }, 429, 'rate_limit_exceeded'],
      ['/v1/embeddings', { model: 'mock-embed', input: 'embed me', n: 9223372036854775807, max_tokens: 9223372036854775807 }, 429, 'rate_limit_exceeded'],
      ['/v1/embeddings', { model: 'mock-embed', input: 'embed me', n: 1e300, max_tokens: -1e300 }, 200],
    ]) {
      const result = await post(path, body);
      // 400: the mock refuses the field once the gateway let it through.
      assert.equal(result.status, status, `${JSON.stringify(body)}: ${result.text}`);
      if (code) assert.equal(result.json.error.code, code, JSON.stringify(body));
      const cost = result.headers.get('x-costgate-cost-usd');
      if (cost !== null) assert.ok(Number(cost) >= 0, `charged ${cost}`);
    }
    await sleep(100);
    for (const budget of await budgets()) {
      assert.ok(Number(budget.spent_usd) >= 0 && Number(budget.reserved_usd) === 0, JSON.stringify(budget));
    }
  });
});

describe('thousands of messages', () => {
  const conversation = (count, text = (i) => `message number ${i} of a very long chat`) => [
    { role: 'system', content: 'You are a patient assistant.' },
    ...Array.from({ length: count }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: text(i) })),
    { role: 'user', content: 'So, what was the first thing I said?' },
  ];

  test('20,000 messages are pruned to the token budget in bounded time', async (t) => {
    const started = Date.now();
    const result = await post('/v1/chat/completions', chat({ messages: conversation(20000) }), {
      'x-costgate-feature': 'bulk', 'x-mock-echo-body': '1',
    });
    const took = Date.now() - started;
    assert.equal(result.status, 200, result.text.slice(0, 500));
    const sent = result.json.mock_received_body.messages;
    assert.ok(sent.length < 200, `${sent.length} messages forwarded`);
    assert.equal(sent[0].content, 'You are a patient assistant.');
    assert.equal(sent.at(-1).content, 'So, what was the first thing I said?');
    assert.ok(Number(result.headers.get('x-costgate-tokens-saved')) > 100000);
    assert.ok(took < 10000, `took ${took} ms`);
    t.diagnostic(`${sent.length} messages forwarded, after ${took} ms`);
  });

  test('20,000 messages over a reject policy are refused with the counts, quickly', async (t) => {
    const started = Date.now();
    const result = await post('/v1/chat/completions', chat({ messages: conversation(20000) }), { 'x-costgate-feature': 'refuse' });
    assertOpenAIError(result, 400, 'invalid_request_error', 'input_tokens_exceeded');
    assert.ok(Date.now() - started < 10000, `took ${Date.now() - started} ms`);
    t.diagnostic(`refused after ${Date.now() - started} ms`);
  });

  test('20,000 repeated messages are deduplicated in bounded time', async (t) => {
    const started = Date.now();
    const result = await post('/v1/chat/completions', chat({ messages: conversation(20000, (i) => `same ${i % 2}`) }), {
      'x-mock-echo-body': '1',
    });
    assert.equal(result.status, 200, result.text.slice(0, 500));
    assert.ok(result.json.mock_received_body.messages.length < 100);
    assert.ok(Date.now() - started < 10000, `took ${Date.now() - started} ms`);
    t.diagnostic(`${result.json.mock_received_body.messages.length} messages forwarded, after ${Date.now() - started} ms`);
  });
});

describe('web pages', () => {
  const body = JSON.stringify(chat({ messages: [{ role: 'user', content: 'from a web page' }] }));
  const raw = async (method, path, fields, payload = '') => {
    const [response, ...more] = parseResponses(await exchange([
      `${method} ${path} HTTP/1.1\r\n${fields}${payload ? `Content-Length: ${Buffer.byteLength(payload)}\r\n` : ''}Connection: close\r\n\r\n${payload}`,
    ]));
    assert.equal(more.length, 0);
    return { ...response, text: response.body };
  };

  test("a browser's simple cross-site POST (text/plain, form, none) is 415, never served", async () => {
    for (const type of ['text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x', null]) {
      for (const path of ['/v1/chat/completions', '/v1/completions', '/v1/embeddings']) {
        const result = await raw('POST', path, `Host: localhost\r\n${type ? `Content-Type: ${type}\r\n` : ''}`, body);
        assertOpenAIError(result, 415, 'invalid_request_error', 'unsupported_media_type');
      }
    }
    for (const type of ['application/json; charset=utf-8', 'Application/JSON']) {
      const result = await raw('POST', '/v1/chat/completions', `Host: localhost\r\nContent-Type: ${type}\r\n`, body);
      assert.equal(result.status, 200, `${type}: ${result.text}`);
    }
  });

  test('a request from a page (Origin) is 403 when no origin is allowed, JSON or not', async () => {
    for (const origin of ['https://evil.example', 'null', 'http://localhost:3000', `http://127.0.0.1:${gateway.port}`]) {
      const post = await raw('POST', '/v1/chat/completions', `Host: localhost\r\nOrigin: ${origin}\r\nContent-Type: application/json\r\n`, body);
      assertOpenAIError(post, 403, 'invalid_request_error', 'origin_not_allowed');
      assert.doesNotMatch(post.head, /access-control-allow-origin/i);
      const preflight = await raw('OPTIONS', '/v1/chat/completions',
        `Host: localhost\r\nOrigin: ${origin}\r\nAccess-Control-Request-Method: POST\r\n`);
      assert.equal(preflight.status, 403, origin);
      assert.doesNotMatch(preflight.head, /access-control-allow/i);
    }
    // No Origin: a program, not a page.
    assert.equal((await raw('POST', '/v1/chat/completions', 'Host: localhost\r\nContent-Type: application/json\r\n', body)).status, 200);
  });

  test("a DNS-rebinding page's Host is 403 on every route; loopback names and addresses are served", async () => {
    for (const host of ['evil.example', `evil.example:${gateway.port}`, 'gw', 'localhost.evil.example']) {
      for (const [method, path, fields, payload] of [
        ['GET', '/costgate/spend', '', ''], ['GET', '/v1/models', '', ''], ['GET', '/healthz', '', ''],
        ['POST', '/v1/chat/completions', 'Content-Type: application/json\r\n', body],
      ]) {
        const result = await raw(method, path, `Host: ${host}\r\n${fields}`, payload);
        assertOpenAIError(result, 403, 'invalid_request_error', 'host_not_allowed');
      }
    }
    for (const host of ['localhost', `localhost:${gateway.port}`, `127.0.0.1:${gateway.port}`, `[::1]:${gateway.port}`, 'app.localhost']) {
      assert.equal((await raw('GET', '/v1/models', `Host: ${host}\r\n`)).status, 200, host);
    }
    const twice = await raw('GET', '/healthz', 'Host: localhost\r\nHost: evil.example\r\n');
    assert.equal(twice.status, 403);
    const duplicate = await raw('GET', '/healthz', 'Host: localhost\r\nHost: localhost\r\n');
    assertOpenAIError(duplicate, 400, 'invalid_request_error');
  });
});

describe('HEAD', () => {
  test('HEAD is GET without the body: same status and length, and the connection stays in step', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics', '/v1/models', '/v1/models/mock-small', '/dashboard', '/no-such-path']) {
      // Not parseResponses: /metrics and /dashboard are not JSON.
      const whole = await exchange([`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`]);
      const get = { status: Number(whole.split(' ')[1]), body: whole.slice(whole.indexOf('\r\n\r\n') + 4) };
      // HEAD then GET on one connection: the GET's answer must follow the HEAD's head at once.
      const bytes = await exchange([`HEAD ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`
        + `GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: after-head\r\nConnection: close\r\n\r\n`]);
      const end = bytes.indexOf('\r\n\r\n');
      const head = bytes.slice(0, end);
      assert.equal(Number(head.split(' ')[1]), get.status, `${path}: ${head}`);
      const length = /\r\ncontent-length: (\d+)/i.exec(head)?.[1];
      // /metrics changes between the calls; a 404 names the method it refused.
      if (path === '/metrics' || path === '/no-such-path') assert.ok(Number(length) > 0, path);
      else assert.equal(Number(length), Buffer.byteLength(get.body, 'latin1'), path);
      const rest = bytes.slice(end + 4);
      assert.match(rest, /^HTTP\/1\.1 200 /, `${path}: a body followed the HEAD's head: ${rest.slice(0, 80)}`);
      assert.match(rest, /x-request-id: after-head/i, path);
    }
  });

  test('HEAD on an API route is 405 (use POST), without a body', async () => {
    const bytes = await exchange(['HEAD /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n']);
    const end = bytes.indexOf('\r\n\r\n');
    assert.match(bytes.slice(0, end), /^HTTP\/1\.1 405 /);
    assert.match(bytes.slice(0, end), /\r\nallow: POST/i);
    assert.equal(bytes.slice(end + 4), '');
  });
});

describe('lingering close', () => {
  // A client that writes its whole request before reading a byte (as many simple clients do):
  // the 413 comes while it is still sending, and must still be there when it reads.
  async function sendAllThenRead(head, total, { pieceBytes = 64 * 1024, gapMs = 0 } = {}) {
    const socket = net.connect({ port: gateway.port, host: '127.0.0.1', allowHalfOpen: true });
    await new Promise((res) => socket.on('connect', res));
    socket.pause();  // read nothing until everything was sent
    let error = null;
    socket.on('error', (e) => { error = error ?? e.code; });
    const closed = new Promise((res) => socket.on('close', res));
    socket.write(head);
    const piece = Buffer.alloc(pieceBytes, 'x');
    let sent = 0;
    const started = Date.now();
    while (sent < total && !error) {
      const flushed = socket.write(piece);
      sent += piece.length;
      if (!flushed) await new Promise((res) => { socket.once('drain', res); socket.once('close', res); });
      if (gapMs) await sleep(gapMs);
    }
    const sendError = error;
    let received = '';
    socket.on('data', (d) => { received += d.toString('latin1'); });
    socket.resume();
    socket.end();
    await Promise.race([closed, sleep(15000)]);
    socket.destroy();
    seen.push(received);
    return { received, sendError, error, sent, took: Date.now() - started };
  }

  test('a client that keeps sending a refused body for seconds still reads the 413, not a reset', async (t) => {
    // 12 MiB declared (over the 4 MiB limit, so refused before any of it is read) and sent at
    // about 4 MiB/s: the gateway must keep reading and dropping it for three seconds.
    const total = 12 * 1024 * 1024;
    const head = 'POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n'
      + `Content-Length: ${total}\r\n\r\n`;
    const result = await sendAllThenRead(head, total, { gapMs: 15 });
    assert.equal(result.sendError, null, `sending failed after ${result.sent} bytes: ${result.sendError}`);
    assert.equal(result.error, null);
    const [response] = parseResponses(result.received);
    assertOpenAIError({ status: response.status, json: response.json, text: response.body }, 413, 'invalid_request_error', 'request_too_large');
    assert.ok(result.took > 2000, `sent in ${result.took} ms: not long enough to test the linger`);
    t.diagnostic(`${(result.sent / 1024 / 1024).toFixed(0)} MiB sent over ${result.took} ms after the 413`);
  });

  test('a chunked body over the limit, sent with pauses, still reads the 413', async () => {
    const chunk = `${(64 * 1024).toString(16)}\r\n${'x'.repeat(64 * 1024)}\r\n`;
    const head = 'POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
    // Pauses of 400 ms: longer than the old linger's quiet time, shorter than its own.
    const result = await sendAllThenRead(head + chunk.repeat(70), 6 * 64 * 1024, { pieceBytes: 64 * 1024, gapMs: 400 });
    assert.equal(result.sendError, null, `sending failed: ${result.sendError}`);
    assert.equal(parseResponses(result.received)[0].status, 413);
  });
});

describe('what a backend is sent', () => {
  let scripted;
  let forwarding;
  before(async () => {
    scripted = await startScriptedBackend((socket, request) => {
      scripted.last = request;
      const answer = JSON.stringify({
        id: 'x', object: 'chat.completion', created: 1, model: 'm',
        choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      });
      socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${answer.length}\r\n\r\n${answer}`);
    });
    forwarding = await startGateway(`server:
  listen: 127.0.0.1:0
  threads: 1
backends:
  plain:
    url: ${scripted.url}
    api_key: backend-secret
  listed:
    url: ${scripted.url}
    api_key: backend-secret
    forward_headers: [defaults, x-tenant, openai-organization]
models:
  plain-model: {backend: plain, backend_model: gpt-4o-mini, encoding: none}
  listed-model: {backend: listed, backend_model: gpt-4o-mini, encoding: none}
log_level: warn
`);
  });
  after(async () => {
    await forwarding?.stop();
    await scripted?.stop();
  });

  const clientHeaders = {
    authorization: 'Bearer client-key', 'x-goog-api-key': 'AIza-client', 'ocp-apim-subscription-key': 'azure-client',
    forwarded: 'for=1.2.3.4;host=evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-for': '1.2.3.4',
    'x-tenant': 'acme', 'openai-organization': 'org-client', 'openai-beta': 'assistants=v2', 'idempotency-key': 'idem-1',
    'x-stainless-lang': 'js', 'x-stainless-retry-count': '0', 'user-agent': 'OpenAI/JS 4.77.0', 'x-something-new': 'x',
  };
  const lines = (head, name) => head.split('\r\n').filter((l) => l.toLowerCase().startsWith(`${name}:`));

  test('only the allow-listed client headers reach a backend, with one User-Agent', async () => {
    const result = await postJson(`${forwarding.url}/v1/chat/completions`,
      { model: 'plain-model', messages: [{ role: 'user', content: 'hi' }] }, clientHeaders);
    assert.equal(result.status, 200, result.text);
    const { head, headers } = scripted.last;
    for (const name of ['x-goog-api-key', 'ocp-apim-subscription-key', 'forwarded', 'x-forwarded-host', 'x-forwarded-for',
      'x-tenant', 'openai-organization', 'x-something-new', 'cookie']) {
      assert.equal(headers[name], undefined, `${name} reached the backend`);
    }
    assert.ok(!head.includes('client-key') && !head.includes('AIza-client') && !head.includes('azure-client'), head);
    assert.equal(headers.authorization, 'Bearer backend-secret');
    for (const name of ['openai-beta', 'idempotency-key', 'x-stainless-lang', 'x-stainless-retry-count']) {
      assert.equal(headers[name], clientHeaders[name], name);
    }
    const agents = lines(head, 'user-agent');
    assert.equal(agents.length, 1, head);
    assert.match(agents[0], /^user-agent: costgate\/\S+ OpenAI\/JS 4\.77\.0$/i);
    assert.equal(lines(head, 'host').length, 1);
    assert.equal(lines(head, 'content-type').length, 1);
  });

  test("each backend's forward_headers decide what it gets", async () => {
    const result = await postJson(`${forwarding.url}/v1/chat/completions`,
      { model: 'listed-model', messages: [{ role: 'user', content: 'hi' }] }, clientHeaders);
    assert.equal(result.status, 200, result.text);
    const { headers } = scripted.last;
    assert.equal(headers['x-tenant'], 'acme');
    assert.equal(headers['openai-organization'], 'org-client');
    assert.equal(headers['openai-beta'], 'assistants=v2');
    assert.equal(headers['x-goog-api-key'], undefined);
    assert.equal(headers['x-something-new'], undefined);
  });
});

describe('a gateway that allows a web app', () => {
  let browserGateway;
  const app = 'http://localhost:3000';
  before(async () => {
    browserGateway = await startGateway(gatewayConfig({
      backendUrl: `${mock.url}/v1`,
      server: { allowed_origins: `['${app}', 'HTTPS://Tool.Example.com']`, allowed_hosts: '[gateway.example.com]' },
    }));
  });
  after(async () => { await browserGateway?.stop(); });

  const send = async (method, path, fields, payload = '') => {
    const [response] = parseResponses(await rawExchange(browserGateway.port, [
      `${method} ${path} HTTP/1.1\r\n${fields}${payload ? `Content-Length: ${payload.length}\r\n` : ''}Connection: close\r\n\r\n${payload}`,
    ]));
    return response;
  };

  test('a preflight from an allowed origin is 204 with the CORS fields; from another, 403', async () => {
    const preflight = await send('OPTIONS', '/v1/chat/completions',
      `Host: localhost\r\nOrigin: ${app}\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization, content-type, x-stainless-os\r\n`);
    assert.equal(preflight.status, 204, preflight.head);
    assert.match(preflight.head, new RegExp(`\\r\\naccess-control-allow-origin: ${app}\\r`, 'i'));
    assert.match(preflight.head, /\r\naccess-control-allow-methods: [^\r]*POST/i);
    assert.match(preflight.head, /\r\naccess-control-allow-headers: authorization, content-type, x-stainless-os\r/i);
    assert.match(preflight.head, /\r\nvary: Origin/i);
    assert.doesNotMatch(preflight.head, /content-length/i);
    // Chrome's Private Network Access: a public page asking to reach a loopback gateway.
    const fromPublic = await send('OPTIONS', '/v1/embeddings',
      'Host: localhost\r\nOrigin: https://tool.example.com\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Private-Network: true\r\n');
    assert.equal(fromPublic.status, 204);
    assert.match(fromPublic.head, /\r\naccess-control-allow-private-network: true\r/i);
    const other = await send('OPTIONS', '/v1/chat/completions',
      'Host: localhost\r\nOrigin: https://evil.example\r\nAccess-Control-Request-Method: POST\r\n');
    assert.equal(other.status, 403);
    assert.doesNotMatch(other.head, /access-control-allow-origin/i);
  });

  test("an allowed origin's calls are served with Access-Control-Allow-Origin and Vary: Origin", async () => {
    const body = JSON.stringify(chat());
    for (const origin of [app, 'https://tool.example.com']) {
      const served = await send('POST', '/v1/chat/completions', `Host: localhost\r\nOrigin: ${origin}\r\nContent-Type: application/json\r\n`, body);
      assert.equal(served.status, 200, served.body);
      assert.match(served.head, new RegExp(`\\r\\naccess-control-allow-origin: ${origin}\\r`, 'i'));
      assert.match(served.head, /\r\nvary: Origin\r/i);
    }
    // Still JSON only: an allowed page's text/plain POST is 415 (with the CORS fields, so it can read why).
    const plain = await send('POST', '/v1/chat/completions', `Host: localhost\r\nOrigin: ${app}\r\nContent-Type: text/plain\r\n`, body);
    assert.equal(plain.status, 415);
    assert.match(plain.head, /access-control-allow-origin/i);
    const models = await send('GET', '/v1/models', `Host: localhost\r\nOrigin: ${app}\r\n`);
    assert.equal(models.status, 200);
    assert.match(models.head, /access-control-allow-origin/i);
  });

  test('allowed_hosts adds names to the loopback ones', async () => {
    assert.equal((await send('GET', '/healthz', 'Host: gateway.example.com:8443\r\n')).status, 200);
    assert.equal((await send('GET', '/healthz', 'Host: localhost\r\n')).status, 200);
    assert.equal((await send('GET', '/healthz', 'Host: other.example.com\r\n')).status, 403);
  });
});

describe('after all of it', () => {
  test('the gateway is alive, its metrics are valid, and the backend key never showed', async () => {
    assert.equal(gateway.child.exitCode, null, 'the gateway exited');
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    checkMetrics(metrics);
    for (const line of metrics.split('\n').filter((l) => l && !l.startsWith('#'))) {
      assert.ok(Number.isFinite(Number(line.split(' ').at(-1))), line);
    }
    const log = gateway.lines.stdout.join('\n') + gateway.lines.stderr.join('\n');
    for (const text of [...seen, metrics, log]) assert.ok(!text.includes('backend-secret'), text.slice(0, 300));
    for (const line of gateway.accessLog()) {
      for (const key of ['tokens_in', 'tokens_out', 'cost_usd', 'latency_us']) {
        if (line[key] !== undefined) assert.ok(Number.isFinite(line[key]) && line[key] >= 0, JSON.stringify(line));
      }
    }
  });
});
