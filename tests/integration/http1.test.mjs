// HTTP/1.1 framing on both sides of the gateway, byte by byte: chunked and pipelined requests,
// Expect: 100-continue, malformed messages, and the ways a backend may delimit its answer.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  startMock, startGateway, gatewayConfig, postJson, assertOpenAIError,
} from './harness.mjs';
import { rawExchange, parseResponses, startScriptedBackend } from './raw_http.mjs';

const chatBody = JSON.stringify({
  model: 'mock-small',
  messages: [{ role: 'user', content: 'Say hello over raw HTTP' }],
});

describe('HTTP/1.1 from clients', () => {
  let mock;
  let gateway;
  before(async () => {
    mock = await startMock(['--threads', '1']);
    gateway = await startGateway(gatewayConfig({
      backendUrl: `${mock.url}/v1`,
      server: { max_body_bytes: 65536 },
    }));
  });
  after(async () => {
    await gateway?.stop();
    await mock?.stop();
  });

  test('a chunked request body is decoded before it is forwarded', async () => {
    const half = Math.floor(chatBody.length / 2);
    const chunks = [chatBody.slice(0, half), chatBody.slice(half)];
    const raw = await rawExchange(gateway.port, [
      'POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n' +
        'X-Mock-Echo-Body: 1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
      `${chunks[0].length.toString(16)};note=x\r\n${chunks[0]}\r\n`,
      `${chunks[1].length.toString(16)}\r\n${chunks[1]}\r\n`,
      '0\r\nX-Trailer: ignored\r\n\r\n',
    ]);
    const [response] = parseResponses(raw);
    assert.equal(response.status, 200, raw);
    assert.deepEqual(response.json.mock_received_body.messages, JSON.parse(chatBody).messages);
  });

  test('pipelined requests are answered in order on one connection', async () => {
    const request = (id, close) => 'POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n' +
      `Content-Type: application/json\r\nX-Request-Id: ${id}\r\nContent-Length: ${chatBody.length}\r\n` +
      `${close ? 'Connection: close\r\n' : ''}\r\n${chatBody}`;
    const raw = await rawExchange(gateway.port, [request('first', false) + request('second', true)]);
    const responses = parseResponses(raw);
    assert.equal(responses.length, 2, raw);
    assert.deepEqual(responses.map((r) => r.status), [200, 200]);
    assert.match(responses[0].head, /\r\nx-request-id: first/i);
    assert.match(responses[1].head, /\r\nx-request-id: second/i);
  });

  test('Expect: 100-continue gets an interim answer before the body is sent', async () => {
    let continued = false;
    const raw = await rawExchange(gateway.port, [
      'POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n' +
        `Expect: 100-continue\r\nContent-Length: ${chatBody.length}\r\nConnection: close\r\n\r\n`,
    ], {
      onData: (received, socket) => {
        if (!continued && received.startsWith('HTTP/1.1 100 Continue\r\n\r\n')) {
          continued = true;
          socket.write(chatBody);
        }
      },
    });
    assert.ok(continued, raw);
    const [response] = parseResponses(raw.slice('HTTP/1.1 100 Continue\r\n\r\n'.length));
    assert.equal(response.status, 200);
  });

  test('ambiguous or malformed messages are 400 and close the connection', async () => {
    for (const [what, bytes] of [
      ['both framings', `POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`],
      ['two lengths', `POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello`],
      ['bad chunk size', `POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n`],
      ['bad request line', 'POST /v1/chat/completions HTTP/9.9\r\nHost: localhost\r\n\r\n'],
      ['folded header', 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-A: 1\r\n  folded\r\n\r\n'],
    ]) {
      const [response, ...more] = parseResponses(await rawExchange(gateway.port, [bytes]));
      assert.equal(response.status, 400, what);
      assert.equal(response.json.error.type, 'invalid_request_error', what);
      assert.match(response.json.error.message, /malformed HTTP request/, what);
      assert.equal(more.length, 0, what);
    }
  });
});

// A backend that answers every request with the bytes `reply` returns, then maybe closes.
async function startRawBackend() {
  const backend = await startScriptedBackend((socket) => {
    socket.write(backend.reply());
    if (backend.closeAfter) socket.end();
  });
  backend.reply = () => '';
  backend.closeAfter = false;
  return backend;
}

describe('HTTP/1.1 from backends', () => {
  let backend;
  let gateway;
  const answer = JSON.stringify({ id: 'raw', object: 'chat.completion', choices: [] });
  before(async () => {
    backend = await startRawBackend();
    gateway = await startGateway(gatewayConfig({ backendUrl: backend.url, backend: { read_timeout_ms: 1000 } }));
  });
  after(async () => {
    await gateway?.stop();
    await backend?.stop();
  });

  test('a body delimited by the connection closing is relayed whole', async () => {
    backend.reply = () => `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${answer}`;
    backend.closeAfter = true;
    for (let i = 0; i < 2; i++) {  // the closed connection must not be reused
      const result = await postJson(`${gateway.url}/v1/chat/completions`, chatBody);
      assert.equal(result.status, 200);
      assert.equal(result.text, answer);
    }
  });

  test('a chunked whole answer, after an interim 100, is relayed decoded', async () => {
    backend.closeAfter = false;
    const half = Math.floor(answer.length / 2);
    backend.reply = () => 'HTTP/1.1 100 Continue\r\n\r\n' +
      'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Request-Id: backend-own-id\r\n' +
      'Transfer-Encoding: chunked\r\n\r\n' +
      `${half.toString(16)}\r\n${answer.slice(0, half)}\r\n` +
      `${(answer.length - half).toString(16)}\r\n${answer.slice(half)}\r\n0\r\n\r\n`;
    for (let i = 0; i < 2; i++) {  // and the kept-alive connection serves the next call
      const result = await postJson(`${gateway.url}/v1/chat/completions`, chatBody);
      assert.equal(result.status, 200);
      assert.equal(result.text, answer);
      assert.equal(result.headers.get('content-length'), String(answer.length));
      assert.equal(result.headers.get('x-upstream-request-id'), 'backend-own-id');
    }
  });

  test('a backend that does not speak HTTP is 502 upstream_protocol_error', async () => {
    for (const reply of ['SSH-2.0-OpenSSH\r\n\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nnot-hex\r\n']) {
      backend.reply = () => reply;
      backend.closeAfter = true;
      const result = await postJson(`${gateway.url}/v1/chat/completions`, chatBody);
      assertOpenAIError(result, 502, 'api_error', 'upstream_protocol_error');
    }
  });
});
