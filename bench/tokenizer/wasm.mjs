// The tiktoken (wasm) side of bench/tokenizer/run.sh, and the corpus both sides tokenize.
//
//   node bench/tokenizer/wasm.mjs corpus FILE [--mib 4]     writes the seeded corpus to FILE
//   node bench/tokenizer/wasm.mjs bench --corpus FILE [--repeat 5] [--encoding NAME]...
//
// `bench` prints "key=value" records in the format of costgate-tokenizer-bench.
import { readFileSync, writeFileSync } from 'node:fs';
import { get_encoding } from 'tiktoken';
import { prng } from '../../tests/integration/prng.mjs';

const words = (
  'the of and to in is was that for it with as his on be at by had are but from or have an they ' +
  'which one you were all we her she there would their will when who him been has more if no out ' +
  'do so can what up said about other into than its time only could new them man some these then ' +
  'two first may any like now my such make over our even most me state after also made many did ' +
  'must before back see through way where get much go well your know should down work year because ' +
  'come people just say each those take day good how long very government however information ' +
  'development international responsibility understanding extraordinarily characteristics ' +
  'approximately infrastructure configuration authentication asynchronous tokenizer gateway budget ' +
  'latency throughput request response model prompt completion embedding'
).split(' ');
const contractions = ["don't", "it's", "we're", "they've", "I'm", "you'll", "she'd", "can't", "isn't", "won't"];
const names = ['Alice', 'Bob', 'OpenAI', 'GPT-4o', 'HTTPServer', 'JSON', 'NASA', 'McKinsey', 'iPhone', 'Zürich', 'São Paulo'];

function sentence(r) {
  const length = 4 + r.int(18);
  const parts = [];
  for (let i = 0; i < length; ++i) {
    const roll = r.float();
    let word = roll < 0.06 ? r.pick(contractions) : roll < 0.11 ? r.pick(names) : roll < 0.15 ? String(r.int(r.pick([10, 100, 2025, 1e6]))) : r.pick(words);
    if (i === 0) word = word[0].toUpperCase() + word.slice(1);
    if (i < length - 1 && r.float() < 0.08) word += r.pick([',', ',', ';', ':', ' -']);
    if (r.float() < 0.02) word = `"${word}"`;
    if (r.float() < 0.02) word = `(${word})`;
    parts.push(word);
  }
  return parts.join(' ') + r.pick(['.', '.', '.', '!', '?', '...']);
}

function prose(r) {
  const sentences = 2 + r.int(8);
  let text = '';
  for (let i = 0; i < sentences; ++i) text += (i ? ' ' : '') + sentence(r);
  return text + r.pick(['\n\n', '\n\n', '\n', '\r\n\r\n']);
}

function identifier(r) {
  const a = r.pick(words), b = r.pick(words);
  return r.pick([a, `${a}_${b}`, a + b[0].toUpperCase() + b.slice(1), `${a}${r.int(10)}`, a.toUpperCase()]);
}

function code(r) {
  const indent = r.pick(['  ', '    ', '\t']);
  const lines = [];
  const kind = r.int(3);
  if (kind === 0) {
    lines.push(`def ${identifier(r)}(${identifier(r)}, ${identifier(r)}=None):`);
    lines.push(`${indent}"""${sentence(r)}"""`);
    for (let i = 0; i < 2 + r.int(6); ++i) {
      lines.push(`${indent}${identifier(r)} = ${identifier(r)}.${identifier(r)}(${r.int(1000)}, "${r.pick(words)}")`);
      if (r.float() < 0.3) lines.push(`${indent}if ${identifier(r)} >= ${r.int(100)}:\n${indent}${indent}return ${identifier(r)}[${r.int(8)}:]`);
    }
  } else if (kind === 1) {
    lines.push(`function ${identifier(r)}(${identifier(r)}) {`);
    for (let i = 0; i < 2 + r.int(6); ++i) {
      lines.push(`${indent}const ${identifier(r)} = await fetch(\`/api/v${r.int(3)}/${r.pick(words)}?id=\${${identifier(r)}}\`);`);
      if (r.float() < 0.4) lines.push(`${indent}if (!${identifier(r)}.ok && ${identifier(r)} !== null) throw new Error('${sentence(r)}');`);
    }
    lines.push(`${indent}return { ${identifier(r)}, ${identifier(r)}: [${r.int(100)}, ${r.int(100)}] };`, '}');
  } else {
    lines.push(`#include <${r.pick(['vector', 'string', 'memory', 'unordered_map'])}>`, '');
    lines.push(`std::size_t ${identifier(r)}(const std::vector<int>& ${identifier(r)}) {`);
    for (let i = 0; i < 2 + r.int(6); ++i) {
      lines.push(`${indent}for (std::size_t i = 0; i < ${identifier(r)}.size(); ++i) ${identifier(r)} += ${identifier(r)}[i] * 0x${r.int(65536).toString(16)};`);
      if (r.float() < 0.3) lines.push(`${indent}// ${sentence(r)}`);
    }
    lines.push(`${indent}return ${identifier(r)};`, '}');
  }
  return lines.join(r.float() < 0.1 ? '\r\n' : '\n') + '\n\n';
}

