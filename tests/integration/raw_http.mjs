// HTTP/1.1 spoken byte by byte over node:net, for what an HTTP client would refuse to send or a
// real server would never answer: a raw client exchange, a parser for what the gateway wrote
// back, and a backend whose every answer is scripted as raw bytes and timing.
import assert from 'node:assert/strict';
import net from 'node:net';

// Sends `pieces` on one connection (waiting `gapMs` between them) and returns everything the
// gateway wrote until it closed the connection. A gateway that has not closed it after
// `timeoutMs` fails the exchange instead of blocking the test.
export async function rawExchange(port, pieces, { gapMs = 20, onData, timeoutMs = 10000 } = {}) {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((res, rej) => { socket.on('connect', res); socket.on('error', rej); });
  socket.on('error', () => {});  // a reset after the answer is an ordinary close here
  let received = '';
  let timedOut = false;
  const closed = new Promise((res) => socket.on('close', res));
  const timer = setTimeout(() => { timedOut = true; socket.destroy(); }, timeoutMs);
  socket.on('data', (data) => { received += data.toString('latin1'); onData?.(received, socket); });
  for (const piece of pieces) {
    if (socket.destroyed) break;
    socket.write(piece);
    await new Promise((res) => setTimeout(res, gapMs));
  }
  await closed;
  clearTimeout(timer);
  if (timedOut) throw new Error(`the connection was still open after ${timeoutMs} ms; received: ${received.slice(0, 300)}`);
  return received;
}

// Splits what the gateway sent into responses: status and body (Content-Length framed).
export function parseResponses(raw) {
  const responses = [];
  let rest = raw;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    assert.ok(end > 0, `no complete head in: ${rest.slice(0, 200)}`);
    const head = rest.slice(0, end);
    const status = Number(head.split(' ')[1]);
    const length = Number((/\r\ncontent-length: (\d+)/i.exec(head) ?? [0, 0])[1]);
    const body = rest.slice(end + 4, end + 4 + length);
    responses.push({ head, status, body, json: length ? JSON.parse(body) : undefined });
    rest = rest.slice(end + 4 + length);
  }
  return responses;
}

// A backend that reads each request (Content-Length framed) and hands it to `backend.answer`,
// which writes whatever it likes to the socket: `answer(socket, request)` where request has
// `head` (text), `headers` (lower-case names) and `body`. `requests` counts what arrived.
export async function startScriptedBackend(answer) {
  const backend = { answer, requests: 0, sockets: new Set() };
  const server = net.createServer((socket) => {
    backend.sockets.add(socket);
    socket.on('close', () => backend.sockets.delete(socket));
    socket.on('error', () => {});
    let buffered = Buffer.alloc(0);
    socket.on('data', (data) => {
      buffered = Buffer.concat([buffered, data]);
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffered.subarray(0, end).toString('latin1');
        const headers = {};
        for (const line of head.split('\r\n').slice(1)) {
          const colon = line.indexOf(':');
          headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
        }
        const length = Number(headers['content-length'] ?? 0);
        if (buffered.length < end + 4 + length) return;
        const body = buffered.subarray(end + 4, end + 4 + length).toString('utf8');
        buffered = buffered.subarray(end + 4 + length);
        backend.requests += 1;
        backend.answer(socket, { head, headers, body });
      }
    });
  });
  await new Promise((res) => server.listen(0, '127.0.0.1', res));
  backend.port = server.address().port;
  backend.url = `http://127.0.0.1:${backend.port}/v1`;
  backend.stop = () => new Promise((res) => {
    for (const socket of backend.sockets) socket.destroy();
    server.close(res);
  });
  return backend;
}
