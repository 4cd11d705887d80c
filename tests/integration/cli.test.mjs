// The costgate command line: version, help, config checking with file:line:column errors,
// ${VAR} substitution and backends enabled by an environment variable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync, rmSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gatewayBinary, tempDir, startMock, startGateway, postJson } from './harness.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function run(args, env = {}) {
  return spawnSync(gatewayBinary, args, { encoding: 'utf8', env: { ...process.env, ...env } });
}

function withConfig(text, check) {
  const dir = tempDir();
  const file = join(dir, 'c.yaml');
  writeFileSync(file, text);
  try { return check(file); } finally { rmSync(dir, { recursive: true, force: true }); }
}

test('--version and --help', () => {
  const version = run(['--version']);
  assert.equal(version.status, 0);
  assert.match(version.stdout, /^costgate \d+\.\d+\.\d+/);
  const help = run(['--help']);
  assert.equal(help.status, 0);
  for (const flag of ['--config', '--check-config', '--version', '--help']) assert.ok(help.stdout.includes(flag));
  const bad = run(['--bogus']);
  assert.notEqual(bad.status, 0);
});

test('costgate --help lists the commands, and every command answers --help with its usage', () => {
  const help = run(['--help']);
  assert.equal(help.status, 0);
  const commands = [...help.stdout.matchAll(/^ {2}([a-z]+) {2,}\S/gm)].map((m) => m[1]);
  assert.deepEqual(commands.sort(), ['demo', 'report', 'tokenize']);
  for (const command of commands) {
    for (const flag of ['--help', '-h']) {
      const result = run([command, flag]);
      assert.equal(result.status, 0, `costgate ${command} ${flag}: ${result.stderr}`);
      assert.match(result.stdout, new RegExp(`^usage: costgate ${command}`), `costgate ${command} ${flag}`);
      assert.ok(result.stdout.split('\n').length > 3, 'a usage with an explanation');
    }
  }
  // A wrong argument still fails, with the command's own usage.
  const bad = run(['report', '--bogus', 'x']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /usage: costgate report/);
});

test('--check-config accepts the default config', () => {
  const result = run(['--check-config', join(root, 'config/costgate.yaml')], { OPENAI_API_KEY: '' });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /OK \(3 models, 6 filters\)/);
  // Every model is priced in full: no warning, with or without OpenAI's models (the built-in
  // table prices those).
  assert.equal(result.stderr, '');
  const withKey = run(['--check-config', join(root, 'config/costgate.yaml')], { OPENAI_API_KEY: 'sk-test-not-real' });
  assert.equal(withKey.status, 0, withKey.stderr);
  assert.match(withKey.stdout, /OK \(7 models, 6 filters\)/);
  assert.equal(withKey.stderr, '');
});

test('--check-config reports file:line:column for a bad value', () => {
  withConfig('server:\n  listen: 127.0.0.1:0\n  threads: lots\nbackends:\n  b:\n    url: http://127.0.0.1:1\nmodels:\n  m:\n    backend: b\n', (file) => {
    const result = run(['--check-config', file]);
    assert.equal(result.status, 1);
    assert.ok(result.stderr.includes(`${file}:3:12:`), result.stderr);
    assert.match(result.stderr, /threads/);
  });
});

test('--check-config reports YAML syntax errors and unknown filters with positions', () => {
  withConfig('server:\n  listen: [unclosed\n', (file) => {
    const result = run(['--check-config', file]);
    assert.equal(result.status, 1);
    assert.match(result.stderr, new RegExp(`${file.replace(/[.]/g, '\\.')}:\\d+:\\d+: `));
  });
  withConfig('backends:\n  b:\n    url: http://127.0.0.1:1\nmodels:\n  m:\n    backend: b\nfilters:\n  - tagging\n  - no_such_filter\n', (file) => {
    const result = run(['--check-config', file]);
    assert.equal(result.status, 1);
    assert.ok(result.stderr.includes(`${file}:9:5:`), result.stderr);
    assert.match(result.stderr, /unknown filter 'no_such_filter'/);
  });
  withConfig('backends:\n  b:\n    url: http://127.0.0.1:1\nmodels:\n  m:\n    backend: b\nfilters:\n  - tagging:\n      headers:\n        colour: x-colour\n', (file) => {
    const result = run(['--check-config', file]);
    assert.equal(result.status, 1);
    assert.ok(result.stderr.includes(`${file}:10:9:`), result.stderr);
  });
});

test('an unset ${VAR} is an error at its position; a set one is substituted', () => {
  const text = 'backends:\n  b:\n    url: http://127.0.0.1:1\n    api_key: ${COSTGATE_TEST_KEY}\nmodels:\n  m:\n    backend: b\n';
  withConfig(text, (file) => {
    const unset = run(['--check-config', file], { COSTGATE_TEST_KEY: '' });
    // An empty variable counts as set; only a missing one is an error.
    assert.equal(unset.status, 0, unset.stderr);
    const env = { ...process.env };
    delete env.COSTGATE_TEST_KEY;
    const missing = spawnSync(gatewayBinary, ['--check-config', file], { encoding: 'utf8', env });
    assert.equal(missing.status, 1);
    assert.ok(missing.stderr.includes(`${file}:4:14:`), missing.stderr);
    assert.match(missing.stderr, /COSTGATE_TEST_KEY/);
  });
});

test('OpenAI models appear only when OPENAI_API_KEY is set', async () => {
  const mock = await startMock();
  const config = (await import('node:fs')).readFileSync(join(root, 'config/costgate.yaml'), 'utf8');
  const env = { COSTGATE_LISTEN: '127.0.0.1:0', COSTGATE_MOCK_ADDRESS: `127.0.0.1:${mock.port}` };
  const without = await startGateway(config, { env: { ...env, OPENAI_API_KEY: '' } });
  const withKey = await startGateway(config, { env: { ...env, OPENAI_API_KEY: 'sk-test-not-real' } });
  try {
    const idsWithout = (await (await fetch(`${without.url}/v1/models`)).json()).data.map((m) => m.id);
    const idsWith = (await (await fetch(`${withKey.url}/v1/models`)).json()).data.map((m) => m.id);
    assert.ok(idsWithout.includes('mock-small'));
    assert.ok(!idsWithout.includes('gpt-4o-mini'));
    assert.ok(idsWith.includes('gpt-4o-mini') && idsWith.includes('mock-small'));
    // The default config serves out of the box against the mock.
    const result = await postJson(`${without.url}/v1/chat/completions`, { model: 'mock-small', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(result.status, 200, result.text);
  } finally {
    await without.stop();
    await withKey.stop();
    await mock.stop();
  }
});
