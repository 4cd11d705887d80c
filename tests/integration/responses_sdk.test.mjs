// End to end with the official openai SDK's Responses API (client.responses), the default of
// OpenAI's Agents SDK. The backend is the mock's chat completions API: every request goes through
// the Responses -> chat translation and every reply back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startMock, startGateway, gatewayConfig, postJson } from './harness.mjs';

let mock;
let gateway;
let client;

before(async () => {
  mock = await startMock();
  gateway = await startGateway(gatewayConfig({
    backendUrl: `${mock.url}/v1`,
    models: ['mock-small'],
    filters: ['tagging'],
    prices: { 'mock-small': '{input: 0.15, cached_input: 0.075, output: 0.6}' },
  }));
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'app-key', maxRetries: 0 });
});
after(async () => {
  await gateway?.stop();
  await mock?.stop();
});

const question = 'Tell me about gateways';
const weatherTool = {
  type: 'function',
  name: 'get_weather',
  description: 'The weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
  strict: true,
};

test('responses.create answers with a response object, output_text and usage', async () => {
  const response = await client.responses.create({ model: 'mock-small', instructions: 'Be brief.', input: question });
  assert.equal(response.object, 'response');
  assert.equal(response.status, 'completed');
  assert.equal(response.model, 'mock-small');
  assert.equal(response.instructions, 'Be brief.');
  assert.ok(response.id.startsWith('resp_'));
  assert.equal(response.output[0].type, 'message');
  const chat = await client.chat.completions.create({
    model: 'mock-small', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: question }],
  });
  assert.equal(response.output_text, chat.choices[0].message.content);
  assert.equal(response.usage.input_tokens, chat.usage.prompt_tokens);
  assert.equal(response.usage.output_tokens, chat.usage.completion_tokens);
  assert.equal(response.usage.total_tokens, response.usage.input_tokens + response.usage.output_tokens);
  const logged = gateway.accessLog().filter((line) => line.route === 'responses');
  assert.ok(logged.length >= 1, 'the access log names the Responses route');
  assert.ok(logged.at(-1).cost_usd > 0, JSON.stringify(logged.at(-1)));
});

test('max_output_tokens cuts the answer: status incomplete', async () => {
  const response = await client.responses.create({ model: 'mock-small', input: question, max_output_tokens: 3 });
  assert.equal(response.status, 'incomplete');
  assert.equal(response.incomplete_details.reason, 'max_output_tokens');
  assert.equal(response.usage.output_tokens, 3);
});

test('a streamed response has the Responses event sequence and the same text', async () => {
  const whole = await client.responses.create({ model: 'mock-small', input: question });
  const stream = await client.responses.create({ model: 'mock-small', input: question, stream: true });
  const types = [];
  let text = '';
  let completed;
  for await (const event of stream) {
    types.push(event.type);
    if (event.type === 'response.output_text.delta') text += event.delta;
    if (event.type === 'response.completed') completed = event.response;
  }
  assert.equal(text, whole.output_text);
  assert.equal(types[0], 'response.created');
  assert.equal(types.at(-1), 'response.completed');
  assert.ok(types.includes('response.output_text.done'));
  assert.equal(completed.usage.output_tokens, whole.usage.output_tokens);
  // The SDK's own accumulating helper agrees.
  const final = await client.responses.stream({ model: 'mock-small', input: question }).finalResponse();
  assert.equal(final.output_text, whole.output_text);
});

test('a function tool: function_call out, function_call_output back in, whole and streamed', async () => {
  const first = await client.responses.create({ model: 'mock-small', input: 'Weather in Oslo?', tools: [weatherTool] });
  const call = first.output.find((item) => item.type === 'function_call');
  assert.ok(call, JSON.stringify(first.output));
  assert.equal(call.name, 'get_weather');
  assert.deepEqual(JSON.parse(call.arguments), { city: 'mock' });

  const streamed = await client.responses.stream({ model: 'mock-small', input: 'Weather in Oslo?', tools: [weatherTool] }).finalResponse();
  const streamedCall = streamed.output.find((item) => item.type === 'function_call');
  assert.deepEqual(JSON.parse(streamedCall.arguments), { city: 'mock' });

  const second = await client.responses.create({
    model: 'mock-small', tools: [weatherTool],
    input: [
      { role: 'user', content: 'Weather in Oslo?' },
      call,
      { type: 'function_call_output', call_id: call.call_id, output: 'Snow, -3C' },
    ],
  });
  assert.equal(second.status, 'completed');
  assert.ok(second.output_text.length > 0);
});

test('text.format json_schema reaches the model as response_format', async () => {
  const response = await client.responses.create({
    model: 'mock-small', input: 'Extract the city from: I live in Oslo',
    text: { format: { type: 'json_schema', name: 'city', strict: true, schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false } } },
  });
  const parsed = JSON.parse(response.output_text);
  assert.deepEqual(Object.keys(parsed), ['city']);
});

test('what cannot be carried is a 400 the SDK raises as BadRequestError', async () => {
  await assert.rejects(
    client.responses.create({ model: 'mock-small', input: 'x', previous_response_id: 'resp_123' }),
    (error) => error instanceof OpenAI.BadRequestError && error.param === 'previous_response_id',
  );
  await assert.rejects(
    client.responses.create({ model: 'mock-small', input: 'x', tools: [{ type: 'web_search' }] }),
    (error) => error instanceof OpenAI.BadRequestError && error.param === 'tools[0].type',
  );
  await assert.rejects(
    client.responses.create({ model: 'no-such-model', input: 'x' }),
    (error) => error instanceof OpenAI.NotFoundError && error.code === 'model_not_found',
  );
  const raw = await postJson(`${gateway.url}/v1/responses`, '{"model":');
  assert.equal(raw.status, 400);
  assert.equal(raw.json.error.type, 'invalid_request_error');
  const repeated = await postJson(`${gateway.url}/v1/responses`,
    '{"model":"mock-small","input":"x","input":"y"}');
  assert.equal(repeated.status, 400);
  assert.equal(repeated.json.error.code, 'duplicate_member');
});

test('a stream the backend breaks off raises an APIError in the SDK', async () => {
  const stream = await client.responses.create(
    { model: 'mock-small', input: question, stream: true },
    { headers: { 'x-mock-reset-after-chunks': '2' } },
  );
  await assert.rejects(async () => {
    for await (const event of stream) void event;
  }, (error) => error instanceof OpenAI.APIError);
});
