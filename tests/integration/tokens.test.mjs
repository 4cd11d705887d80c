// Token capping and prompt pruning end to end: the official SDK as the client, the mock as the
// backend (it refuses what OpenAI refuses, tool results without their call included), and the
// reference tokenizer (wasm tiktoken) as an independent count of what reached the backend.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { get_encoding } from 'tiktoken';
import { startMock, startGateway, gatewayConfig, sleep } from './harness.mjs';

let mock;
let gateway;
let client;
let o200k;

const kFitBudget = 400;

before(async () => {
  o200k = get_encoding('o200k_base');
  mock = await startMock();
  const filters = [
    'tagging: {defaults: {feature: chat, team: core, env: test}}',
    'prompt_pruning: {policies: [{name: tidy, collapse_whitespace: true, drop_duplicates: true}]}',
    'token_cap: {policies: ['
      + '{name: strict, match: {feature: [strict]}, max_input_tokens: 60, over_input: reject},'
      + ` {name: fit, match: {feature: [fit]}, max_input_tokens: ${kFitBudget}, over_input: prune,`
      + '  prune: {keep_last_turns: 1}},'
      + ' {name: default, max_output_tokens: 256, max_n: 2}]}',
  ];
  gateway = await startGateway(gatewayConfig({ backendUrl: `${mock.url}/v1`, filters }));
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'app-key', maxRetries: 0 });
});
after(async () => {
  o200k?.free();
  await gateway?.stop();
  await mock?.stop();
});

// What the backend was sent, and the response headers.
async function send(body, headers = {}) {
  const { data, response } = await client.chat.completions
    .create(body, { headers: { 'x-mock-echo-body': '1', ...headers } })
    .withResponse();
  return { received: data.mock_received_body, headers: response.headers, data };
}

async function logLine(requestId) {
  for (let i = 0; i < 50; i += 1) {
    const line = gateway.accessLog().find((l) => l.request_id === requestId);
    if (line) return line;
    await sleep(20);
  }
  throw new Error(`no access log line for ${requestId}`);
}

// OpenAI's documented count of a chat request's input (the cookbook's num_tokens_from_messages:
// 3 per message, the tokens of each string field, 1 more for a name, 3 to prime the reply), with
// image parts of unknown size counted as a 1024x1024 high-detail image (765) as costgate does.
function referenceCount(messages) {
  const tokens = (text) => o200k.encode_ordinary(text).length;
  let total = 3;
  for (const message of messages) {
    total += 3;
    for (const [key, value] of Object.entries(message)) {
      if (key === 'content' && Array.isArray(value)) {
        for (const part of value) {
          if (part.type === 'text') total += tokens(part.text);
          if (part.type === 'image_url') total += part.image_url.detail === 'low' ? 85 : 765;
        }
      } else if (key === 'tool_calls') {
        for (const call of value) total += tokens(call.function.name) + tokens(call.function.arguments);
      } else if (typeof value === 'string') {
        total += tokens(value) + (key === 'name' ? 1 : 0);
      }
    }
  }
  return total;
}

// The rules OpenAI's API checks that pruning could break.
function assertValidConversation(messages) {
  assert.ok(messages.length > 0);
  const pending = new Set();
  for (const [i, message] of messages.entries()) {
    assert.ok(['system', 'developer', 'user', 'assistant', 'tool'].includes(message.role), `messages[${i}].role`);
    if (message.role === 'tool') {
      assert.ok(pending.delete(message.tool_call_id), `messages[${i}] answers no pending tool call`);
    } else {
      assert.equal(pending.size, 0, `tool calls left unanswered before messages[${i}]`);
      assert.ok('content' in message, `messages[${i}] has no content`);
    }
    for (const call of message.tool_calls ?? []) pending.add(call.id);
    if (Array.isArray(message.content)) {
      for (const part of message.content) assert.ok(['text', 'image_url', 'input_audio', 'file'].includes(part.type));
    } else {
      assert.ok(message.content === null || typeof message.content === 'string');
    }
  }
  assert.equal(pending.size, 0, 'tool calls left unanswered at the end');
}

const question = [{ role: 'user', content: 'What does a gateway do?' }];

