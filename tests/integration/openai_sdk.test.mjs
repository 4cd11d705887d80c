// End to end with the official openai npm SDK as the client, as an application would use it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startMock, startGateway, gatewayConfig } from './harness.mjs';

let mock;
let gateway;
let client;

before(async () => {
  mock = await startMock();
  gateway = await startGateway(gatewayConfig({
    backendUrl: `${mock.url}/v1`, models: ['mock-small', 'text-embedding-mock'], filters: ['tagging'],
  }));
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'app-key', maxRetries: 0 });
});
after(async () => {
  await gateway?.stop();
  await mock?.stop();
});

const messages = [{ role: 'user', content: 'Tell me about gateways' }];

test('chat completion', async () => {
  const completion = await client.chat.completions.create({ model: 'mock-small', messages });
  assert.equal(completion.object, 'chat.completion');
  assert.ok(completion.choices[0].message.content.length > 0);
  assert.ok(completion.usage.total_tokens > 0);
});

test('streamed chat completion reassembles to the same text', async () => {
  const whole = await client.chat.completions.create({ model: 'mock-small', messages });
  const stream = await client.chat.completions.create({ model: 'mock-small', messages, stream: true });
  let text = '';
  let chunks = 0;
  for await (const chunk of stream) {
    chunks += 1;
    text += chunk.choices[0]?.delta?.content ?? '';
  }
  assert.ok(chunks > 2);
  assert.equal(text, whole.choices[0].message.content);
});

test('models list', async () => {
  const ids = [];
  for await (const model of client.models.list()) ids.push(model.id);
  assert.deepEqual(ids.sort(), ['mock-small', 'text-embedding-mock']);
});

test('embeddings (the SDK asks for base64 and decodes it)', async () => {
  const result = await client.embeddings.create({ model: 'text-embedding-mock', input: ['one', 'two'] });
  assert.equal(result.data.length, 2);
  const vector = result.data[0].embedding;
  assert.ok(Array.isArray(vector) && vector.length > 0);
  for (const x of vector) assert.ok(Number.isFinite(x));
});

test('errors raise the SDK error classes', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'no-such-model', messages }),
    (error) => error instanceof OpenAI.NotFoundError && error.status === 404 && error.code === 'model_not_found',
  );
  await assert.rejects(
    client.chat.completions.create({ model: 'mock-small', messages, temperature: 'hot' }),
    (error) => error instanceof OpenAI.BadRequestError && error.param === 'temperature',
  );
  await assert.rejects(
    client.chat.completions.create({ model: 'mock-small', messages }, { headers: { 'x-mock-status': '429' } }),
    (error) => error instanceof OpenAI.RateLimitError,
  );
});

test('a stream broken by the backend raises an APIError in the SDK', async () => {
  const stream = await client.chat.completions.create(
    { model: 'mock-small', messages, stream: true },
    { headers: { 'x-mock-reset-after-chunks': '2' } },
  );
  await assert.rejects(async () => {
    for await (const chunk of stream) void chunk;
  }, (error) => error instanceof OpenAI.APIError);
});
