// Every YAML example in docs/ is a configuration costgate accepts (`--check-config`), so the
// reference never drifts from the loader. An example without `models:` is a fragment: it is
// checked with a backend and the models the docs' fragments name appended.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gatewayBinary, tempDir } from './harness.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const docs = join(root, 'docs');
const fixture = `backends:
  fixture:
    url: http://127.0.0.1:9/v1
models:
  gpt-4o-mini: {backend: fixture}
  gpt-4o: {backend: fixture}
`;

function yamlBlocks(text) {
  const blocks = [];
  const pattern = /^```yaml\n([\s\S]*?)^```/gm;
  for (let match = pattern.exec(text); match; match = pattern.exec(text)) blocks.push(match[1]);
  return blocks;
}

test('every YAML example in docs/ passes costgate --check-config', () => {
  const dir = tempDir();
  let checked = 0;
  try {
    for (const name of readdirSync(docs).filter((f) => f.endsWith('.md'))) {
      yamlBlocks(readFileSync(join(docs, name), 'utf8')).forEach((block, i) => {
        const file = join(dir, `${name}.${i}.yaml`);
        writeFileSync(file, /^models:/m.test(block) ? block : block + fixture);
        const result = spawnSync(gatewayBinary, ['--check-config', file], {
          cwd: root,
          encoding: 'utf8',
          env: { ...process.env, MOCK_KEY: 'k', ADMIN_KEY: 'a', SEARCH_KEY: 's', OPENAI_API_KEY: 'k' },
        });
        assert.equal(result.status, 0, `docs/${name} example ${i + 1}: ${result.stderr}${result.stdout}`);
        checked += 1;
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(checked >= 2, `${checked} examples checked`);
});
