// Replays a savings trace (trace.mjs) against an OpenAI-compatible URL with the official openai
// SDK, and scores each answer with the difficulty table: the harness's client side, shared by
// run.mjs and tests/integration/savings.test.mjs.
//
// Turns of one conversation go in order (each carries the answers received before it); up to
// `concurrency` conversations run at once.

import { tableKey, turnMessages, answerToken } from './trace.mjs';

const sdkPath = new URL('../../tests/integration/node_modules/openai/index.mjs', import.meta.url);

async function openaiClient(baseURL) {
  const { default: OpenAI } = await import(sdkPath.href);
  return new OpenAI({ baseURL, apiKey: 'savings-harness', maxRetries: 0, timeout: 600_000 });
}

// The request body of turn `t` of `conversation`, for `model`.
function requestBody(conversation, t, answers, model) {
  const body = { model, messages: turnMessages(conversation, t, answers) };
  if (conversation.max_tokens) body.max_tokens = conversation.max_tokens;
  if (conversation.response_format) body.response_format = conversation.response_format;
  if (conversation.prompt_cache_key) body.prompt_cache_key = conversation.prompt_cache_key;
  if (conversation.stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  return body;
}

// One call: its answer text, usage, the response headers that say what the gateway did, latency
// and (streams) time to the first content token.
async function call(client, body, headers) {
  const start = performance.now();
  const result = { content: '', usage: null, status: 200, ttftMs: null };
  try {
    const { data, response } = await client.chat.completions.create(body, { headers }).withResponse();
    for (const name of ['x-request-id', 'x-costgate-cache', 'x-costgate-model', 'x-costgate-escalated']) {
      result[name] = response.headers.get(name);
    }
    if (body.stream) {
      for await (const chunk of data) {
        const text = chunk.choices?.[0]?.delta?.content;
        if (text) {
          if (result.ttftMs === null) result.ttftMs = performance.now() - start;
          result.content += text;
        }
        if (chunk.usage) result.usage = chunk.usage;
      }
    } else {
      result.content = data.choices[0].message.content ?? '';
      result.usage = data.usage;
    }
  } catch (error) {
    result.status = error.status ?? 0;
    result.error = String(error.message ?? error);
  }
  result.latencyMs = performance.now() - start;
  return result;
}

// How the answer to question `entry` scores: right, or why it is wrong.
export function verdict(entry, content) {
  if (content.includes(answerToken(entry.id, true))) return 'right';
  if (content.includes(answerToken(entry.id, false))) return 'wrong';
  if (content.includes(answerToken('unknown', true))) return 'unknown_prompt';
  if (/ref-[0-9a-f]{12}/.test(content)) return 'other_question';
  return 'no_answer';
}

// Replays every conversation of `trace` against `baseURL` as `model` (or, given `modelOf`, the
// model it picks for each turn's table entry), with `headersOf(feature)`. Returns one record per
// request.
export async function replay({ baseURL, trace, table, model = 'mock-large', modelOf = () => model, headersOf = () => ({}), concurrency = 8 }) {
  const client = await openaiClient(baseURL);
  const records = [];
  let next = 0;
  const worker = async () => {
    while (next < trace.conversations.length) {
      const conversation = trace.conversations[next++];
      const answers = [];
      for (let t = 0; t < conversation.turns.length; ++t) {
        const entry = table.entries[tableKey(conversation.turns[t].user)];
        const body = requestBody(conversation, t, answers, modelOf(entry));
        const result = await call(client, body, headersOf(conversation.feature));
        answers.push(result.content);
        records.push({
          conversation: conversation.id, turn: t, feature: conversation.feature, stream: !!conversation.stream,
          json: !!conversation.response_format, model: body.model, id: entry.id, hard: entry.hard, failure: entry.failure,
          verdict: result.status === 200 ? verdict(entry, result.content) : 'error', ...result,
        });
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return records;
}
