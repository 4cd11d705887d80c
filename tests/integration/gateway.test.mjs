// The gateway core against the real mock backend: routing, forwarding, errors, streaming,
// timeouts, keep-alive pooling, the access log and the metrics endpoint.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  startMock, startGateway, gatewayConfig, postJson, assertOpenAIError, sleep, checkMetrics, freePort,
} from './harness.mjs';

const chat = (extra = {}) => ({
  model: 'mock-small',
  messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello to the gateway' }],
  ...extra,
});

async function mockStats(mock) {
  const response = await fetch(`${mock.url}/mock/stats`);
  return response.json();
}

// Reads a streamed response, timing each piece.
async function readStream(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const pieces = [];
  const started = Date.now();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    pieces.push({ at: Date.now() - started, text: decoder.decode(value, { stream: true }) });
  }
  return pieces;
}

function sseData(text) {
  return text.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice(6));
}

describe('gateway core', () => {
  let mock;
  let gateway;
  before(async () => {
    mock = await startMock(['--threads', '1']);
    gateway = await startGateway(gatewayConfig({
      backendUrl: `${mock.url}/v1`,
      models: ['mock-small', 'mock-large'],
      filters: ['tagging'],
      server: { max_body_bytes: 65536, max_header_bytes: 4096, header_timeout_ms: 500 },
      backend: { read_timeout_ms: 1000 },
    }));
  });
  after(async () => {
    await gateway?.stop();
    await mock?.stop();
  });

  test('health and readiness', async () => {
    for (const path of ['/healthz', '/readyz']) {
      const response = await fetch(gateway.url + path);
      assert.equal(response.status, 200);
      assert.ok(response.headers.get('x-request-id'));
    }
  });

  test('lists exactly the configured models', async () => {
    const response = await fetch(`${gateway.url}/v1/models`);
    const body = await response.json();
    assert.equal(body.object, 'list');
    assert.deepEqual(body.data.map((m) => m.id).sort(), ['mock-large', 'mock-small']);
    for (const model of body.data) assert.equal(model.object, 'model');
    const one = await (await fetch(`${gateway.url}/v1/models/mock-large`)).json();
    assert.equal(one.id, 'mock-large');
    const missing = await fetch(`${gateway.url}/v1/models/nope`);
    assertOpenAIError({ status: missing.status, json: await missing.json() }, 404, 'invalid_request_error', 'model_not_found');
  });

  test('proxies a chat completion, mapping the model and replacing credentials', async () => {
    const result = await postJson(`${gateway.url}/v1/chat/completions`, chat(), {
      authorization: 'Bearer client-key-must-not-leak',
      'x-mock-echo-headers': '1',
      'x-request-id': 'client-chosen-id-1',
    });
    assert.equal(result.status, 200, result.text);
    assert.equal(result.json.object, 'chat.completion');
    assert.equal(result.json.model, 'backend-mock-small', 'the backend sees its own model name');
    assert.ok(result.json.choices[0].message.content.length > 0);
    assert.equal(result.headers.get('x-costgate-model'), 'mock-small');
    assert.equal(result.headers.get('x-request-id'), 'client-chosen-id-1');
    assert.equal(result.headers.get('x-upstream-request-id'), null, 'the mock echoed our id: nothing new');
    const seen = result.json.mock_received_headers;
    // The backend got exactly our key; its echo comes back with the key redacted.
    assert.equal(seen.authorization, 'Bearer [redacted]');
    assert.equal(seen['x-request-id'], 'client-chosen-id-1');
    assert.ok(!JSON.stringify(seen).includes('client-key-must-not-leak'));
  });

  test('proxies completions and embeddings', async () => {
    const completion = await postJson(`${gateway.url}/v1/completions`, { model: 'mock-small', prompt: 'Once upon' });
    assert.equal(completion.status, 200, completion.text);
    assert.equal(completion.json.object, 'text_completion');
    const embeddings = await postJson(`${gateway.url}/v1/embeddings`, { model: 'mock-large', input: ['a', 'b'] });
    assert.equal(embeddings.status, 200, embeddings.text);
    assert.equal(embeddings.json.data.length, 2);
    assert.ok(Array.isArray(embeddings.json.data[0].embedding));
  });

  test('rejects malformed JSON and wrong field types with 400', async () => {
    assertOpenAIError(await postJson(`${gateway.url}/v1/chat/completions`, '{"model": "mock-small",'), 400, 'invalid_request_error');
    const wrongType = await postJson(`${gateway.url}/v1/chat/completions`, chat({ temperature: 'hot' }));
    assertOpenAIError(wrongType, 400, 'invalid_request_error');
    assert.equal(wrongType.json.error.param, 'temperature');
    const noMessages = await postJson(`${gateway.url}/v1/chat/completions`, { model: 'mock-small' });
    assertOpenAIError(noMessages, 400, 'invalid_request_error');
    assert.equal(noMessages.json.error.param, 'messages');
    const badRole = await postJson(`${gateway.url}/v1/chat/completions`, chat({ messages: [{ role: 'wizard', content: 'x' }] }));
    assert.equal(badRole.json.error.param, 'messages[0].role');
    const notObject = await postJson(`${gateway.url}/v1/chat/completions`, '[1,2]');
    assertOpenAIError(notObject, 400, 'invalid_request_error');
  });

  test('unknown model is 404 model_not_found', async () => {
    assertOpenAIError(await postJson(`${gateway.url}/v1/chat/completions`, chat({ model: 'gpt-nope' })), 404, 'invalid_request_error', 'model_not_found');
  });

  test('unknown path is 404 and wrong method 405, in OpenAI shape', async () => {
    const unknown = await postJson(`${gateway.url}/v1/nothing-here`, {});
    assertOpenAIError(unknown, 404, 'invalid_request_error', 'unknown_url');
    const wrongMethod = await fetch(`${gateway.url}/v1/chat/completions`);
    assertOpenAIError({ status: wrongMethod.status, json: await wrongMethod.json() }, 405, 'invalid_request_error');
  });

  test('a body over the limit is 413', async () => {
    const big = chat({ messages: [{ role: 'user', content: 'x'.repeat(70000) }] });
    assertOpenAIError(await postJson(`${gateway.url}/v1/chat/completions`, big), 413, 'invalid_request_error', 'request_too_large');
  });

  test('headers over the limit are 431', async () => {
    const result = await postJson(`${gateway.url}/v1/chat/completions`, chat(), { 'x-padding': 'p'.repeat(5000) });
    assertOpenAIError(result, 431, 'invalid_request_error');
  });

  test('backend error statuses pass through with their body', async () => {
    const result = await postJson(`${gateway.url}/v1/chat/completions`, chat(), { 'x-mock-status': '429' });
    assertOpenAIError(result, 429);
    assert.equal(result.headers.get('retry-after'), '1');
    const unavailable = await postJson(`${gateway.url}/v1/chat/completions`, chat(), { 'x-mock-status': '503' });
    assertOpenAIError(unavailable, 503);
  });

  test('a backend slower than its read timeout is 504', async () => {
    const result = await postJson(`${gateway.url}/v1/chat/completions`, chat(), { 'x-mock-latency-ms': '2500' });
    assertOpenAIError(result, 504, 'api_error', 'upstream_timeout');
  });

  test('a backend that resets the connection is 502', async () => {
    const result = await postJson(`${gateway.url}/v1/chat/completions`, chat(), { 'x-mock-reset': '1' });
    assertOpenAIError(result, 502, 'api_error');
  });

  test('streams chunks as they arrive and reassembles to the whole answer', async () => {
    const whole = await postJson(`${gateway.url}/v1/chat/completions`, chat());
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-mock-chunks': '5', 'x-mock-chunk-delay-ms': '150' },
      body: JSON.stringify(chat({ stream: true })),
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type'), /^text\/event-stream/);
    const pieces = await readStream(response);
    const text = pieces.map((p) => p.text).join('');
    const events = sseData(text);
    assert.equal(events.at(-1), '[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    const content = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    assert.equal(content, whole.json.choices[0].message.content);
    // Relayed, not buffered: the first bytes came long before the last.
    assert.ok(pieces.length >= 3, `only ${pieces.length} pieces arrived`);
    assert.ok(pieces.at(-1).at - pieces[0].at >= 450, `stream arrived within ${pieces.at(-1).at - pieces[0].at} ms`);
  });

  test('an upstream that dies mid-stream ends the stream with an error event', async () => {
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-mock-reset-after-chunks': '2' },
      body: JSON.stringify(chat({ stream: true })),
    });
    assert.equal(response.status, 200);
    const events = sseData((await readStream(response)).map((p) => p.text).join(''));
    const last = JSON.parse(events.at(-1));
    assert.ok(last.error, `last event is not an error: ${events.at(-1)}`);
    assert.equal(last.error.type, 'api_error');
  });

  test('an upstream that stalls mid-stream is timed out, not left hanging', async () => {
    const started = Date.now();
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-mock-stall-after-chunks': '2' },
      body: JSON.stringify(chat({ stream: true })),
    });
    const events = sseData((await readStream(response)).map((p) => p.text).join(''));
    const last = JSON.parse(events.at(-1));
    assert.equal(last.error.code, 'upstream_timeout');
    assert.ok(Date.now() - started < 2900, 'ended by the 1 s read timeout');
  });

  test('a client that disconnects cancels the upstream call', async () => {
    const before = await mockStats(mock);
    const controller = new AbortController();
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-mock-chunks': '40', 'x-mock-chunk-delay-ms': '100' },
      body: JSON.stringify(chat({ stream: true })),
      signal: controller.signal,
    });
    const reader = response.body.getReader();
    await reader.read();
    controller.abort();
    // Without cancellation the mock would stream for 4 s more.
    let stats;
    for (let i = 0; i < 20; i++) {
      await sleep(100);
      stats = await mockStats(mock);
      if (stats.streams_cancelled > before.streams_cancelled) break;
    }
    assert.equal(stats.streams_cancelled, before.streams_cancelled + 1, JSON.stringify(stats));
  });

  test('backend connections are kept alive and reused', async () => {
    const before = await mockStats(mock);
    for (let i = 0; i < 20; i++) {
      const result = await postJson(`${gateway.url}/v1/chat/completions`, chat());
      assert.equal(result.status, 200);
    }
    const stats = await mockStats(mock);
    // Two worker threads each keep their own pool.
    assert.ok(stats.connections_accepted - before.connections_accepted <= 2,
      `${stats.connections_accepted - before.connections_accepted} new backend connections for 20 calls`);
  });

  test('a client that never finishes its headers is disconnected', async () => {
    const socket = net.connect(gateway.port, '127.0.0.1');
    await new Promise((res) => socket.on('connect', res));
    socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n');
    const started = Date.now();
    await new Promise((res) => socket.on('close', res));
    const waited = Date.now() - started;
    assert.ok(waited >= 400 && waited < 3000, `closed after ${waited} ms`);
  });

  test('writes one JSON access-log line per request', async () => {
    await postJson(`${gateway.url}/v1/chat/completions`, chat(), { 'x-request-id': 'log-me-1', 'x-costgate-feature': 'search' });
    await sleep(100);
    const line = gateway.accessLog().find((l) => l.request_id === 'log-me-1');
    assert.ok(line, 'no access-log line for the request');
    assert.equal(line.route, 'chat_completions');
    assert.equal(line.model, 'mock-small');
    assert.equal(line.backend, 'mock');
    assert.equal(line.status, 200);
    assert.equal(line.feature, 'search');
    assert.ok(line.latency_us > 0);
    assert.ok(line.bytes_in > 0 && line.bytes_out > 0);
    assert.match(line.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  test('serves valid Prometheus metrics', async () => {
    const response = await fetch(`${gateway.url}/metrics`);
    assert.equal(response.status, 200);
    const text = await response.text();
    assert.match(text, /costgate_requests_total\{.*route="chat_completions".*\} \d+/);
    checkMetrics(text);
  });
});

describe('gateway without a reachable backend', () => {
  test('an unreachable backend is 502', async () => {
    const closedPort = await freePort();
    const gateway = await startGateway(gatewayConfig({ backendUrl: `http://127.0.0.1:${closedPort}/v1` }));
    try {
      const result = await postJson(`${gateway.url}/v1/chat/completions`, chat());
      assertOpenAIError(result, 502, 'api_error', 'upstream_unreachable');
    } finally {
      await gateway.stop();
    }
  });

  test('a backend whose name does not resolve is 502, and so is the next call', async () => {
    // .invalid never resolves (RFC 6761); the second call is answered from the failure kept.
    const gateway = await startGateway(gatewayConfig({ backendUrl: 'http://backend.invalid/v1' }));
    try {
      for (let call = 0; call < 2; call += 1) {
        const result = await postJson(`${gateway.url}/v1/chat/completions`, chat());
        assertOpenAIError(result, 502, 'api_error', 'upstream_unreachable');
      }
    } finally {
      await gateway.stop();
    }
  });
});

describe('backends by name', () => {
  test('a backend named in /etc/hosts (localhost) is reached', async () => {
    const mock = await startMock();
    const gateway = await startGateway(gatewayConfig({ backendUrl: `http://localhost:${mock.port}/v1` }));
    try {
      for (let call = 0; call < 2; call += 1) {
        const result = await postJson(`${gateway.url}/v1/chat/completions`, chat());
        assert.equal(result.status, 200, result.text);
      }
    } finally {
      await gateway.stop();
      await mock.stop();
    }
  });
});

describe('graceful shutdown', () => {
  test('SIGTERM lets a stream in flight finish, refuses new connections, then exits 0', async () => {
    const mock = await startMock();
    const gateway = await startGateway(gatewayConfig({ backendUrl: `${mock.url}/v1` }));
    try {
      const response = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-mock-chunks': '6', 'x-mock-chunk-delay-ms': '150' },
        body: JSON.stringify(chat({ stream: true })),
      });
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let text = decoder.decode((await reader.read()).value, { stream: true });
      gateway.child.kill('SIGTERM');
      await sleep(100);
      const refused = await fetch(`${gateway.url}/healthz`).then(() => false, () => true);
      assert.ok(refused, 'a new connection was accepted while draining');
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      assert.ok(text.includes('data: [DONE]'), 'the stream was cut by the shutdown');
      const { code } = await gateway.exited;
      assert.equal(code, 0);
    } finally {
      await gateway.stop();
      await mock.stop();
    }
  });
});
