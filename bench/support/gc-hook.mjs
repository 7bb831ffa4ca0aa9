// Loaded into the platform's server process by the memory benchmark through
// NODE_OPTIONS="--expose-gc --import=<this file>" (nothing in src/ knows about it).
// On SIGUSR2: three full collections, then one JSON line on stdout with the
// process's memory, which the benchmark reads like any other log line.
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
process.on('SIGUSR2', async () => {
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.();
    await sleep(50);
  }
  const memory = process.memoryUsage();
  process.stdout.write(`${JSON.stringify({ msg: 'bench memory', pid: process.pid, gc: typeof globalThis.gc === 'function', ...memory })}\n`);
});
process.stdout.write(`${JSON.stringify({ msg: 'bench hook ready', pid: process.pid })}\n`);
