// Clients that mean harm or are badly broken, against the real gateway with every filter on:
// request smuggling and malformed framing, oversized heads and bodies, slowloris, pipelined
// floods, hostile JSON, wrong field types, absurd token counts and huge conversations. Each must
// get an answer in OpenAI's shape (or a closed connection), never a crash, a hang, a 500 or a
// reservation that goes negative. docs/hardening.md lists the cases.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  startMock, startGateway, postJson, assertOpenAIError, sleep, checkMetrics, residentMiB, memoryBoundMiB,
} from './harness.mjs';
import { rawExchange, parseResponses } from './raw_http.mjs';

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
  const head = (fields) => `POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\n${fields}\r\n`;
  const smuggled = 'GET /admin/budgets HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer admin-secret\r\n\r\n';

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
      ['the request line', 'GET /healthz HTTP/1.1\nHost: gw\r\n\r\n'],
      ['a field line', 'GET /healthz HTTP/1.1\r\nHost: gw\nX-A: b\r\n\r\n'],
      ['the blank line', 'GET /healthz HTTP/1.1\r\nHost: gw\r\n\n'],
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
    const [served] = parseResponses(await exchange([`GET /healthz HTTP/1.1\r\nHost: gw\r\n${fields(1000)}Connection: close\r\n\r\n`]));
    assert.equal(served.status, 200);
    const [refused] = parseResponses(await exchange([`GET /healthz HTTP/1.1\r\nHost: gw\r\n${fields(100000)}\r\n`]));
    assert.equal(refused.status, 431);
  });

  test('a declared body over the limit is 413 before any of it is sent', async () => {
    const raw = await exchange([
      'POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n' +
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
    socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n');
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
    const text = `POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nX-Slow: ${'s'.repeat(1000)}`;
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
      requests += `GET /healthz HTTP/1.1\r\nHost: gw\r\nX-Request-Id: flood-${i}\r\n${i === count - 1 ? 'Connection: close\r\n' : ''}\r\n`;
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
      requests += 'POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n'
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
