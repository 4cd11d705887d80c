// End to end with the official @anthropic-ai/sdk as the client, as Claude Code or an application
// pointed at the gateway would use it. The backend is the mock's chat completions API: every
// request goes through the Messages -> chat translation and every reply back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startMock, startGateway, gatewayConfig, postJson } from './harness.mjs';

let mock;
let gateway;
let client;
let openai;

before(async () => {
  mock = await startMock();
  gateway = await startGateway(gatewayConfig({
    backendUrl: `${mock.url}/v1`,
    models: ['mock-small'],
    filters: ['tagging'],
    prices: { 'mock-small': '{input: 3, cached_input: 0.3, output: 15}' },
  }));
  client = new Anthropic({ baseURL: gateway.url, apiKey: 'app-key', maxRetries: 0 });
  openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'app-key', maxRetries: 0 });
});
after(async () => {
  await gateway?.stop();
  await mock?.stop();
});

const question = 'Tell me about gateways';
const weatherTool = {
  name: 'get_weather',
  description: 'The weather in a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city', 'days'] },
};

test('messages.create answers in the Messages shape, with the chat answer\'s text and usage', async () => {
  const message = await client.messages.create({
    model: 'mock-small', max_tokens: 200, system: 'Be brief.',
    messages: [{ role: 'user', content: question }],
  });
  assert.equal(message.type, 'message');
  assert.equal(message.role, 'assistant');
  assert.equal(message.model, 'mock-small');
  assert.equal(message.stop_reason, 'end_turn');
  assert.equal(message.content.length, 1);
  assert.equal(message.content[0].type, 'text');
  // The same question asked as chat gets the same (deterministic) mock answer.
  const chat = await openai.chat.completions.create({
    model: 'mock-small', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: question }],
  });
  assert.equal(message.content[0].text, chat.choices[0].message.content);
  assert.equal(message.usage.input_tokens + message.usage.cache_read_input_tokens, chat.usage.prompt_tokens);
  assert.equal(message.usage.output_tokens, chat.usage.completion_tokens);
  const logged = gateway.accessLog().filter((line) => line.route === 'messages');
  assert.ok(logged.length >= 1, 'the access log names the Messages route');
  assert.equal(logged.at(-1).status, 200);
  assert.ok(logged.at(-1).cost_usd > 0, JSON.stringify(logged.at(-1)));
});

test('max_tokens cuts the answer and says so as stop_reason max_tokens', async () => {
  const message = await client.messages.create({
    model: 'mock-small', max_tokens: 2, messages: [{ role: 'user', content: question }],
  });
  assert.equal(message.stop_reason, 'max_tokens');
  assert.equal(message.usage.output_tokens, 2);
});

test('messages.stream gives the same text as the whole answer, with the event sequence', async () => {
  const params = { model: 'mock-small', max_tokens: 200, messages: [{ role: 'user', content: question }] };
  const whole = await client.messages.create(params);
  const stream = client.messages.stream(params);
  const types = [];
  let text = '';
  stream.on('streamEvent', (event) => types.push(event.type));
  stream.on('text', (delta) => { text += delta; });
  const final = await stream.finalMessage();
  assert.equal(text, whole.content[0].text);
  assert.equal(final.content[0].text, whole.content[0].text);
  assert.equal(final.stop_reason, 'end_turn');
  assert.equal(final.usage.output_tokens, whole.usage.output_tokens);
  assert.equal(types[0], 'message_start');
  assert.equal(types[1], 'content_block_start');
  assert.equal(types.at(-1), 'message_stop');
  assert.equal(types.at(-2), 'message_delta');
  assert.ok(types.filter((t) => t === 'content_block_delta').length > 1);
});

test('a function tool: tool_use out, tool_result back in, whole and streamed', async () => {
  const first = await client.messages.create({
    model: 'mock-small', max_tokens: 200, tools: [weatherTool],
    messages: [{ role: 'user', content: 'Weather in Oslo for 3 days?' }],
  });
  assert.equal(first.stop_reason, 'tool_use');
  const call = first.content.find((block) => block.type === 'tool_use');
  assert.ok(call, JSON.stringify(first.content));
  assert.equal(call.name, 'get_weather');
  assert.deepEqual(call.input, { city: 'mock', days: 1 });

  const streamed = await client.messages.stream({
    model: 'mock-small', max_tokens: 200, tools: [weatherTool],
    messages: [{ role: 'user', content: 'Weather in Oslo for 3 days?' }],
  }).finalMessage();
  const streamedCall = streamed.content.find((block) => block.type === 'tool_use');
  assert.equal(streamed.stop_reason, 'tool_use');
  assert.deepEqual(streamedCall.input, { city: 'mock', days: 1 });

  const second = await client.messages.create({
    model: 'mock-small', max_tokens: 200, tools: [weatherTool],
    messages: [
      { role: 'user', content: 'Weather in Oslo for 3 days?' },
      { role: 'assistant', content: first.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: 'Snow, -3C' }] },
    ],
  });
  assert.equal(second.stop_reason, 'end_turn');
  assert.equal(second.content[0].type, 'text');
});

test('bad requests raise the SDK\'s error classes, in Anthropic\'s error shape', async () => {
  await assert.rejects(
    client.messages.create({ model: 'no-such-model', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }),
    (error) => error instanceof Anthropic.NotFoundError && error.error?.type === 'error'
      && error.error.error.type === 'not_found_error',
  );
  await assert.rejects(
    client.messages.create({
      model: 'mock-small', max_tokens: 10, messages: [{ role: 'user', content: 'x' }],
      tools: [{ type: 'web_search_20250305', name: 'web_search' }],
    }),
    (error) => error instanceof Anthropic.BadRequestError && /web_search/.test(error.message),
  );
  await assert.rejects(
    client.messages.create({ model: 'mock-small', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] },
      { headers: { 'x-mock-status': '429' } }),
    (error) => error instanceof Anthropic.RateLimitError && error.error.error.type === 'rate_limit_error',
  );
  const raw = await postJson(`${gateway.url}/v1/messages`, '{"model":', { 'x-api-key': 'k' });
  assert.equal(raw.status, 400);
  assert.equal(raw.json.type, 'error');
  assert.equal(raw.json.error.type, 'invalid_request_error');
  // A repeated member is refused as on the chat route, not resolved by the translation.
  const repeated = await postJson(`${gateway.url}/v1/messages`,
    '{"model":"mock-small","max_tokens":999999,"max_tokens":5,"messages":[{"role":"user","content":"x"}]}');
  assert.equal(repeated.status, 400);
  assert.equal(repeated.json.error.type, 'invalid_request_error');
  assert.match(repeated.json.error.message, /duplicate member "max_tokens"/);
});

test('a stream the backend breaks off ends with an Anthropic error event', async () => {
  const stream = client.messages.stream(
    { model: 'mock-small', max_tokens: 200, messages: [{ role: 'user', content: question }] },
    { headers: { 'x-mock-reset-after-chunks': '2' } },
  );
  await assert.rejects(stream.finalMessage(), (error) => error instanceof Anthropic.APIError);
});