test('output caps: max_tokens is clamped or set, n is capped', async () => {
  const clamped = await send({ model: 'mock-small', messages: question, max_tokens: 5000, n: 4 });
  assert.equal(clamped.received.max_tokens, 256);
  assert.equal(clamped.received.n, 2);
  assert.equal(clamped.data.choices.length, 2);
  const set = await send({ model: 'mock-small', messages: question });
  assert.equal(set.received.max_tokens, 256);
  assert.equal(set.received.n, undefined);
  const lower = await send({ model: 'mock-small', messages: question, max_completion_tokens: 10 });
  assert.equal(lower.received.max_completion_tokens, 10, 'a value under the cap is left alone');
  assert.equal(lower.received.max_tokens, undefined);
});

test('input over the maximum is refused with 400 in OpenAI shape, with the counts', async () => {
  const long = [{ role: 'user', content: 'Please summarise this. '.repeat(40).trim() }];
  const error = await client.chat.completions
    .create({ model: 'mock-small', messages: long }, { headers: { 'x-costgate-feature': 'strict', 'x-request-id': 'too-long' } })
    .catch((e) => e);
  assert.ok(error instanceof OpenAI.BadRequestError, String(error));
  assert.equal(error.status, 400);
  assert.equal(error.code, 'input_tokens_exceeded');
  assert.equal(error.param, 'messages');
  const counted = referenceCount(long);
  assert.match(error.message, new RegExp(`input is ${counted} tokens, more than the 60 `));
  const line = await logLine('too-long');
  assert.equal(line.status, 400);
  assert.equal(line.tokens_in_counted, counted);
  assert.equal(line.backend, '', 'the backend was not called');
});

// A support conversation as an agent sends it: a system prompt, old turns with a tool call and
// its result, a screenshot, a long pasted log, and the question being asked.
function supportConversation() {
  const paste = Array.from({ length: 120 }, (_, i) => `2026-11-29T01:${String(i % 60).padStart(2, '0')}:00Z worker-${i % 7} `
    + `order #${100000 + i * 37} failed: upstream timeout after 30000 ms`).join('\n');
  return [
    { role: 'system', content: 'You are the support assistant of Acme. Answer briefly.' },
    { role: 'user', content: 'Where is my order 100037?' },
    {
      role: 'assistant', content: null,
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup_order', arguments: '{"id":100037}' } }],
    },
    { role: 'tool', tool_call_id: 'call_1', content: '{"status":"shipped","eta":"2026-12-01"}' },
    { role: 'assistant', content: 'It shipped and should arrive on December 1.' },
    {
      role: 'user',
      content: [
        { type: 'text', text: 'This is what I see:' },
        { type: 'image_url', image_url: { url: 'https://example.com/screenshot.png', detail: 'low' } },
      ],
    },
    { role: 'assistant', content: 'That page shows the order as shipped.' },
    { role: 'user', content: `Here is the log from our side:\n${paste}\nWhy does it fail?` },
  ];
}

// The same conversation one turn later: the log was answered and a short question follows.
function supportConversationAnswered() {
  return [
    ...supportConversation(),
    { role: 'assistant', content: 'The upstream times out; I am looking into it.' },
    { role: 'user', content: 'Why does it fail?' },
  ];
}

test('input over the maximum is pruned to fit, still a valid conversation', async () => {
  const messages = supportConversationAnswered();
  assert.ok(referenceCount(messages) > kFitBudget * 3, 'the conversation starts well over budget');
  const { received, headers } = await send(
    { model: 'mock-small', messages },
    { 'x-costgate-feature': 'fit', 'x-request-id': 'pruned-1' },
  );
  assertValidConversation(received.messages);
  assert.deepEqual(received.messages[0], messages[0], 'the system prompt is kept as sent');
  const counted = referenceCount(received.messages);
  assert.ok(counted <= kFitBudget, `${counted} tokens reached the backend`);
  assert.deepEqual(received.messages.at(-1), messages.at(-1), 'the question is sent as asked');
  for (const message of received.messages) {
    if (typeof message.content === 'string' && message.content.startsWith('Here is the log from our side:')) {
      assert.ok(message.content.includes('[... cut by costgate to fit the token budget ...]'));
      assert.ok(message.content.endsWith('Why does it fail?'));
    }
  }
  const saved = Number(headers.get('x-costgate-tokens-saved'));
  assert.equal(saved, referenceCount(messages) - counted);
  const line = await logLine('pruned-1');
  assert.equal(line.tokens_in_counted, counted, 'the gateway counts as the reference tokenizer does');
  assert.equal(line.tokens_saved, saved);
  assert.equal(line.policies, 'token_cap:fit');
  assert.equal(line.input_cap, 'pruned');
});

