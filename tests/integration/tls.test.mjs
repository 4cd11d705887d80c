// https backends: nginx terminates TLS with a certificate from a CA made by the test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import {
  startMock, startGateway, gatewayConfig, postJson, assertOpenAIError, makeCertificates,
  startTlsTerminator, tempDir,
} from './harness.mjs';

const chat = { model: 'mock-small', messages: [{ role: 'user', content: 'over TLS' }] };
let dir;
let certs;
let mock;
let terminator;

before(async () => {
  dir = tempDir();
  certs = makeCertificates(dir);
  mock = await startMock();
  terminator = await startTlsTerminator(dir, certs, mock.port);
});
after(async () => {
  await terminator?.stop();
  await mock?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('calls an https backend whose CA is configured, with SNI and name checks', async () => {
  const gateway = await startGateway(gatewayConfig({
    backendUrl: `https://localhost:${terminator.port}/v1`,
    backend: { ca_file: certs.ca },
  }));
  try {
    const result = await postJson(`${gateway.url}/v1/chat/completions`, chat, { 'x-mock-echo-headers': '1' });
    assert.equal(result.status, 200, result.text);
    assert.equal(result.json.object, 'chat.completion');
    // The backend got exactly our key; its echo comes back with the key redacted.
    assert.equal(result.json.mock_received_headers.authorization, 'Bearer [redacted]');
    const stream = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...chat, stream: true }),
    });
    assert.match(await stream.text(), /data: \[DONE\]/);
  } finally {
    await gateway.stop();
  }
});

test('rejects a backend certificate it cannot trust', async () => {
  // Without ca_file the system store is used, which does not know the test CA.
  const gateway = await startGateway(gatewayConfig({ backendUrl: `https://localhost:${terminator.port}/v1` }));
  try {
    const result = await postJson(`${gateway.url}/v1/chat/completions`, chat);
    assertOpenAIError(result, 502, 'api_error', 'upstream_tls_error');
    assert.match(result.json.error.message, /certificate verify failed/);
  } finally {
    await gateway.stop();
  }
});

test('rejects a certificate issued for another name', async () => {
  // Trusted CA, but the certificate names other.example, not localhost.
  const wrongDir = tempDir();
  const wrongTerminator = await startTlsTerminator(wrongDir, { cert: certs.wrongCert, key: certs.wrongKey }, mock.port);
  const gateway = await startGateway(gatewayConfig({
    backendUrl: `https://localhost:${wrongTerminator.port}/v1`,
    backend: { ca_file: certs.ca },
  }));
  try {
    const result = await postJson(`${gateway.url}/v1/chat/completions`, chat);
    assertOpenAIError(result, 502, 'api_error', 'upstream_tls_error');
  } finally {
    await gateway.stop();
    await wrongTerminator.stop();
    rmSync(wrongDir, { recursive: true, force: true });
  }
});
