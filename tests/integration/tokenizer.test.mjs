// Differential test of costgate's tokenizer against tiktoken (the wasm build of OpenAI's Rust
// code): tiktoken's own reference cases, hand-picked corner cases of the split rules, every
// combination of three tricky characters, and thousands of seeded random strings, all run through
// `costgate tokenize` (one process per encoding) and compared id for id with encode_ordinary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { get_encoding } from 'tiktoken';
import { gatewayBinary } from './harness.mjs';
import { prng } from './prng.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const dataDir = join(root, 'data/tokenizer');
const encodings = ['cl100k_base', 'o200k_base'];
// More or other random cases for a longer hunt: COSTGATE_TOKENIZER_CASES=200000
// COSTGATE_TOKENIZER_SEED=7 node --test tokenizer.test.mjs
const randomCasesPerEncoding = Number(process.env.COSTGATE_TOKENIZER_CASES ?? 4000);
const randomSeed = Number(process.env.COSTGATE_TOKENIZER_SEED ?? 0);

function requireData() {
  for (const file of [...encodings.map((name) => `${name}.tiktoken`), 'TestPlans.txt']) {
    assert.ok(existsSync(join(dataDir, file)), `${dataDir}/${file} is missing: run scripts/fetch-tokenizer-data.sh`);
  }
}

// TestPlans.txt: blocks of "EncodingName: X", "Sample: text", "Encoded: [ids]" separated by blank
// lines. No sample spans lines (the file holds no other kind of line), so a sample is the rest of
// its line, trailing spaces included.
function testPlans(encodingName) {
  const lines = readFileSync(join(dataDir, 'TestPlans.txt'), 'utf8').split('\n');
  const plans = [];
  let current = null;
  for (const [index, line] of lines.entries()) {
    if (line.startsWith('EncodingName: ')) {
      current = { encoding: line.slice('EncodingName: '.length), line: index + 1 };
    } else if (line.startsWith('Sample: ')) {
      current.text = line.slice('Sample: '.length);
    } else if (line.startsWith('Encoded: ')) {
      current.ids = JSON.parse(line.slice('Encoded: '.length));
      if (current.encoding === encodingName) plans.push(current);
      current = null;
    } else {
      assert.equal(line, '', `TestPlans.txt:${index + 1}: unexpected line ${JSON.stringify(line)}`);
    }
  }
  return plans;
}

// White_Space (what \s means in tiktoken's Rust regex), then characters that look like or are
// sometimes called spaces but are not White_Space.
const whiteSpace = [
  '\t', '\n', '\v', '\f', '\r', ' ', '\u0085', '\u00a0', '\u1680', '\u2000', '\u2001', '\u2002',
  '\u2003', '\u2004', '\u2005', '\u2006', '\u2007', '\u2008', '\u2009', '\u200a', '\u2028',
  '\u2029', '\u202f', '\u205f', '\u3000',
];
const notWhiteSpace = ['\u180e', '\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u001c', '\u001d', '\u001e', '\u001f', '\u0000'];