test('a question over the maximum is sent whole, over the cap, and counted', async () => {
  const messages = supportConversation();
  const { received, data } = await send(
    { model: 'mock-small', messages },
    { 'x-costgate-feature': 'fit', 'x-request-id': 'over-1' },
  );
  assert.ok(data.choices.length > 0, 'answered, not refused');
  assertValidConversation(received.messages);
  assert.deepEqual(received.messages.at(-1), messages.at(-1), 'the question is never cut');
  const counted = referenceCount(received.messages);
  assert.ok(counted > kFitBudget);
  const line = await logLine('over-1');
  assert.equal(line.status, 200);
  assert.equal(line.input_cap, 'over');
  assert.equal(line.input_cap_tokens, counted);
  const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
  const over = metrics.split('\n').find((l) => l.startsWith('costgate_token_cap_inputs_total{')
    && l.includes('feature="fit"') && l.includes('result="over"'));
  assert.ok(over && Number(over.split(' ').at(-1)) >= 1, over);
});

test('images and tool calls survive pruning untouched when their turn is kept', async () => {
  const messages = supportConversation();
  // The last turn is the screenshot; everything after it goes.
  messages.splice(6);
  messages.push({ role: 'user', content: 'And now?   Same    page.' });
  const { received } = await send(
    { model: 'mock-small', messages: [...messages.slice(0, 1), ...messages.slice(5)] },
    { 'x-costgate-feature': 'fit' },
  );
  assertValidConversation(received.messages);
  assert.deepEqual(received.messages[1], messages[5], 'the image part reached the backend as sent');
  assert.equal(received.messages.at(-1).content, 'And now? Same page.');
});

test('whitespace and repeated messages are pruned, and the metrics count what was saved', async () => {
  const messages = [
    { role: 'user', content: 'Check   this:\n\n\n\n\nfirst     line\n\n\n\nsecond line' },
    // Sent twice (a double submit): the repeat goes. A repeat after an answer would stay, since
    // it may be the question, and dropping it a turn later would change what the provider cached.
    { role: 'user', content: 'Check   this:\n\n\n\n\nfirst     line\n\n\n\nsecond line' },
    { role: 'assistant', content: 'Sure.' },
    { role: 'assistant', content: 'Sure.' },
    { role: 'user', content: 'Thanks' },
  ];
  const { received, headers } = await send({ model: 'mock-small', messages }, { 'x-request-id': 'tidy-1' });
  assert.equal(received.messages.length, 3);
  assert.equal(received.messages[0].content, 'Check this:\n\nfirst line\n\nsecond line');
  const saved = Number(headers.get('x-costgate-tokens-saved'));
  assert.equal(saved, referenceCount(messages) - referenceCount(received.messages));
  const line = await logLine('tidy-1');
  assert.equal(line.policies, 'prompt_pruning:tidy');

  const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
  const series = metrics.split('\n').filter((l) => l.startsWith('costgate_tokens_saved_total{'));
  const value = (filter, policy) => series
    .filter((l) => l.includes(`filter="${filter}"`) && l.includes(`policy="${policy}"`))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
  const logged = (filter, policy) => gateway.accessLog()
    .filter((l) => l.policies === `${filter}:${policy}`)
    .reduce((sum, l) => sum + l.tokens_saved, 0);
  assert.ok(value('prompt_pruning', 'tidy') >= saved);
  assert.equal(value('prompt_pruning', 'tidy'), logged('prompt_pruning', 'tidy'));
  assert.equal(value('token_cap', 'fit'), logged('token_cap', 'fit'));
  assert.ok(series.some((l) => l.includes('feature="chat"') && l.includes('team="core"') && l.includes('env="test"')));
});

test('a streamed request is capped and pruned the same way, and says so in its head', async () => {
  const { data: stream, response } = await client.chat.completions
    .create(
      { model: 'mock-small', messages: supportConversationAnswered(), stream: true },
      { headers: { 'x-costgate-feature': 'fit', 'x-request-id': 'pruned-stream' } },
    )
    .withResponse();
  assert.ok(Number(response.headers.get('x-costgate-tokens-saved')) > 0);
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  assert.ok(text.length > 0);
  const line = await logLine('pruned-stream');
  assert.equal(line.status, 200);
  assert.ok(line.tokens_in_counted <= kFitBudget);
  assert.equal(line.policies, 'token_cap:fit');
});
