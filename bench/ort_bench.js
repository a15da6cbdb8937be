// ort_bench.js — the peer: ONNX Runtime (onnxruntime-node, CPU) on the same model, same protocol as
// deit-bench (median batch latency over >= N runs and >= S seconds, after warm-up).
// usage: node ort_bench.js MODEL.onnx [--batch B] [--threads T] [--iters N] [--min-seconds S] [--json]
'use strict';
const ort = require('onnxruntime-node');

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : def;
}

async function main() {
  const model = process.argv[2];
  const batch = parseInt(arg('--batch', '1'), 10);
  const threads = parseInt(arg('--threads', '2'), 10);
  const iters = parseInt(arg('--iters', '30'), 10);
  const minSeconds = parseFloat(arg('--min-seconds', '2'));
  const size = parseInt(arg('--size', '224'), 10);
  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const n = batch * 3 * size * size;
  const data = new Float32Array(n);
  let r = 12345;
  for (let i = 0; i < n; i++) {
    r = (Math.imul(r, 1103515245) + 12345) >>> 0;
    data[i] = ((r >>> 8) & 0xffff) / 65535 * 4 - 2;
  }
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, [batch, 3, size, size]) };
  for (let i = 0; i < 3; i++) await session.run(feeds);
  const ms = [];
  let total = 0;
  while (ms.length < iters || total < minSeconds * 1e3) {
    const a = process.hrtime.bigint();
    await session.run(feeds);
    const d = Number(process.hrtime.bigint() - a) / 1e6;
    ms.push(d);
    total += d;
  }
  ms.sort((a, b) => a - b);
  const med = ms[Math.floor(ms.length / 2)];
  const p90 = ms[Math.min(ms.length - 1, Math.floor(ms.length * 0.9))];
  const out = { peer: 'onnxruntime-node ' + require('onnxruntime-node/package.json').version, batch, threads,
    runs: ms.length, load_ms: +loadMs.toFixed(2), batch_ms_median: +med.toFixed(3), batch_ms_p90: +p90.toFixed(3),
    ms_per_image: +(med / batch).toFixed(3), images_per_s: +(batch * 1e3 / med).toFixed(2) };
  if (process.argv.includes('--json')) console.log(JSON.stringify(out));
  else console.log(`onnxruntime batch ${batch} threads ${threads} runs ${out.runs}\n` +
    `batch latency median ${out.batch_ms_median} ms  p90 ${out.batch_ms_p90} ms  |  ${out.ms_per_image} ms/image  ${out.images_per_s} images/s`);
}
main().catch((e) => { console.error(e); process.exit(1); });
