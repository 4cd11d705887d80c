// The harness's own contract for the processes it starts from our binaries (docs/hardening.md,
// "Sanitizers"): a sanitizer report on stderr, or an exit other than 0 on SIGTERM, fails the test
// that stops the process. Stand-in processes (node itself) play the gateway here, so this holds
// whichever build the suite runs against.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startProcess } from './harness.mjs';

// A process that says it is ready, then on SIGTERM prints `onTerm` to stderr and exits `code`.
function standIn(onTerm, code) {
  const script = `
    process.on('SIGTERM', () => { process.stderr.write(${JSON.stringify(onTerm)}); process.exit(${code}); });
    console.log('ready');
    setInterval(() => {}, 1000);`;
  return startProcess(process.execPath, ['-e', script], { ready: /ready/, checked: true });
}

test('a process that exits 0 on SIGTERM and printed no report stops cleanly', async () => {
  const proc = standIn('bye\n', 0);
  await proc.ready;
  assert.deepEqual(await proc.stop(), { code: 0, signal: null });
});

for (const report of [
  '==7==ERROR: AddressSanitizer: heap-use-after-free on address 0x602000000010',
  '==7==ERROR: LeakSanitizer: detected memory leaks',
  'src/budget/window.cpp:42:17: runtime error: signed integer overflow',
  'WARNING: ThreadSanitizer: data race (pid=7)',
]) {
  test(`a report on stderr fails stop(): ${report.slice(0, 40)}`, async () => {
    const proc = standIn(`${report}\n    #0 0x4f00 in somewhere\n`, 0);
    await proc.ready;
    await assert.rejects(proc.stop(), (error) => error.message.includes(report) && error.message.includes('#0 0x4f00'));
  });
}

test('a process that does not exit 0 on SIGTERM fails stop()', async () => {
  const proc = standIn('shutting down badly\n', 3);
  await proc.ready;
  await assert.rejects(proc.stop(), /exited \(3\) on SIGTERM:\nshutting down badly/);
});

test('a failing stop() first ends every other process the harness started', async () => {
  const failing = standIn('==7==ERROR: AddressSanitizer: SEGV on unknown address\n', 0);
  const other = standIn('', 0);
  await Promise.all([failing.ready, other.ready]);
  await assert.rejects(failing.stop(), /AddressSanitizer: SEGV/);
  // Ended by SIGTERM already: the other's own stop() finds it gone and checks only its report.
  assert.deepEqual(await other.exited, { code: 0, signal: null });
  assert.deepEqual(await other.stop(), { code: 0, signal: null });
});