function edgeCases() {
  const cases = ['', ' ', '  ', '\n', '\r\n', '\n\n\n   \n', 'a', 'A', '1', "'", "'s"];
  // Each whitespace-like character in the contexts where \s+(?!\S), \s*[\r\n]+ and the optional
  // leading character of a word or punctuation run compete.
  const contexts = [
    (w) => w, (w) => w + w, (w) => w + w + w, (w) => `a${w}b`, (w) => `${w}a`, (w) => `a${w}`,
    (w) => `a${w}${w}b`, (w) => `${w}\n`, (w) => `\n${w}`, (w) => `${w}\r\n`, (w) => `${w} a`,
    (w) => `a ${w}`, (w) => ` ${w}a`, (w) => `${w}1`, (w) => `${w}!`, (w) => `${w}'s`, (w) => `${w}中`,
    (w) => `${w}😀`, (w) => `${w}\u0301`, (w) => `A${w}B`, (w) => `x${w}${w}\n${w}y`, (w) => `${w}  hello  `,
  ];
  for (const w of [...whiteSpace, ...notWhiteSpace]) for (const context of contexts) cases.push(context(w));

  // Line breaks and spaces before words and at the end.
  cases.push(
    '\r\n\r\n', ' \r\n ', 'a \r\n b', '\r\n  word', 'word\r\n', 'word \r\n', 'word  \r\n\r\n  ', '\r\r\n\n',
    '\n\r', '\t\ta', '  \t\n  x', 'x \n', 'x\n ', ' \n \n', '\n \n a', '   \u00a0a', '\u3000\u3000字',
    'hello world   ', '   hello', 'hello   world', 'hello\n\nworld', 'hello \n\n world', ' \r \n \t ',
    'a\n\n\n\n\n\n\n\nb', '  \n\n  \n', 'end.\n', 'end.\n\n', 'end. \n', '?\r\n\r\n', '//\n', 'a/\n\n/b',
    '}\n\n\n', ');\r\n', '  -  ', '  !!  ', ' .\n', '   1', '1   ', ' \u00a0 ', '\u00a0\u00a0a',
  );

  // Contractions in any case, and their near misses.
  for (const suffix of ['s', 'S', 't', 'T', 're', 'RE', 'Re', 'rE', 've', 'VE', 'Ve', 'm', 'M', 'll', 'LL', 'Ll', 'lL', 'd', 'D', 'ſ', 'ſt', 'x', '', '1', ' s']) {
    for (const base of ['', 'it', 'IT', 'It', ' it', '1', '!', ' ', 'ǅ', 'ʰ', 'e\u0301', '中', 'HTTPServer']) {
      for (const quote of ["'", '’']) cases.push(`${base}${quote}${suffix}`, `${base}${quote}${suffix}x`, `${base}${quote}${suffix} ok`);
    }
  }
  cases.push("don't", "DON'T", "I'M", "we'Ll", "it's'", "'s'", "''s", "'''", "x''ll", "rock'n'roll", "O'Neil's", "y'all'd've");

  // Capitals before lower case (o200k splits camel case), titlecase and modifier letters.
  cases.push(
    'HTTPServer', 'PDFs', 'XMLHttpRequest', 'iPhone', 'McDonald', 'ABCdef', 'aBC', 'ABC', 'abc', 'ǅungla',
    'ǅUNGLA', 'ﬁle', 'ABC\'s', 'ABCʰdef', 'ʰello', 'ʰʰ', 'Ａｂｃ', 'ΑΒΓαβγ', 'ДОМдом', 'getHTTPResponseCode',
    'snake_case_NAME', 'IOError', 'UTF8String', 'x86_64', 'ÀÉÎõü', 'ÉCOLE', 'ßtraße', 'İstanbul', 'ǈǋǲ',
    'ᾈᾉ', 'ᵃᵇᶜ', 'ｶﾀｶﾅ', 'カタカナABC', 'ＡＢＣａｂｃ',
  );

  // Combining marks: after letters, spaces, punctuation, digits, line breaks, and alone.
  cases.push(
    'e\u0301', 'E\u0301', ' \u0301', '!\u0301', '\u0301', '\u0301\u0301', 'a \u0301b', '\n\u0301', '1\u0301',
    "'\u0301s", "\u0301'S", 'A\u0308\u0301', 'ก\u0e31', 'नमस्ते', 'क्षि', 'क\u0903', '1\u20e3', '#\ufe0f\u20e3',
    ' \u0301\u0301abc', 'ab\u0301CD\u0301ef', 'A\u0301B\u0301c', '\u0301A', '\u0301a', '.\u0301.', '\u0301 ',
    '\t\u0301', 'x\u0301\u0301\u0301\u0301\u0301', 'Ǻ\u0327ble', '\u0345\u0345', '\u05b8שָׁלוֹם', '\u064bعربي',
  );

  // Digits: runs of 1..12 next to letters, punctuation and spaces, and other numerals.
  for (let n = 1; n <= 12; ++n) {
    const digits = '1234567890123'.slice(0, n);
    cases.push(digits, `a${digits}`, `${digits}a`, ` ${digits}`, `${digits}.`, `$${digits}`, `${digits} ${digits}`,
      `x${digits}y`, `${digits}\n`, `-${digits}.5`, `${digits}th`, `'${digits}'`, `${digits}\u0301`);
  }
  cases.push('1,234,567.89', '3.14159265358979', '0x1F600', '2024-06-01T12:34:56Z', '٠١٢٣٤٥٦٧٨٩', '²³',
    'ⅠⅡⅢⅣ', '①②③④', '１２３４５', '१२३', '½¼', '𝟙𝟚𝟛', '1²', 'v1.2.3-rc4', '+1 (555) 010-9999');

  // Emoji, CJK, right-to-left text.
  cases.push(
    '👨‍👩‍👧‍👦', '🏳️‍🌈', '🇺🇸🇯🇵', '🇺', '👍🏽', '🧑🏿‍💻', ' 😀', '😀😀😀', 'a😀b', '❤️', '©', '™', '😀 ', ' 👍🏽 ok',
    'hello 👋 world', '🏴󠁧󠁢󠁳󠁣󠁴󠁿', '☺︎', '中文字符测试', '日本語のテキスト。', '한국어 텍스트', 'GPT-4是一个模型',
    '我爱北京天安门！', '「引用」と『二重』', 'مرحبا بالعالم', 'שלום עולם', 'abc \u200fשלום\u200e def', '\u202bمرحبا\u202c',
    'العربية 123 English', 'ข้อความภาษาไทย', 'Tiếng Việt có dấu', 'ᚠᛇᚻ᛫ᛒᛦᚦ', '𓀀𓀁𓀂', '𐍈𐌰𐌹',
  );

  // Special tokens are plain text for encode_ordinary.
  cases.push('<|endoftext|>', 'a<|endoftext|>b', '<|fim_prefix|><|fim_middle|><|fim_suffix|>', '<|endofprompt|>', '<|im_start|>user');

  // Code.
  cases.push(
    'def f(x):\n    return x * 2\n',
    'if (a && b) {\n\treturn;\n}\n',
    'int main(int argc, char** argv) {\r\n  std::cout << "hi\\n";\r\n  return 0;\r\n}\r\n',
    'const re = /^[a-z0-9_\\-]+$/i;',
    '{"key": [1, 2.5, null, true], "nested": {"a": "b"}}',
    '<div class="x">Hello</div>\n',
    'SELECT * FROM users WHERE id = 42;',
    'for i in $(seq 1 10); do echo "$i"; done',
    '    \n    \n        x = 1\n',
    '\t\t}\n\t}\n}',
    'x=>x+1;;//comment\n/* block */',
    'a  =  b   +   c',
    '    return x;\n  }\n}',
    '#include <vector>\nstd::vector<int> v{1,2,3};',
    'https://example.com/path/to/page?q=1&r=two#frag',
    'C:\\Users\\me\\file.txt',
    'foo_bar_baz__qux',
    '...---...///\\\\\\',
  );

  // Long runs (tiktoken merges a long piece slowly but correctly).
  cases.push('a'.repeat(1000), 'ab'.repeat(500), 'supercalifragilistic'.repeat(50), 'x'.repeat(5000), '😀'.repeat(300),
    ' '.repeat(1000), ' '.repeat(999) + 'a', '1'.repeat(100), '\n'.repeat(100), '中'.repeat(300), '!'.repeat(500),
    'A'.repeat(200) + 'a'.repeat(200), '\u0301'.repeat(200), ' \n'.repeat(100), 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo='.repeat(30));
  return cases;
}

// Exhaustive combinations of three characters, each from a small set covering every class and
// boundary the split rules look at.
function tripleCases() {
  const atoms = ['a', 'A', 'ǅ', 'ʰ', '中', '1', '²', ' ', '\n', '\r', '\t', '\u00a0', '!', "'", 's', '\u0301', '😀', '\u200b'];
  const cases = [];
  for (const x of atoms) for (const y of atoms) for (const z of atoms) cases.push(x + y + z);
  return cases;
}

function randomScalar(random, lo, hi) {
  for (;;) {
    const cp = lo + random.int(hi - lo + 1);
    if (cp < 0xd800 || cp > 0xdfff) return String.fromCodePoint(cp);
  }
}

const randomSources = [
  (r) => r.pick('abcdefghijklmnopqrstuvwxyz'),
  (r) => r.pick('ABCDEFGHIJKLMNOPQRSTUVWXYZ'),
  (r) => r.pick('0123456789'),
  (r) => r.pick('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'),
  (r) => r.pick(["'s", "'S", "'t", "'re", "'VE", "'m", "'ll", "'Ll", "'d", "'ſ", '’s', "'"]),
  (r) => r.pick(whiteSpace),
  (r) => r.pick([' ', ' ', '  ', '\n', '\r\n', '\t', '\n\n']),
  (r) => r.pick(notWhiteSpace),
  (r) => randomScalar(r, 0x00a0, 0x00ff), // Latin-1
  (r) => randomScalar(r, 0x0100, 0x024f), // Latin Extended, titlecase letters among them
  (r) => randomScalar(r, 0x02b0, 0x02ff), // modifier letters and symbols
  (r) => randomScalar(r, 0x0300, 0x036f), // combining marks
  (r) => r.pick(['\u0903', '\u093e', '\u20dd', '\u0e31', '\u05b4', '\u0670', '\u1ab0', '\ufe20']), // Mc, Me, other Mn
  (r) => randomScalar(r, 0x0370, 0x052f), // Greek, Cyrillic
  (r) => randomScalar(r, 0x0590, 0x06ff), // Hebrew, Arabic
  (r) => randomScalar(r, 0x0900, 0x0dff), // Indic scripts
  (r) => randomScalar(r, 0x3040, 0x30ff), // kana
  (r) => randomScalar(r, 0x4e00, 0x9fff), // CJK ideographs
  (r) => randomScalar(r, 0xac00, 0xd7a3), // Hangul syllables
  (r) => randomScalar(r, 0xff00, 0xffef), // full-width forms
  (r) => r.pick(['\u2160', '\u2460', '\u00b2', '\u0660', '\u0966', '\uff11', '\u3007', '\u2070']), // other numbers
  (r) => randomScalar(r, 0x1f300, 0x1faff), // emoji
  (r) => r.pick(['\u200d', '\ufe0f', '\u{1f3fb}', '\u{1f3ff}', '\u{1f1fa}', '\u{1f1f8}', '\u20e3']), // emoji glue
  (r) => randomScalar(r, 0x0000, 0xffff), // any BMP scalar value
  (r) => randomScalar(r, 0x10000, 0x10ffff), // any astral code point
  (r) => r.pick(['\ue000', '\uffff', '\ufffe', '\ufdd0', '\u{10ffff}', '\u{e0001}', '\u{1d400}', '\u{1d7d8}']), // PUA, noncharacters, tags, math letters and digits
];

// Strings of 0..200 code points, each drawn from a few sources so that runs of one kind (which
// the split rules care about) are common.
function randomCases(seed, count) {
  const random = prng(seed);
  const cases = [];
  for (let i = 0; i < count; ++i) {
    const sources = Array.from({ length: 1 + random.int(4) }, () => random.pick(randomSources));
    const length = random.int(201);
    let text = '';
    for (let n = 0; n < length; ++n) text += random.pick(sources)(random);
    cases.push(text);
  }
  return cases;
}

function costgateEncode(encodingName, texts, extraArgs = []) {
  const result = spawnSync(gatewayBinary, ['tokenize', '--encoding', encodingName, '--data-dir', dataDir, ...extraArgs], {
    input: texts.map((text) => JSON.stringify(text)).join('\n') + '\n',
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  assert.equal(result.status, 0, `costgate tokenize exited with ${result.status ?? result.signal}: ${result.stderr}`);
  const lines = result.stdout.split('\n');
  assert.equal(lines.pop(), '', 'the output ends with a newline');
  assert.equal(lines.length, texts.length, 'one output line per input line');
  return lines.map((line) => JSON.parse(line));
}

// Token strings from the rank file itself: asking the wasm encoder to decode an id it does not
// have panics inside it and leaves it unusable.
const tokenBytes = {};
function tokensOf(encodingName) {
  if (!tokenBytes[encodingName]) {
    const tokens = [];
    for (const line of readFileSync(join(dataDir, `${encodingName}.tiktoken`), 'utf8').split('\n')) {
      const [base64, rank] = line.split(' ');
      if (rank !== undefined) tokens[Number(rank)] = Buffer.from(base64, 'base64');
    }
    tokenBytes[encodingName] = tokens;
  }
  return tokenBytes[encodingName];
}

function describeTokens(encodingName, ids) {
  const tokens = tokensOf(encodingName);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  return ids.map((id) => {
    const bytes = tokens[id];
    if (bytes === undefined) return `${id}:<unknown>`;
    try {
      return `${id}:${JSON.stringify(decoder.decode(bytes))}`;
    } catch {
      return `${id}:<${bytes.toString('hex')}>`;
    }
  }).join(' ');
}

const checked = {};

for (const encodingName of encodings) {
  test(`${encodingName}: costgate tokenize matches tiktoken encode_ordinary`, () => {
    requireData();
    const enc = get_encoding(encodingName);
    try {
      const plans = testPlans(encodingName);
      assert.ok(plans.length >= 50, `only ${plans.length} TestPlans.txt cases for ${encodingName}`);
      for (const plan of plans) {
        assert.deepEqual(Array.from(enc.encode_ordinary(plan.text)), plan.ids, `TestPlans.txt:${plan.line} disagrees with tiktoken`);
      }
      const seed = (encodingName === 'cl100k_base' ? 0xc1100 : 0x0200) + randomSeed * 0x10000;
      const cases = [...plans.map((plan) => plan.text), ...edgeCases(), ...tripleCases(), ...randomCases(seed, randomCasesPerEncoding)];
      const ours = costgateEncode(encodingName, cases);
      const mismatches = [];
      for (const [index, text] of cases.entries()) {
        const expected = Array.from(enc.encode_ordinary(text));
        const actual = ours[index];
        if (actual.length !== expected.length || actual.some((id, i) => id !== expected[i])) {
          mismatches.push({ text, expected, actual });
        }
      }
      if (mismatches.length > 0) {
        const report = mismatches.slice(0, 10).map(({ text, expected, actual }) =>
          `  case ${JSON.stringify(text)}\n    costgate: ${describeTokens(encodingName, actual)}\n    tiktoken: ${describeTokens(encodingName, expected)}`);
        assert.fail(`${mismatches.length} of ${cases.length} ${encodingName} cases differ from tiktoken; the first:\n${report.join('\n')}`);
      }
      checked[encodingName] = cases.length;
    } finally {
      enc.free();
    }
  });
}

test('tokenizer differential summary', () => {
  const counts = encodings.map((name) => checked[name]);
  assert.ok(counts.every((count) => count > 0), 'every encoding was checked');
  console.log(`tokenizer differential: ${counts[0]} cases for ${encodings[0]}, ${counts[1]} for ${encodings[1]}, ` +
    `${counts[0] + counts[1]} in total, all identical`);
});

test('costgate tokenize --count and errors', () => {
  requireData();
  const enc = get_encoding('o200k_base');
  try {
    const texts = ['', 'hello world', 'HTTPServer 12345 😀\r\n'];
    const result = spawnSync(gatewayBinary, ['tokenize', '--encoding', 'o200k_base', '--data-dir', dataDir, '--count'], {
      input: texts.map((text) => JSON.stringify(text)).join('\n'), // no final newline: the last line still counts
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, texts.map((text) => `${enc.encode_ordinary(text).length}\n`).join(''));
  } finally {
    enc.free();
  }

  for (const bad of ['"ok"\n42\n', '"ok"\nnot json\n', '"ok"\n\n"after an empty line"\n', '["a"]\n', '"unterminated\n']) {
    const result = spawnSync(gatewayBinary, ['tokenize', '--encoding', 'cl100k_base', '--data-dir', dataDir], { input: bad, encoding: 'utf8' });
    assert.equal(result.status, 2, `${JSON.stringify(bad)}: ${result.stderr}`);
    assert.match(result.stderr, /not a JSON string/);
  }
  const unknown = spawnSync(gatewayBinary, ['tokenize', '--encoding', 'p50k_base', '--data-dir', dataDir], { input: '', encoding: 'utf8' });
  assert.equal(unknown.status, 2);
  const missing = spawnSync(gatewayBinary, ['tokenize', '--encoding', 'cl100k_base', '--data-dir', '/nonexistent'], { input: '', encoding: 'utf8' });
  assert.equal(missing.status, 1);
});
