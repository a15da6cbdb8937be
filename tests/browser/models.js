// models.js — the model variants the page must draw right, derived from the timm fixture
// (tests/fixtures/models/timm-deit-reduced, f32, 224x224, patch 16, two prefix tokens) into OUT_DIR:
//   labels  every label one 1000-character word (whichever class wins, its label is that long)
//   twocls  "second_token": "class": the second token is a second class token, not distillation
//   nonsq   a 224x160 (height x width) input: pos_embed cut to the 14x10 patch grid
//   few     two classes (the heads cut to their first two rows): fewer than the page's five
// and from the transformers fixture (tests/fixtures/models/hf-deit-reduced):
//   noresize  "do_resize": false: the 224x224 crop is cut from the image as it is
// Started by tests/browser/run.sh before its servers:  node tests/browser/models.js OUT_DIR
"use strict";
const fs = require("fs");
const path = require("path");

const ROOT = path.resolve(__dirname, "../..");
const FIXTURE = path.join(ROOT, "tests/fixtures/models/timm-deit-reduced");
const out = process.argv[2];
if (!out) { console.error("usage: models.js OUT_DIR"); process.exit(2); }

const config = () => JSON.parse(fs.readFileSync(path.join(FIXTURE, "config.json"), "utf8"));
const weights = () => fs.readFileSync(path.join(FIXTURE, "model.safetensors"));

function write(name, cfg, st) {
  const dir = path.join(out, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(cfg, null, 1));
  fs.writeFileSync(path.join(dir, "model.safetensors"), st);
}

// safetensors: u64 LE header length, JSON header {name: {dtype, shape, data_offsets}}, data.
function readTensors(buf) {
  const n = Number(buf.readBigUInt64LE(0)), header = JSON.parse(buf.subarray(8, 8 + n).toString());
  const data = buf.subarray(8 + n), tensors = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    tensors[name] = { dtype: t.dtype, shape: t.shape, bytes: data.subarray(t.data_offsets[0], t.data_offsets[1]) };
  }
  return { meta: header.__metadata__, tensors };
}

function writeTensors({ meta, tensors }) {
  const header = meta ? { __metadata__: meta } : {}, parts = [];
  let off = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.bytes.length] };
    parts.push(t.bytes);
    off += t.bytes.length;
  }
  let json = Buffer.from(JSON.stringify(header));
  json = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, ...parts]);
}

// labels: "label3_" then 'x' up to 1000 characters, no space anywhere
{
  const cfg = config();
  cfg.label_names = cfg.label_names.map((_, i) => ("label" + i + "_").padEnd(1000, "x"));
  write("labels", cfg, weights());
}

// twocls: the same checkpoint, its second token declared a class token
{
  const cfg = config();
  cfg.second_token = "class";
  write("twocls", cfg, weights());
}

// nonsq: 224 high, 160 wide; keep the prefix tokens' positions and the first 10 of each row's 14
{
  const H = 224, W = 160, cfg = config(), st = readTensors(weights());
  const pos = st.tensors.pos_embed, [one, T, D] = pos.shape, patch = cfg.model_args.patch_size;
  const full = Math.sqrt(T - 2), gh = H / patch, gw = W / patch;
  if (pos.dtype !== "F32" || one !== 1 || !Number.isInteger(full) || gh > full || gw > full)
    throw new Error("unexpected pos_embed " + JSON.stringify(pos.shape) + " " + pos.dtype);
  const row = D * 4, rows = [pos.bytes.subarray(0, 2 * row)];
  for (let r = 0; r < gh; r++)
    for (let c = 0; c < gw; c++) rows.push(pos.bytes.subarray((2 + r * full + c) * row, (3 + r * full + c) * row));
  st.tensors.pos_embed = { dtype: "F32", shape: [1, 2 + gh * gw, D], bytes: Buffer.concat(rows) };
  cfg.pretrained_cfg.input_size = [3, H, W];
  write("nonsq", cfg, writeTensors(st));
}

// few: two classes, each head cut to its first two rows
{
  const cfg = config(), st = readTensors(weights()), K = 2;
  for (const name of ["head", "head_dist"]) {
    const w = st.tensors[name + ".weight"], b = st.tensors[name + ".bias"];
    if (w.dtype !== "F32" || b.dtype !== "F32") throw new Error("unexpected " + name + " dtype");
    st.tensors[name + ".weight"] = { dtype: "F32", shape: [K, w.shape[1]], bytes: w.bytes.subarray(0, K * w.shape[1] * 4) };
    st.tensors[name + ".bias"] = { dtype: "F32", shape: [K], bytes: b.bytes.subarray(0, K * 4) };
  }
  cfg.num_classes = K;
  cfg.model_args.num_classes = K;
  cfg.label_names = cfg.label_names.slice(0, K);
  write("few", cfg, writeTensors(st));
}

// noresize: the transformers fixture with "do_resize": false
{
  const HF = path.join(ROOT, "tests/fixtures/models/hf-deit-reduced"), dir = path.join(out, "noresize");
  fs.mkdirSync(dir, { recursive: true });
  for (const f of ["config.json", "model.safetensors"]) fs.copyFileSync(path.join(HF, f), path.join(dir, f));
  const pre = JSON.parse(fs.readFileSync(path.join(HF, "preprocessor_config.json"), "utf8"));
  pre.do_resize = false;
  fs.writeFileSync(path.join(dir, "preprocessor_config.json"), JSON.stringify(pre, null, 1));
}