function jsonValue(r, depth) {
  const roll = r.float();
  if (depth > 2 || roll < 0.5) {
    return r.pick([() => r.int(100000), () => Math.round(r.float() * 1e6) / 1e3, () => r.pick([true, false, null]),
      () => r.pick(words), () => sentence(r), () => `2025-${1 + r.int(12)}-${1 + r.int(28)}T12:00:00Z`])();
  }
  if (roll < 0.7) return Array.from({ length: 1 + r.int(5) }, () => jsonValue(r, depth + 1));
  const object = {};
  for (let i = 0; i < 1 + r.int(6); ++i) object[identifier(r)] = jsonValue(r, depth + 1);
  return object;
}

function json(r) {
  const value = {};
  for (let i = 0; i < 2 + r.int(5); ++i) value[identifier(r)] = jsonValue(r, 0);
  return (r.float() < 0.5 ? JSON.stringify(value, null, 2) : JSON.stringify(value)) + '\n';
}

const hanzi = '的一是不了人我在有他这中大来上个国到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长';
const kana = 'あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをんアイウエオカキクケコサシスセソタチツテトナニヌネノ';
const hangul = '가나다라마바사아자차카타파하한국어텍스트안녕하세요감사합니다';

function cjk(r) {
  const script = r.pick([hanzi, hanzi, kana + hanzi, hangul]);
  let text = '';
  for (let s = 0; s < 2 + r.int(6); ++s) {
    const length = 5 + r.int(25);
    for (let i = 0; i < length; ++i) {
      text += script[r.int(script.length)];
      if (script === hangul && r.float() < 0.25) text += ' ';
    }
    if (r.float() < 0.2) text += ` ${r.pick(names)} ${r.int(2025)} `;
    text += r.pick(['。', '，', '！', '？', '、', '. ']);
  }
  return text + '\n';
}

const emoji = ['😀', '😂', '🥲', '👍', '👍🏽', '👋🏿', '🎉', '🔥', '❤️', '✅', '🚀', '🇺🇸', '🇯🇵', '🇩🇪', '👨‍👩‍👧‍👦', '🧑🏽‍💻', '🏳️‍🌈', '🤦‍♀️', '☕', '🍕'];

function emojiText(r) {
  let text = '';
  for (let i = 0; i < 3 + r.int(8); ++i) {
    text += r.pick(words) + ' ';
    if (r.float() < 0.5) text += r.pick(emoji).repeat(1 + r.int(3)) + ' ';
  }
  return text.trimEnd() + r.pick(['\n', ' ', '!\n']);
}

// Roughly: prose 45%, code 20%, JSON 15%, CJK 12%, emoji-laden chat 8% of the blocks.
const blocks = [[0.45, prose], [0.2, code], [0.15, json], [0.12, cjk], [0.08, emojiText]];

export function corpus(bytes) {
  const r = prng(0x70c3);
  const parts = [];
  let size = 0;
  while (size < bytes) {
    let roll = r.float();
    const [, generate] = blocks.find(([weight]) => (roll -= weight) < 0) ?? blocks[0];
    const part = generate(r);
    parts.push(part);
    size += Buffer.byteLength(part);
  }
  return parts.join('');
}

// FNV-1a over the ids as 4 little-endian bytes each, like costgate-tokenizer-bench.
function idsHash(ids) {
  let hash = 2166136261;
  for (const id of ids) {
    for (let shift = 0; shift < 32; shift += 8) hash = Math.imul(hash ^ ((id >>> shift) & 0xff), 16777619) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

function bench(args) {
  const path = args[args.indexOf('--corpus') + 1];
  const repeat = args.includes('--repeat') ? Math.max(1, Number(args[args.indexOf('--repeat') + 1])) : 5;
  const names = args.flatMap((arg, i) => (arg === '--encoding' ? [args[i + 1]] : []));
  const bytes = readFileSync(path);
  const text = bytes.toString('utf8');
  // Otherwise the two sides would not tokenize the same bytes.
  if (!Buffer.from(text, 'utf8').equals(bytes)) throw new Error(`${path} is not valid UTF-8`);
  for (const name of names.length ? names : ['cl100k_base', 'o200k_base']) {
    let start = performance.now();
    const enc = get_encoding(name);
    console.log(`load impl=wasm encoding=${name} ms=${(performance.now() - start).toFixed(1)}`);
    try {
      const ids = enc.encode_ordinary(text);
      let best = Infinity;
      for (let i = 0; i < repeat; ++i) {
        start = performance.now();
        enc.encode_ordinary(text);
        best = Math.min(best, performance.now() - start);
      }
      console.log(`encode impl=wasm encoding=${name} bytes=${bytes.length} tokens=${ids.length} ids_fnv=${idsHash(ids)} ` +
        `best_ms=${best.toFixed(2)} mbps=${(bytes.length / best / 1000).toFixed(2)}`);
    } finally {
      enc.free();
    }
  }
}

const [command, ...args] = process.argv.slice(2);
if (command === 'corpus') {
  const mib = args.includes('--mib') ? Number(args[args.indexOf('--mib') + 1]) : 4;
  writeFileSync(args[0], corpus(Math.round(mib * 1024 * 1024)));
} else if (command === 'bench') {
  bench(args);
} else {
  console.error('usage: node wasm.mjs corpus FILE [--mib 4] | bench --corpus FILE [--repeat 5] [--encoding NAME]...');
  process.exit(2);
}
