// accuracy.js — logits error against the float64 references, ours (deit-predict at f32, bf16, int8)
// and ONNX Runtime's (model.onnx, and model.int8.onnx from quantize_dynamic) side by side, on the same
// fixture images: relative L2 of the class and distillation logits over all images together, the
// worst image, top-1 agreement and top-5 overlap of the fused probabilities with the reference.
// ORT gets the reference's own center crop (tests/fixtures: byte-equal to our preprocessing),
// normalised with the model's mean/std.
// usage: node accuracy.js [--model DIR] [--refs FILE] [--images DIR] [--predict BIN] [--threads N]
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const ort = require('onnxruntime-node');

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : def;
}
const here = __dirname;
const modelDir = arg('--model', path.join(here, '../../shared/fixtures/models/timm-deit-tiny-distilled'));
const refsPath = arg('--refs', path.join(here, '../../shared/fixtures/refs.safetensors'));
const imagesDir = arg('--images', path.join(here, '../../shared/fixtures/images'));
const predict = arg('--predict', path.join(here, '../build/deit-predict'));
const threads = parseInt(arg('--threads', '2'), 10);
const name = path.basename(modelDir);

// safetensors: 8-byte little-endian header length, JSON header, then the data
function readSafetensors(file) {
  const buf = fs.readFileSync(file);
  const hlen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + hlen).toString('utf8'));
  const base = 8 + hlen;
  const get = (key) => {
    const t = header[key];
    if (!t) return null;
    const [a, b] = t.data_offsets;
    const raw = buf.subarray(base + a, base + b);
    const copy = new Uint8Array(raw); // aligned copy
    if (t.dtype === 'F64') return new Float64Array(copy.buffer);
    if (t.dtype === 'F32') return new Float32Array(copy.buffer);
    if (t.dtype === 'U8') return copy;
    throw new Error(`${key}: dtype ${t.dtype}`);
  };
  return { header, get };
}

function softmax(v) {
  let m = -Infinity;
  for (const x of v) m = Math.max(m, x);
  const e = Array.from(v, (x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}
const fused = (c, d) => softmax(c).map((p, i) => (p + softmax(d)[i]) / 2);
function topk(v, k) {
  return Array.from(v.keys()).sort((a, b) => v[b] - v[a] || a - b).slice(0, k);
}

class Stat {
  constructor() { this.num = [0, 0]; this.den = [0, 0]; this.worst = 0; this.top1 = 0; this.ov = 0; this.n = 0; }
  add(ref, cls, dist) {
    let worst = 0;
    [cls, dist].forEach((v, h) => {
      const r = ref[h];
      let num = 0, den = 0;
      for (let i = 0; i < r.length; i++) { num += (v[i] - r[i]) ** 2; den += r[i] ** 2; }
      this.num[h] += num; this.den[h] += den;
      worst = Math.max(worst, Math.sqrt(num / den));
    });
    this.worst = Math.max(this.worst, worst);
    const fr = ref[2], fo = fused(cls, dist);
    const a = topk(fr, 5), b = topk(fo, 5);
    this.top1 += a[0] === b[0] ? 1 : 0;
    this.ov += a.filter((x) => b.includes(x)).length;
    this.n++;
  }
  row(label) {
    const c = Math.sqrt(this.num[0] / this.den[0]), d = Math.sqrt(this.num[1] / this.den[1]);
    return `| ${label.padEnd(22)} | ${(100 * c).toFixed(2).padStart(6)}% | ${(100 * d).toFixed(2).padStart(6)}% | ` +
      `${(100 * this.worst).toFixed(2).padStart(6)}% | ${this.top1}/${this.n} | ${this.ov}/${5 * this.n} |`;
  }
}

async function main() {
  const refs = readSafetensors(refsPath);
  const cfg = JSON.parse(fs.readFileSync(path.join(modelDir, 'data_config.resolved.json'))).data_config;
  const cropKey = `timm${cfg.input_size[1]}_crop${cfg.crop_pct}_${cfg.interpolation}_center`;
  const images = fs.readdirSync(imagesDir).filter((f) => refs.header[`${name}/${f}/cls_logits`]).sort();
  if (!images.length) throw new Error(`no references for ${name} in ${refsPath}`);
  const stats = {};
  const rows = [];
  // ours: one deit-predict run per precision over all images (--logits prints both heads)
  for (const prec of ['f32', 'bf16', 'int8']) {
    let out;
    try {
      out = execFileSync(predict, ['--model', modelDir, '--precision', prec, '--logits', '--threads',
        String(threads), ...images.map((f) => path.join(imagesDir, f))], { maxBuffer: 1 << 28 });
    } catch (e) {
      rows.push(`| ours ${prec.padEnd(17)} | refused: ${String(e.stderr).trim()} |`);
      continue;
    }
    const st = (stats[`ours ${prec}`] = new Stat());
    out.toString().trim().split('\n').forEach((line, i) => {
      const d = JSON.parse(line);
      const key = `${name}/${images[i]}`;
      st.add([refs.get(`${key}/cls_logits`), refs.get(`${key}/dist_logits`), refs.get(`${key}/fused_probs`)],
        d.class_logits, d.distill_logits);
    });
  }
  // ORT: f32 and dynamic-int8 models on the reference crops
  const [C, H, W] = cfg.input_size;
  for (const [label, file] of [['onnxruntime f32', 'model.onnx'], ['onnxruntime int8 (dyn.)', 'model.int8.onnx']]) {
    const sess = await ort.InferenceSession.create(path.join(modelDir, file), { intraOpNumThreads: threads });
    const st = (stats[label] = new Stat());
    for (const img of images) {
      const crop = refs.get(`crop/${cropKey}/${img}`);
      if (!crop) throw new Error(`no crop/${cropKey}/${img}`);
      const x = new Float32Array(C * H * W);
      for (let c = 0; c < C; c++)
        for (let i = 0; i < H * W; i++) x[c * H * W + i] = (crop[i * C + c] / 255 - cfg.mean[c]) / cfg.std[c];
      const out = await sess.run({ [sess.inputNames[0]]: new ort.Tensor('float32', x, [1, C, H, W]) });
      const key = `${name}/${img}`;
      st.add([refs.get(`${key}/cls_logits`), refs.get(`${key}/dist_logits`), refs.get(`${key}/fused_probs`)],
        out.cls_logits.data, out.dist_logits.data);
    }
  }
  console.log(`${name}, ${images.length} images: logits vs the float64 reference (relative L2 over all images)`);
  console.log('| engine                 | cls    | dist   | worst  | top-1 | top-5 overlap |');
  console.log('|---|---|---|---|---|---|');
  for (const [label, st] of Object.entries(stats)) console.log(st.row(label));
  rows.forEach((r) => console.log(r));
}
main().catch((e) => { console.error(e); process.exit(1); });
