// The soak test's traffic: `concurrency` clients sending a seeded mix of requests until
// `seconds` have passed. Prints one JSON line of what was sent and how it ended.
//
//   node bench/soak/traffic.mjs URL SECONDS CONCURRENCY SEED
//
// The mix (per request): 30% a new question (a cache miss), 20% a question from a pool of 40 (a
// cache hit once asked), 15% a stream, 10% a hard prompt (escalated by the cascade, the cheap
// attempt charged), 10% the feature with a tiny per-minute budget (refused with 429 once spent),
// 5% a stream the client drops after its first event, 5% a backend fault (503, or a stream the
// backend resets), 5% a slow backend (200 ms).
const [url, seconds, concurrency, seed] = process.argv.slice(2);
const deadline = Date.now() + Number(seconds) * 1000;

// xorshift32: the same seed gives the same mix.
let state = Number(seed) >>> 0 || 1;
function random() {
  state ^= state << 13; state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5; state >>>= 0;
  return state / 2 ** 32;
}

const counts = {};
const count = (name) => { counts[name] = (counts[name] ?? 0) + 1; };
let serial = 0;

function request(kind) {
  const n = serial++;
  const headers = { 'content-type': 'application/json' };
  let body = { model: 'mock-small', messages: [{ role: 'user', content: `Soak question ${n}: what is ${n} times 7?` }] };
  switch (kind) {
    case 'repeat':
      headers['x-costgate-feature'] = 'faq';
      body.messages[0].content = `What are the opening hours of shop ${n % 40}?`;
      break;
    case 'stream':
      body.stream = true;
      headers['x-mock-chunks'] = '6';
      headers['x-mock-chunk-delay-ms'] = '5';
      break;
    case 'hard':
      headers['x-costgate-feature'] = 'cascade';
      body.messages[0].content = `[hard] Prove that ${n} has a prime factor.`;
      break;
    case 'capped':
      headers['x-costgate-feature'] = 'capped';
      break;
    case 'dropped':
      body.stream = true;
      headers['x-mock-chunks'] = '20';
      headers['x-mock-chunk-delay-ms'] = '20';
      break;
    case 'fault':
      if (n % 2) {
        headers['x-mock-status'] = '503';
      } else {
        body.stream = true;
        headers['x-mock-reset-after-chunks'] = '2';
      }
      break;
    case 'slow':
      headers['x-mock-latency-ms'] = '200';
      break;
    default:
      break;
  }
  return { headers, body };
}

function pick() {
  const r = random();
  if (r < 0.30) return 'new';
  if (r < 0.50) return 'repeat';
  if (r < 0.65) return 'stream';
  if (r < 0.75) return 'hard';
  if (r < 0.85) return 'capped';
  if (r < 0.90) return 'dropped';
  if (r < 0.95) return 'fault';
  return 'slow';
}

async function one() {
  const kind = pick();
  const { headers, body } = request(kind);
  const abort = new AbortController();
  try {
    const response = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST', headers, body: JSON.stringify(body), signal: abort.signal,
    });
    if (kind === 'dropped') {
      const reader = response.body.getReader();
      await reader.read();
      abort.abort();
      count('dropped by the client');
      return;
    }
    await response.text();
    count(`${kind} ${response.status}`);
  } catch (error) {
    count(kind === 'fault' ? 'fault: stream cut' : `${kind} failed: ${error.name}`);
  }
}

async function client() {
  while (Date.now() < deadline) await one();
}

await Promise.all(Array.from({ length: Number(concurrency) }, client));
console.log(JSON.stringify({ requests: serial, outcomes: counts }));
