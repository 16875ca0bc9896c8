// The signing ceiling: how many JWS signatures per second jose makes on this machine, with
// every core the server could use busy signing (one worker thread per core, a few signatures
// in flight in each, since WebCrypto signs on libuv's pool). Access-token-sized payloads.
import { availableParallelism } from 'node:os';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const IN_FLIGHT = 2;

if (!isMainThread) {
  const { SignJWT, generateKeyPair } = await import('jose');
  const { alg, durationMs, warmupMs } = workerData;
  const { privateKey } = await generateKeyPair(alg, alg === 'RS256' ? { modulusLength: 2048 } : {});
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    iss: 'http://127.0.0.1:4000',
    sub: 'bench-machine',
    aud: 'bench-machine',
    client_id: 'bench-machine',
    scope: 'api:read',
    jti: 'x'.repeat(22),
    iat: now,
    exp: now + 600,
  };
  const sign = () => new SignJWT(claims).setProtectedHeader({ alg, typ: 'at+jwt', kid: 'k1' }).sign(privateKey);
  const loop = async (until) => {
    let n = 0;
    while (performance.now() < until) {
      await sign();
      n++;
    }
    return n;
  };
  const lanes = (until) =>
    Promise.all(Array.from({ length: IN_FLIGHT }, () => loop(until))).then((a) => a.reduce((x, y) => x + y, 0));
  await lanes(performance.now() + warmupMs);
  parentPort.postMessage('warm');
  // Start the measured window together: the main thread says when.
  parentPort.once('message', async () => {
    const t0 = performance.now();
    const ops = await lanes(t0 + durationMs);
    parentPort.postMessage({ ops, ms: performance.now() - t0 });
  });
}

/** Signatures per second with `threads` workers (default: every core). */
export async function signingCeiling(
  alg,
  { durationMs = 1000, warmupMs = 300, threads = availableParallelism() } = {},
) {
  const workers = Array.from(
    { length: threads },
    () => new Worker(new URL(import.meta.url), { workerData: { alg, durationMs, warmupMs } }),
  );
  try {
    await Promise.all(
      workers.map(
        (w) =>
          new Promise((resolve, reject) => {
            w.once('message', resolve);
            w.once('error', reject);
          }),
      ),
    );
    // process.cpuUsage() covers every thread of this process (workers and libuv's pool alike).
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const results = await Promise.all(
      workers.map(
        (w) =>
          new Promise((resolve, reject) => {
            w.once('message', resolve);
            w.once('error', reject);
            w.postMessage('go');
          }),
      ),
    );
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const ops = results.reduce((sum, r) => sum + r.ops, 0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const opsPerCpuSecond = ops / cpuSeconds;
    return {
      alg,
      threads,
      // What the cores did while other work on the machine took its share (wall clock).
      wallOpsPerSecond: (ops / wallMs) * 1000,
      // Signatures per CPU-second, times the cores: the ceiling when the cores are the server's.
      // Steadier than the wall figure on a shared machine, so the "% of ceiling" uses it.
      opsPerCpuSecond,
      opsPerSecond: opsPerCpuSecond * threads,
      cpuUtilisation: cpuSeconds / (wallMs / 1000) / threads,
    };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
