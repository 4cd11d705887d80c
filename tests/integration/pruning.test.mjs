// Pruning that keeps provider prompt caches warm, end to end: a conversation replayed turn by turn
// through the gateway (the mock echoes what it was sent), as a client sends it, the whole history
// each turn. Each turn's request must start with what the one before sent, except where the
// conversation's start moves (a compaction step, rare) or a message sent whole is from then on
// sent cut (once per message). And the cookbook's token_cap must not refuse a chat.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMock, startGateway, gatewayConfig, postJson, until } from './harness.mjs';

const kMarker = '[... cut by costgate to fit the token budget ...]';
let mock;
let gateway;

before(async () => {
  mock = await startMock();
  const filters = [
    'tagging: {defaults: {feature: chat, team: core, env: test}}',
    'prompt_pruning: {policies: [{name: session, match: {feature: [session]}, max_input_tokens: 3000,'
      + ' keep_last_turns: 2}]}',
    'token_cap: {policies: [{name: all, max_output_tokens: 1024, max_n: 1, max_input_tokens: 32000}]}',
  ];
  gateway = await startGateway(gatewayConfig({ backendUrl: `${mock.url}/v1`, filters }));
});
after(async () => {
  await gateway?.stop();
  await mock?.stop();
});

async function sent(messages, feature, requestId = '') {
  const result = await postJson(`${gateway.url}/v1/chat/completions`, { model: 'mock-small', messages }, {
    'x-mock-echo-body': '1', 'x-costgate-feature': feature, ...(requestId ? { 'x-request-id': requestId } : {}),
  });
  assert.equal(result.status, 200, result.text.slice(0, 500));
  return result.json.mock_received_body;
}

// A source file as a user pastes it: indented code, nothing for whitespace collapsing.
function sourceFile(seed, bytes) {
  let out = `// file_${seed}.js\n`;
  for (let i = 0; out.length < bytes; i += 1) {
    out += `\nfunction handler${seed}_${i}(values) {\n  let total = ${(i * seed) % 97};\n`
      + `  for (const v of values) total += v * ${(i % 13) + 1};\n  return total;\n}\n`;
  }
  return out;
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

function isCutOf(before, now) {
  if (typeof before?.content !== 'string' || typeof now?.content !== 'string') return false;
  const at = now.content.indexOf(kMarker);
  return at > 0 && !before.content.includes(kMarker) && before.content.startsWith(now.content.slice(0, at - 1));
}

test('a growing conversation keeps the prefix each earlier turn sent', async (t) => {
  const history = [{ role: 'system', content: 'You are a senior JavaScript engineer.' }];
  let previous;
  let compactions = 0;
  let cuts = 0;
  for (let n = 1; n <= 30; n += 1) {
    let question = `Turn ${n}: what should change here?`;
    if (n % 3 === 1) question += `\n\`\`\`js\n${sourceFile(n, 1500 + ((n * 977) % 4000))}\`\`\``;
    history.push({ role: 'user', content: question });
    if (n === 12) history.push({ role: 'user', content: question }); // a double submit
    const received = await sent(history, 'session', `session-${n}`);
    assert.deepEqual(received.messages.at(-1), { role: 'user', content: question }, `turn ${n}: the question as asked`);
    if (n === 12) assert.notDeepEqual(received.messages.at(-2), received.messages.at(-1), 'the repeat went');
    if (previous) {
      let i = 0;
      while (i < previous.length && i < received.messages.length && same(previous[i], received.messages[i])) i += 1;
      if (i < previous.length) {
        if (isCutOf(previous[i], received.messages[i])) cuts += 1;
        else if (i === 1) compactions += 1;
        else assert.fail(`turn ${n}: message ${i} changed: ${JSON.stringify(received.messages[i]).slice(0, 200)}`);
      }
    }
    previous = received.messages;
    history.push({ role: 'assistant', content: `For turn ${n}, rename the handlers and add a test.` });
  }
  // The last turn's input before pruning: what was sent plus what was saved.
  let line;
  await until('the last turn is logged', () => (line = gateway.accessLog().find((l) => l.request_id === 'session-30')));
  const total = line.tokens_in_counted + line.tokens_saved;
  const step = 3000 / 2;
  t.diagnostic(`${compactions} compactions and ${cuts} cuts in 30 turns of ${total} tokens at the end`);
  assert.ok(compactions >= 1, 'the conversation went over the budget');
  assert.ok(compactions <= Math.ceil(total / step) + 1, `${compactions} compactions for ${total} tokens`);
  assert.ok(cuts <= 11, `${cuts} cuts: one per paste over max_message_tokens at most, and the first`);
});

test("the cookbook's token_cap sends a long chat on, pruned, instead of refusing it", async () => {
  const messages = [{ role: 'system', content: 'You are a senior JavaScript engineer.' }];
  for (let n = 0; n < 12; n += 1) {
    messages.push({ role: 'user', content: `Review this:\n${sourceFile(n + 100, 16000)}` });
    messages.push({ role: 'assistant', content: `Turn ${n}: looks fine.` });
  }
  messages.push({ role: 'user', content: 'Which handler is the slowest?' });
  const received = await sent(messages, 'chat');
  assert.ok(received.messages.length < messages.length, 'old turns were dropped');
  assert.deepEqual(received.messages[0], messages[0]);
  assert.deepEqual(received.messages.at(-1), messages.at(-1));
  assert.equal(received.max_tokens, 1024, 'the output cap is what the backend is sent');
});
