// test_grpc.js — KServe v2 over gRPC end to end with a real gRPC client (@grpc/grpc-js) built from the
// OFFICIAL protocol files (../shared/protocols), against servers it starts: every RPC, ModelInfer equal
// to REST's answers, classification, every status code, hostile bytes and HTTP/2 frames, 16 concurrent
// calls, TLS + API key, metrics and access log, health states while loading / ready / draining, and
// SIGTERM with calls in flight (all answered, exit 0).
//
// usage: node tests/grpc/test_grpc.js   (env: DEIT_SERVER_BIN, DEIT_SHARED_PROTOCOLS, DEIT_TEST_LOGS)
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const http = require('http');
const http2 = require('http2');
const net = require('net');
const tls = require('tls');
const zlib = require('zlib');
const { spawn, execFileSync } = require('child_process');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.resolve(ROOT, process.env.DEIT_SERVER_BIN || 'build/deit-server');
const LOGS = path.resolve(ROOT, process.env.DEIT_TEST_LOGS || 'build/test-logs');
const MODEL = path.join(ROOT, 'tests/fixtures/models/timm-deit-reduced');
const SLOW_MODEL = path.join(ROOT, 'models/fashion-deit'); // 28x28 grey: cheap to decode, costly to run
const SLOW_IMAGE = fs.readFileSync(path.join(ROOT, 'examples/9_ankle-boot.png'));
const IMAGES = ['chelsea_q95_444.jpg', 'coffee.png', 'horse.png', 'rocket.jpg', 'camera.png', 'logo.png']
    .map((f) => fs.readFileSync(path.join(ROOT, 'tests/fixtures/images', f)));
const SVC = '/inference.GRPCInferenceService/';

// ---- checks ------------------------------------------------------------------------------------
let passed = 0, failed = 0;
function check(cond, what) {
    if (cond) passed++;
    else { failed++; console.error(`CHECK failed: ${what}`); }
}
function eq(a, b, what) {
    const ok = JSON.stringify(a) === JSON.stringify(b);
    check(ok, ok ? what : `${what}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`);
}

// ---- the client, from the official .proto files --------------------------------------------------
let protoDir = process.env.DEIT_SHARED_PROTOCOLS || path.resolve(ROOT, '..', 'shared', 'protocols');
if (!fs.existsSync(path.join(protoDir, 'grpc_predict_v2.proto'))) {
    // Without the official files the wire check would be against our own copy: say so loudly.
    console.error(`NOTE: official protocol files not found in ${protoDir} (set DEIT_SHARED_PROTOCOLS); ` +
                  'using the repository\'s server/proto, which checks the server against itself only');
    protoDir = path.join(ROOT, 'server', 'proto');
}
const pkg = grpc.loadPackageDefinition(loader.loadSync(
    [path.join(protoDir, 'grpc_predict_v2.proto'), path.join(protoDir, 'health.proto')],
    { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true }));

function clients(port, creds, host) {
    const target = `${host || '127.0.0.1'}:${port}`;
    creds = creds || grpc.credentials.createInsecure();
    const opts = { 'grpc.max_receive_message_length': -1 };
    return {
        svc: new pkg.inference.GRPCInferenceService(target, creds, opts),
        health: new pkg.grpc.health.v1.Health(target, creds, opts),
        raw: new grpc.Client(target, creds, opts),
    };
}
// Promise of {err, res} for one unary call; meta: {authorization: ...}; deadlineMs: from now.
function call(client, method, req, meta, deadlineMs) {
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(meta || {})) md.add(k, v);
    const opts = deadlineMs ? { deadline: new Date(Date.now() + deadlineMs) } : {};
    return new Promise((resolve) => client[method](req, md, opts, (err, res) => resolve({ err, res })));
}
// The same with raw bytes on the wire (garbage protobuf, wrong types).
function rawCall(raw, method, bytes) {
    return new Promise((resolve) => raw.makeUnaryRequest(SVC + method, (b) => b, (b) => b, bytes,
        (err, res) => resolve({ err, res })));
}
// One call over Node's own HTTP/2 session, below any gRPC library: body (a Buffer) is sent and the
// stream ended, or with body null the call sends its headers and nothing else. Resolves with the
// grpc-status (null if none came) and grpc-message, whether they came in headers or trailers.
function h2Call(session, method, body, headers) {
    return new Promise((resolve) => {
        const req = session.request(Object.assign({ ':method': 'POST', ':path': SVC + method, 'content-type': 'application/grpc', te: 'trailers' }, headers || {}));
        let status = null, message = '';
        const got = (h) => {
            if (h['grpc-status'] === undefined) return;
            status = Number(h['grpc-status']);
            message = decodeURIComponent(h['grpc-message'] || '');
        };
        req.on('response', got);
        req.on('trailers', got);
        req.on('close', () => resolve({ status, message }));
        req.on('error', () => {});
        req.setTimeout(5000, () => req.close());
        if (body) req.end(body);
        req.resume();
    });
}
const code = (r) => (r.err ? r.err.code : 0);
const C = grpc.status;

// BYTES tensor as Triton's clients serialise it: a 4-byte little-endian length before each element.
function bytesTensor(list) {
    return Buffer.concat(list.flatMap((b) => { const l = Buffer.alloc(4); l.writeUInt32LE(b.length); return [l, b]; }));
}
function inferReq(model, images, extra) {
    return Object.assign({ model_name: model, inputs: [{ name: 'image', datatype: 'BYTES', shape: [images.length] }],
                           raw_input_contents: [bytesTensor(images)] }, extra || {});
}
function floats(buf) {
    const out = [];
    for (let i = 0; i + 4 <= buf.length; i += 4) out.push(buf.readFloatLE(i));
    return out;
}
function strings(buf) {
    const out = [];
    for (let o = 0; o + 4 <= buf.length;) { const l = buf.readUInt32LE(o); out.push(buf.subarray(o + 4, o + 4 + l).toString()); o += 4 + l; }
    return out;
}

// ---- REST, with Node's own http client ---------------------------------------------------------
function rest(port, method, p, body, headers) {
    return new Promise((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, method, path: p, headers: Object.assign(
            body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}, headers || {}) },
        (res) => { let d = ''; res.setEncoding('utf8'); res.on('data', (c) => { d += c; });
                   res.on('end', () => resolve({ status: res.statusCode, body: d })); });
        req.on('error', reject);
        if (body) req.write(body);
        req.end();
    });
}
function restInfer(port, model, images, extra) {
    const body = Object.assign({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [images.length],
                                            data: images.map((b) => b.toString('base64')) }] }, extra || {});
    return rest(port, 'POST', `/v2/models/${model}/infer`, JSON.stringify(body))
        .then((r) => ({ status: r.status, json: JSON.parse(r.body) }));
}
async function metric(port, endpoint, codeLabel) {
    const r = await rest(port, 'GET', '/metrics');
    const m = r.body.match(new RegExp(`^deit_requests_total\\{endpoint="${endpoint}",code="${codeLabel}"\\} (\\d+)$`, 'm'));
    return m ? Number(m[1]) : 0;
}

// ---- servers -----------------------------------------------------------------------------------
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function startServer(tag, args, opts) {
    opts = opts || {};
    fs.mkdirSync(LOGS, { recursive: true });
    const logPath = path.join(LOGS, `grpc-${tag}.log`);
    const log = fs.openSync(logPath, 'w');
    const proc = spawn(BIN, ['--model', opts.model || MODEL, '--host', '127.0.0.1', '--port', '0', '--grpc-port', '0',
                             ...(args || [])], { stdio: ['ignore', 'ignore', log], env: Object.assign({}, process.env, opts.env || {}) });
    const exited = new Promise((resolve) => proc.on('exit', (c, sig) => resolve(sig ? `signal ${sig}` : c)));
    const s = { proc, exited, logPath, text: () => fs.readFileSync(logPath, 'utf8') };
    const want = opts.waitReady === false ? /gRPC listening on [^ ]*:(\d+)/ : /ready: model/;
    for (let i = 0; i < 600; i++) {
        const t = s.text();
        const h = t.match(/deit-server: listening on [^ ]*:(\d+)/), g = t.match(/gRPC listening on [^ ]*:(\d+)/);
        if (h && g && want.test(t)) { s.http = Number(h[1]); s.grpc = Number(g[1]); break; }
        if (proc.exitCode !== null) break;
        await sleep(50);
    }
    if (!s.grpc) throw new Error(`server ${tag} did not start; see ${logPath}`);
    Object.assign(s, clients(s.grpc, opts.creds, opts.host));
    s.stop = async () => { proc.kill('SIGTERM'); return s.exited; };
    return s;
}
// Sanitizer reports in a server's log fail the test (the ASan run of this file).
function checkLogClean(s, tag) {
    const t = s.text();
    check(!/ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|ThreadSanitizer/.test(t), `${tag}: no sanitizer report in ${s.logPath}`);
}

// ---- the tests ---------------------------------------------------------------------------------
async function testRpcsAndParity() {
    const s = await startServer('main', ['--max-images', '8', '--max-body-mb', '2']);
    const name = 'timm-deit-reduced';
    eq((await call(s.svc, 'ServerLive', {})).res, { live: true }, 'ServerLive');
    eq((await call(s.svc, 'ServerReady', {})).res, { ready: true }, 'ServerReady');
    eq((await call(s.svc, 'ModelReady', { name })).res, { ready: true }, 'ModelReady');
    eq((await call(s.svc, 'ModelReady', { name, version: '1' })).res, { ready: true }, 'ModelReady version 1');
    check(code(await call(s.svc, 'ModelReady', { name: 'nope' })) === C.NOT_FOUND, 'ModelReady unknown model: NOT_FOUND');
    check(code(await call(s.svc, 'ModelReady', { name, version: '2' })) === C.NOT_FOUND, 'ModelReady unknown version: NOT_FOUND');
    eq((await call(s.health, 'Check', { service: '' })).res, { status: 'SERVING' }, 'Health/Check "" SERVING when ready');
    eq((await call(s.health, 'Check', { service: 'inference.GRPCInferenceService' })).res, { status: 'SERVING' }, 'Health/Check service');
    check(code(await call(s.health, 'Check', { service: 'other' })) === C.NOT_FOUND, 'Health/Check unknown service: NOT_FOUND');

    // metadata: what REST says, as messages
    const sm = (await call(s.svc, 'ServerMetadata', {})).res;
    const rsm = JSON.parse((await rest(s.http, 'GET', '/v2')).body);
    // ... but for Triton's model configuration, served over REST only (its gRPC call is outside KServe's protocol)
    eq([sm.name, sm.version, sm.extensions.concat(['model_configuration'])], [rsm.name, rsm.version, rsm.extensions],
       'ServerMetadata equals GET /v2 (model_configuration: REST only)');
    const mm = (await call(s.svc, 'ModelMetadata', { name })).res;
    const rmm = JSON.parse((await rest(s.http, 'GET', `/v2/models/${name}`)).body);
    const tensors = (l) => l.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape.map(Number) }));
    eq([mm.name, mm.versions, mm.platform, tensors(mm.inputs), tensors(mm.outputs)],
       [rmm.name, rmm.versions, rmm.platform, tensors(rmm.inputs), tensors(rmm.outputs)], 'ModelMetadata equals GET /v2/models/{name}');
    check(code(await call(s.svc, 'ModelMetadata', { name: 'nope' })) === C.NOT_FOUND, 'ModelMetadata unknown model: NOT_FOUND');

    // ModelInfer, several images: all three outputs, each equal to REST's (float32 exactly: REST
    // prints 9 significant digits, which round-trip a float32)
    const imgs = IMAGES.slice(0, 5);
    const g = await call(s.svc, 'ModelInfer', inferReq(name, imgs, { id: 'req-42' }));
    check(!g.err, `ModelInfer OK (${g.err && g.err.details})`);
    const r = await restInfer(s.http, name, imgs, { id: 'req-42' });
    check(r.status === 200, 'REST infer 200');
    if (!g.err && r.status === 200) {
        eq(g.res.id, 'req-42', 'request id echoed');
        eq([g.res.model_name, g.res.model_version], [name, '1'], 'model name and version');
        eq(g.res.outputs.map((o) => [o.name, o.datatype, o.shape.map(Number)]),
           r.json.outputs.map((o) => [o.name, o.datatype, o.shape]), 'outputs: names, types, shapes as REST');
        eq(g.res.raw_output_contents.length, 3, 'one raw_output_contents entry per output');
        for (let i = 0; i < 3; i++) {
            const a = floats(g.res.raw_output_contents[i]), b = r.json.outputs[i].data.map(Math.fround);
            eq(a.length, 5 * 10, `${g.res.outputs[i].name}: 5 x 10 floats`);
            check(a.every((v, k) => v === b[k]), `${g.res.outputs[i].name} equals REST's bit for bit`);
        }
        const rows = floats(g.res.raw_output_contents[2]);
        for (let n = 0; n < 5; n++) {
            const sum = rows.slice(n * 10, n * 10 + 10).reduce((x, y) => x + y, 0);
            check(Math.abs(sum - 1) < 1e-5, `fused_probs row ${n} sums to 1`);
        }
    }
    // elements in contents.bytes_contents, shape [N, 1], and classification beside a plain output
    const outputs = [{ name: 'fused_probs', parameters: { classification: { int64_param: 3 } } }, { name: 'class_probs' }];
    const g2 = await call(s.svc, 'ModelInfer', { model_name: name, model_version: '1',
        inputs: [{ name: 'any-name', datatype: 'BYTES', shape: [3, 1], contents: { bytes_contents: IMAGES.slice(0, 3) } }], outputs });
    const r2 = await restInfer(s.http, name, IMAGES.slice(0, 3), { outputs: [{ name: 'fused_probs', parameters: { classification: 3 } }, { name: 'class_probs' }] });
    check(!g2.err, `ModelInfer contents.bytes_contents [N,1] OK (${g2.err && g2.err.details})`);
    if (!g2.err) {
        eq(g2.res.outputs.map((o) => [o.name, o.datatype, o.shape.map(Number)]),
           [['fused_probs', 'BYTES', [3, 3]], ['class_probs', 'FP32', [3, 10]]], 'classification output is BYTES [N, k]');
        eq(strings(g2.res.raw_output_contents[0]), r2.json.outputs[0].data, 'classification strings equal REST\'s "score:index:label"');
        check(floats(g2.res.raw_output_contents[1]).every((v, k) => v === Math.fround(r2.json.outputs[1].data[k])), 'class_probs beside it equal REST\'s');
        eq(g2.res.id, '', 'no id sent: none echoed');
    }

    // the explanation outputs (computed only when named): REST's floats and shapes, bit for bit
    const xo = [{ name: 'token_cosine' }, { name: 'class_rollout' }, { name: 'distill_rollout' }];
    const g3 = await call(s.svc, 'ModelInfer', inferReq(name, IMAGES.slice(0, 2), { outputs: xo }));
    const r3 = await restInfer(s.http, name, IMAGES.slice(0, 2), { outputs: xo });
    check(!g3.err && r3.status === 200, `ModelInfer explanation outputs OK (${g3.err && g3.err.details})`);
    if (!g3.err && r3.status === 200) {
        eq(g3.res.outputs.map((o) => [o.name, o.datatype, o.shape.map(Number)]),
           r3.json.outputs.map((o) => [o.name, o.datatype, o.shape]), 'explanation outputs: names, types, shapes as REST');
        eq(r3.json.outputs.map((o) => o.shape.length), [1, 3, 3], 'token_cosine [N], rollouts [N, grid_h, grid_w]');
        for (let i = 0; i < 3; i++) {
            const a = floats(g3.res.raw_output_contents[i]), b = r3.json.outputs[i].data.map(Math.fround);
            check(a.length > 0 && a.length === b.length && a.every((v, k) => v === b[k]), `${xo[i].name} equals REST's bit for bit`);
        }
        const cr = floats(g3.res.raw_output_contents[1]), G = cr.length / 2;
        check(Math.abs(cr.slice(0, G).reduce((x, y) => x + y, 0) - 1) < 1e-5, 'class_rollout map of image 0 sums to 1');
    }

    // errors: status code, and REST's message for the same fault
    async function same(tag, grpcReq, restBody, wantCode) {
        const ge = await call(s.svc, 'ModelInfer', grpcReq);
        const re = await rest(s.http, 'POST', `/v2/models/${name}/infer`, JSON.stringify(restBody));
        check(code(ge) === wantCode, `${tag}: status ${code(ge)} (${ge.err && ge.err.details}) is ${wantCode}`);
        const rmsg = JSON.parse(re.body).error;
        eq(ge.err && ge.err.details, rmsg, `${tag}: message equals REST's`);
    }
    const b64 = IMAGES[0].toString('base64');
    const restIn = (o) => Object.assign({ name: 'image', datatype: 'BYTES', shape: [1], data: [b64] }, o);
    await same('datatype FP32', inferReq(name, [IMAGES[0]], { inputs: [{ name: 'image', datatype: 'FP32', shape: [1] }] }),
               { inputs: [restIn({ datatype: 'FP32' })] }, C.INVALID_ARGUMENT);
    // 413 over REST: RESOURCE_EXHAUSTED, as gRPC itself answers a message over the size limit
    await same('N > --max-images', inferReq(name, Array(9).fill(IMAGES[0])),
               { inputs: [restIn({ shape: [9], data: Array(9).fill(b64) })] }, C.RESOURCE_EXHAUSTED);
    await same('unknown output', inferReq(name, [IMAGES[0]], { outputs: [{ name: 'logits' }] }),
               { inputs: [restIn({})], outputs: [{ name: 'logits' }] }, C.INVALID_ARGUMENT);
    await same('classification 0', inferReq(name, [IMAGES[0]], { outputs: [{ name: 'fused_probs', parameters: { classification: { int64_param: 0 } } }] }),
               { inputs: [restIn({})], outputs: [{ name: 'fused_probs', parameters: { classification: 0 } }] }, C.INVALID_ARGUMENT);
    await same('classification on class_rollout', inferReq(name, [IMAGES[0]], { outputs: [{ name: 'class_rollout', parameters: { classification: { int64_param: 2 } } }] }),
               { inputs: [restIn({})], outputs: [{ name: 'class_rollout', parameters: { classification: 2 } }] }, C.INVALID_ARGUMENT);
    await same('classification as a string', inferReq(name, [IMAGES[0]], { outputs: [{ name: 'fused_probs', parameters: { classification: { string_param: '3' } } }] }),
               { inputs: [restIn({})], outputs: [{ name: 'fused_probs', parameters: { classification: '3' } }] }, C.INVALID_ARGUMENT);
    await same('timeout as a string', inferReq(name, [IMAGES[0]], { parameters: { timeout: { string_param: '1000' } } }),
               { inputs: [restIn({})], parameters: { timeout: '1000' } }, C.INVALID_ARGUMENT);
    await same('negative timeout', inferReq(name, [IMAGES[0]], { parameters: { timeout: { int64_param: -1 } } }),
               { inputs: [restIn({})], parameters: { timeout: -1 } }, C.INVALID_ARGUMENT);
    const timed = await call(s.svc, 'ModelInfer', inferReq(name, [IMAGES[0]], { parameters: { timeout: { int64_param: 30000000 } } }));
    check(!timed.err, `Triton's "timeout" request parameter (int64 microseconds) taken (${timed.err && timed.err.details})`);
    await same('not an image', inferReq(name, [Buffer.from('definitely not an image')]),
               { inputs: [restIn({ data: [Buffer.from('definitely not an image').toString('base64')] })] }, C.INVALID_ARGUMENT);
    await same('two inputs', inferReq(name, [IMAGES[0]], { inputs: [{ name: 'a', datatype: 'BYTES', shape: [1] }, { name: 'b', datatype: 'BYTES', shape: [1] }] }),
               { inputs: [restIn({}), restIn({ name: 'b' })] }, C.INVALID_ARGUMENT);
    // a length prefix past the data: REST's binary extension and gRPC's raw contents, one message
    const overrun = Buffer.concat([bytesTensor([IMAGES[0]]).subarray(0, 4 + 100)]);
    const ge = await call(s.svc, 'ModelInfer', Object.assign(inferReq(name, [IMAGES[0]]), { raw_input_contents: [overrun] }));
    check(code(ge) === C.INVALID_ARGUMENT, 'length prefix past the buffer: INVALID_ARGUMENT');
    eq(ge.err && ge.err.details, `binary BYTES element of ${IMAGES[0].length} bytes overruns the data`, 'length prefix past the buffer: REST\'s message');
    const mis = await call(s.svc, 'ModelInfer', Object.assign(inferReq(name, IMAGES.slice(0, 2)), { inputs: [{ name: 'image', datatype: 'BYTES', shape: [3] }] }));
    eq([code(mis), mis.err && mis.err.details], [C.INVALID_ARGUMENT, 'binary data holds 2 elements, shape says 3'], 'element count differs from the shape');
    // unknown model / version: NOT_FOUND with REST's message
    const nf = await call(s.svc, 'ModelInfer', inferReq('nope', [IMAGES[0]]));
    const rnf = await rest(s.http, 'POST', '/v2/models/nope/infer', JSON.stringify({ inputs: [restIn({})] }));
    eq([code(nf), nf.err && nf.err.details], [C.NOT_FOUND, JSON.parse(rnf.body).error], 'unknown model: NOT_FOUND, REST\'s message');
    check(code(await call(s.svc, 'ModelInfer', inferReq(name, [IMAGES[0]], { model_version: '7' }))) === C.NOT_FOUND, 'unknown version: NOT_FOUND');
    // client deadline already passed while decoding/queued: DEADLINE_EXCEEDED (client or server side)
    check(code(await call(s.svc, 'ModelInfer', inferReq(name, IMAGES.slice(0, 5)), {}, 1)) === C.DEADLINE_EXCEEDED, 'client deadline: DEADLINE_EXCEEDED');

    // hostile bytes: garbage protobuf, wrong wire types, empty messages, oversized messages
    const garbage = await rawCall(s.raw, 'ModelInfer', Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x34]));
    eq([code(garbage), garbage.err && garbage.err.details], [C.INVALID_ARGUMENT, 'request is not a valid ModelInferRequest message (7 bytes)'], 'garbage protobuf: INVALID_ARGUMENT');
    check(code(await rawCall(s.raw, 'ModelInfer', Buffer.from([0x08, 0x05]))) === C.INVALID_ARGUMENT, 'model_name sent as a varint (wrong wire type): INVALID_ARGUMENT');
    check(code(await rawCall(s.raw, 'ModelInfer', Buffer.from([0x3a, 0x80, 0x80, 0x80, 0x80, 0x04, 0x78]))) === C.INVALID_ARGUMENT, 'bytes field claiming 1 GiB: INVALID_ARGUMENT');
    check(code(await rawCall(s.raw, 'ModelInfer', Buffer.alloc(0))) === C.INVALID_ARGUMENT, 'empty ModelInferRequest: INVALID_ARGUMENT');
    check(code(await rawCall(s.raw, 'ModelMetadata', Buffer.from([0xff, 0xff]))) === C.INVALID_ARGUMENT, 'garbage ModelMetadataRequest: INVALID_ARGUMENT');
    check(code(await rawCall(s.raw, 'ServerLive', Buffer.from([0x0f]))) === C.INVALID_ARGUMENT, 'garbage ServerLiveRequest: INVALID_ARGUMENT');
    check(code(await rawCall(s.raw, 'NoSuchMethod', Buffer.alloc(0))) === C.UNIMPLEMENTED, 'unknown method: UNIMPLEMENTED');
    // memory bounds before unpacking (protobuf-c keeps unknown fields, costing many times their bytes):
    // small requests over 64 KiB are refused unread; a ModelInfer of nothing but tiny fields stops at
    // its unpacking budget
    const fields = (n, tag) => { const b = Buffer.alloc(n); for (let i = 0; i < n; i += 2) b[i] = tag; return b; };
    const bigLive = await rawCall(s.raw, 'ServerLive', fields(66 * 1024, 0x08));
    eq([code(bigLive), bigLive.err && bigLive.err.details],
       [C.RESOURCE_EXHAUSTED, 'ServerLiveRequest of 67584 bytes is over the 64 KiB this method accepts'], 'ServerLive over 64 KiB: RESOURCE_EXHAUSTED');
    check(code(await rawCall(s.raw, 'ModelMetadata', fields(66 * 1024, 0x08))) === C.RESOURCE_EXHAUSTED, 'ModelMetadata over 64 KiB: RESOURCE_EXHAUSTED');
    check(!(await rawCall(s.raw, 'ServerLive', fields(64 * 1024, 0x08))).err, 'ServerLive of 64 KiB of unknown fields: OK');
    const tiny = await rawCall(s.raw, 'ModelInfer', fields(400000, 0x32)); // 200,000 empty "outputs"
    eq([code(tiny), tiny.err && tiny.err.details], [C.RESOURCE_EXHAUSTED, 'ModelInferRequest of 400000 bytes needs more than ' +
       '865536 bytes of memory to unpack (2 per message byte + 64 KiB): too many fields'], 'ModelInfer of tiny fields: RESOURCE_EXHAUSTED');
    const big = await call(s.svc, 'ModelInfer', inferReq(name, [Buffer.alloc(2200 * 1024, 1)]));
    check(code(big) === C.RESOURCE_EXHAUSTED, `message over --max-body-mb 1: RESOURCE_EXHAUSTED (${code(big)})`);
    await hostileFrames(s.grpc);
    let gone = 0;
    for (let i = 0; i < 100 && (gone = await metric(s.http, 'grpc_metadata', '499')) < 2; i++) await sleep(10);
    eq(gone, 2, 'metrics: calls cancelled before their message counted as grpc_metadata 499');
    const ready = s.text().split('\n').filter((l) => / GRPC \/inference\.GRPCInferenceService\/ServerReady (?!200)/.test(l))
        .map((l) => l.replace(/.*\/ServerReady (\d+) .* end=(\S+).*/, '$1 $2')).sort();
    eq(ready, ['499 grpc:CANCELLED', '499 grpc:DEADLINE_EXCEEDED'], 'access log: cancelled and expired calls 499, not 400');
    const alive = await call(s.svc, 'ModelInfer', inferReq(name, [IMAGES[0]]));
    check(!alive.err, 'still serving after the hostile input');

    // 16 concurrent calls: all answered, each equal to the same images asked alone
    const alone = [];
    for (let i = 0; i < 4; i++) alone.push(floats((await call(s.svc, 'ModelInfer', inferReq(name, [IMAGES[i], IMAGES[i + 1]]))).res.raw_output_contents[2]));
    const many = await Promise.all(Array.from({ length: 16 }, (_, i) => call(s.svc, 'ModelInfer', inferReq(name, [IMAGES[i % 4], IMAGES[i % 4 + 1]], { id: `c${i}` }))));
    check(many.every((m) => !m.err), `16 concurrent calls all OK (${many.filter((m) => m.err).map((m) => m.err.details)})`);
    check(many.every((m, i) => !m.err && m.res.id === `c${i}`), '16 concurrent calls: each its own id');
    check(many.every((m, i) => !m.err && floats(m.res.raw_output_contents[2]).every((v, k) => Math.abs(v - alone[i % 4][k]) <= 1e-6)),
          '16 concurrent calls: each equals the same images asked alone');

    // the shared metrics and access log
    const okCalls = await metric(s.http, 'grpc_infer', '200');
    check(okCalls === 2 + 1 + 1 + 1 + 4 + 16, `metrics: grpc_infer code 200 counts every successful ModelInfer (${okCalls})`);
    check(await metric(s.http, 'grpc_infer', '404') === 2, 'metrics: grpc_infer code 404 (unknown model, version)');
    check(await metric(s.http, 'grpc_infer', '413') === 2, 'metrics: grpc_infer code 413 (N > --max-images, unpacking budget)');
    check(await metric(s.http, 'grpc_metadata', '413') === 2, 'metrics: grpc_metadata code 413 (messages over 64 KiB)');
    check(await metric(s.http, 'grpc_metadata', '200') >= 6, 'metrics: grpc_metadata calls counted');
    const logText = s.text();
    check(/ GRPC \/inference\.GRPCInferenceService\/ModelInfer 200 images=5 ms=[0-9.]+ in=\d+ out=\d+ end=grpc:OK/.test(logText), 'access log: ModelInfer line');
    check(/ GRPC \/inference\.GRPCInferenceService\/ModelInfer 404 images=0 .* end=grpc:NOT_FOUND/.test(logText), 'access log: NOT_FOUND line');
    eq(await s.stop(), 0, 'main server exits 0 on SIGTERM');
    checkLogClean(s, 'main server');
}

// Compressed requests (grpc-encoding gzip or deflate, as tritonclient's compression_algorithm and
// grpc-js's default_compression_algorithm send them): answered as the same request sent plain, and
// inflated by the server within the bounds a plain message has (gRPC itself would inflate without
// one), after the API key is checked.
async function testCompression() {
    const key = 'k3y-long-enough', auth = { authorization: `Bearer ${key}` };
    const s = await startServer('compression', ['--max-body-mb', '2', '--api-key', key]);
    const name = 'timm-deit-reduced', imgs = IMAGES.slice(0, 3);
    const plain = await call(s.svc, 'ModelInfer', inferReq(name, imgs, { id: 'plain' }), auth);
    check(!plain.err, `plain ModelInfer: OK (${plain.err && plain.err.details})`);
    for (const [alg, enc] of [[2, 'gzip'], [1, 'deflate']]) {
        const c = new pkg.inference.GRPCInferenceService(`127.0.0.1:${s.grpc}`, grpc.credentials.createInsecure(),
                                                         { 'grpc.default_compression_algorithm': alg });
        const r = await call(c, 'ModelInfer', inferReq(name, imgs, { id: enc }), auth);
        check(!r.err, `${enc}-compressed ModelInfer (grpc-js): OK (${r.err && r.err.details})`);
        for (let k = 0; !r.err && k < 3; k++) {
            const got = floats(r.res.raw_output_contents[k]), want = floats(plain.res.raw_output_contents[k]);
            check(got.length === want.length && got.every((v, i) => Math.abs(v - want[i]) <= 1e-6),
                  `${enc}-compressed ModelInfer: output ${k} equals the plain call's`);
        }
        c.close();
    }
    // the three answered calls came with different message sizes: the two clients did compress
    const sizes = s.text().split('\n').filter((l) => /\/ModelInfer 200 /.test(l)).map((l) => l.replace(/.* in=(\d+) .*/, '$1'));
    check(sizes.length === 3 && new Set(sizes).size === 3, `access log: gzip and deflate messages differ in size from the plain one (${sizes})`);

    // the same message below any gRPC library: one frame with the compressed flag
    const session = http2.connect(`http://127.0.0.1:${s.grpc}`);
    session.on('error', () => {});
    const frame = (msg, flag) => { const b = Buffer.alloc(5); b[0] = flag === undefined ? 1 : flag; b.writeUInt32BE(msg.length, 1); return Buffer.concat([b, msg]); };
    const h2 = (method, msg, enc, headers, flag) => h2Call(session, method, frame(msg, flag), Object.assign({ 'grpc-encoding': enc }, headers));
    const bearer = { authorization: auth.authorization };
    const req = pkg.inference.GRPCInferenceService.service.ModelInfer.requestSerialize(inferReq(name, imgs));
    const half = Math.floor(req.length / 2);
    const members = Buffer.concat([zlib.gzipSync(req.subarray(0, half)), zlib.gzipSync(req.subarray(half))]);
    const cases = [
        ['gzip ModelInfer', 'ModelInfer', zlib.gzipSync(req), 'gzip', bearer, [0, '']],
        ['deflate (zlib format) ModelInfer', 'ModelInfer', zlib.deflateSync(req), 'deflate', bearer, [0, '']],
        ['gzip of two members in a row', 'ModelInfer', members, 'gzip', bearer, [0, '']],
        ['grpc-encoding gzip, message sent plain (flag 0)', 'ModelInfer', req, 'gzip', bearer, [0, ''], 0],
        ['a gzip bomb (64 MiB of zeros) to ModelInfer', 'ModelInfer', zlib.gzipSync(Buffer.alloc(64 << 20)), 'gzip', bearer,
         [C.RESOURCE_EXHAUSTED, 'gzip message inflates beyond 2097152 bytes (the message limit, or 1000x its encoded size)']],
        ['the bomb without the API key: refused before it is inflated', 'ModelInfer', zlib.gzipSync(Buffer.alloc(64 << 20)), 'gzip', {},
         [C.UNAUTHENTICATED, "missing or wrong API key: send 'authorization: Bearer <key>' metadata"]],
        ['a deflate bomb to ServerLive (64 KiB bound)', 'ServerLive', zlib.deflateSync(Buffer.alloc(1 << 20)), 'deflate', {},
         [C.RESOURCE_EXHAUSTED, 'deflate message inflates beyond 65536 bytes (the message limit, or 1000x its encoded size)']],
        ['not gzip at all', 'ModelInfer', Buffer.from('definitely not gzip'), 'gzip', bearer,
         [C.INVALID_ARGUMENT, 'request message is not valid gzip (grpc-encoding)']],
        ['a gzip stream cut short', 'ModelInfer', zlib.gzipSync(req).subarray(0, 100), 'gzip', bearer,
         [C.INVALID_ARGUMENT, 'request message is not valid gzip (grpc-encoding)']],
        ['bytes after the gzip stream', 'ModelInfer', Buffer.concat([zlib.gzipSync(req), Buffer.from('xyz')]), 'gzip', bearer,
         [C.INVALID_ARGUMENT, 'data after the end of the gzip stream']],
        ['an empty gzip ServerLive', 'ServerLive', zlib.gzipSync(Buffer.alloc(0)), 'gzip', {}, [0, '']],
    ];
    for (const [what, method, msg, enc, headers, want, flag] of cases) {
        const r = await h2(method, msg, enc, headers, flag);
        eq([r.status, r.message], want, `raw HTTP/2: ${what}`);
    }
    // without the key, ModelInfer is answered from its headers: the message is never waited for
    // (it was read first, so a keyless client could make the server hold it; here the call would
    // have waited for --read-timeout-s, 30 s)
    const t0 = Date.now();
    const keyless = await h2Call(session, 'ModelInfer', null, {});
    eq([keyless.status, keyless.message], [C.UNAUTHENTICATED, "missing or wrong API key: send 'authorization: Bearer <key>' metadata"],
       'raw HTTP/2: ModelInfer headers without the key, no message: UNAUTHENTICATED at once');
    check(Date.now() - t0 < 4000, `... answered in ${Date.now() - t0} ms`);
    session.close();
    check(await metric(s.http, 'grpc_infer', '413') === 1 && await metric(s.http, 'grpc_metadata', '413') === 1,
          'metrics: the bombs counted as 413 (ModelInfer, ServerLive)');
    check(await metric(s.http, 'grpc_infer', '401') === 2, 'metrics: the keyless bomb and the keyless headers counted as 401');
    check(/ GRPC \/inference\.GRPCInferenceService\/ModelInfer 401 images=0 .*in=0 .* end=grpc:UNAUTHENTICATED/.test(s.text()),
          'access log: a keyless call\'s line, no bytes read');
    check(/ GRPC \/inference\.GRPCInferenceService\/ModelInfer 413 images=0 .* end=grpc:RESOURCE_EXHAUSTED/.test(s.text()),
          'access log: the bomb\'s line');
    const after = await call(s.svc, 'ModelInfer', inferReq(name, imgs), auth);
    check(!after.err, 'still serving after the bombs');
    eq(await s.stop(), 0, 'compression server exits 0');
    checkLogClean(s, 'compression server');
}

// Raw HTTP/2 (Node's http2) with broken gRPC framing: each answered with an error status, no crash.
async function hostileFrames(port) {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    const send = async (body, method) => (await h2Call(session, method || 'ModelInfer', body)).status;
    const hdr = (flag, len) => { const b = Buffer.alloc(5); b[0] = flag; b.writeUInt32BE(len, 1); return b; };
    const truncated = await send(Buffer.concat([hdr(0, 1000), Buffer.alloc(10)]));
    check(truncated !== null && truncated !== 0, `truncated gRPC frame: error status (${truncated})`);
    const halfHeader = await send(Buffer.from([0, 0, 0]));
    check(halfHeader !== null && halfHeader !== 0, `frame cut inside its 5-byte header: error status (${halfHeader})`);
    const compressed = await send(Buffer.concat([hdr(1, 3), Buffer.from('abc')]));
    // (grpc 1.51 hands such a message over as plain bytes, README "Compressed requests": 'abc' is no
    // protobuf message, so this checks the refusal of bytes that do not parse, not of the flag)
    check(compressed !== null && compressed !== 0, `compressed flag without grpc-encoding, bytes that are no message: error status (${compressed})`);
    const huge = await send(hdr(0, 0x7fffffff));
    check(huge === C.RESOURCE_EXHAUSTED || (huge !== null && huge !== 0), `frame claiming 2 GiB: error status (${huge})`);
    const plainLive = await send(hdr(0, 0), 'ServerLive');
    eq(plainLive, 0, 'the same call uncompressed: OK');
    // calls that end before their message: cancelled by the client (RST_STREAM), their deadline passed
    // (grpc-timeout). Counted as 499 (the client left), not as its error.
    const unsent = (headers, cancelAfterMs) => new Promise((resolve) => {
        const req = session.request(Object.assign({ ':method': 'POST', ':path': SVC + 'ServerReady', 'content-type': 'application/grpc', te: 'trailers' }, headers));
        req.on('close', resolve);
        req.on('error', () => {});
        req.resume();
        if (cancelAfterMs) setTimeout(() => req.close(http2.constants.NGHTTP2_CANCEL), cancelAfterMs);
    });
    await unsent({}, 200);
    await unsent({ 'grpc-timeout': '200m' });
    const noBody = await send(Buffer.alloc(0));
    check(noBody === C.INVALID_ARGUMENT || (noBody !== null && noBody !== 0), `no message at all: error status (${noBody})`);
    session.close();
}

// Connection limits: calls open at once per connection (HTTP/2 SETTINGS), a call whose message does not
// come ended at --read-timeout-s (20,000 such calls on one connection once held 379 MB), an idle
// connection closed after --conn-timeout-s.
async function testConnLimits() {
    const s = await startServer('limits', ['--read-timeout-s', '1', '--conn-timeout-s', '2']);
    const session = http2.connect(`http://127.0.0.1:${s.grpc}`);
    session.on('error', () => {});
    await new Promise((resolve) => session.once('remoteSettings', resolve));
    eq(session.remoteSettings.maxConcurrentStreams, 100, 'SETTINGS_MAX_CONCURRENT_STREAMS is 100');
    const t0 = Date.now();
    const headersOnly = await h2Call(session, 'ServerLive', null);
    const took = Date.now() - t0;
    eq([headersOnly.status, headersOnly.message], [C.DEADLINE_EXCEEDED, 'no request message within 1 s of the call\'s start (--read-timeout-s)'],
       'a call without its message: DEADLINE_EXCEEDED at --read-timeout-s');
    check(took >= 900, `... not before the second is up (${took} ms)`);
    let n = 0;
    for (let i = 0; i < 100 && (n = await metric(s.http, 'grpc_metadata', '408')) < 1; i++) await sleep(10);
    eq(n, 1, 'metrics: counted as grpc_metadata 408');
    check(/ServerLive 408 .* end=grpc:DEADLINE_EXCEEDED/.test(s.text()), 'access log: 408 DEADLINE_EXCEEDED');
    const goaway = await Promise.race([new Promise((resolve) => session.once('goaway', () => resolve(true))), sleep(8000).then(() => false)]);
    check(goaway, 'a connection idle for --conn-timeout-s: GOAWAY');
    session.destroy();
    eq((await call(s.svc, 'ServerLive', {})).res, { live: true }, 'still serving');
    eq(await s.stop(), 0, 'limits server exits 0');
    checkLogClean(s, 'limits server');
}

// CRC-32 as PNG chunks want it (zlib.crc32 is Node 20.15+; Debian 12 has Node 18).
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
});
function crc32(buf) {
    let c = 0xffffffff;
    for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
}

// A grey PNG of w x h pixels, all zero: a few KB that cost a decoder a noticeable time (inflate, resize).
function bigPng(w, h) {
    const chunk = (type, data) => {
        const len = Buffer.alloc(4), crc = Buffer.alloc(4), td = Buffer.concat([Buffer.from(type), data]);
        len.writeUInt32BE(data.length);
        crc.writeUInt32BE(crc32(td));
        return Buffer.concat([len, td, crc]);
    };
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(w, 0);
    ihdr.writeUInt32BE(h, 4);
    ihdr[8] = 8; // 8-bit grey
    return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr),
                          chunk('IDAT', zlib.deflateSync(Buffer.alloc((w + 1) * h))), chunk('IEND', Buffer.alloc(0))]);
}

// Images are decoded on the decoders, not on gRPC's few callback threads: with ModelInfer calls of
// large images decoding, a Health/Check (the readiness probe) is answered before any of them.
async function testDecodersOffCallbackThreads() {
    const s = await startServer('decoders', ['--max-images', '8', '--max-body-mb', '8']);
    const name = 'timm-deit-reduced';
    const big = bigPng(4000, 4000);
    const done = [];
    const infers = Array.from({ length: 8 }, () => call(s.svc, 'ModelInfer', inferReq(name, Array(8).fill(big)))
        .then((r) => { done.push('infer'); return r; }));
    await sleep(200);
    const hc = await call(s.health, 'Check', { service: '' });
    done.push('health');
    eq(hc.res, { status: 'SERVING' }, 'Health/Check while ModelInfer images decode: SERVING');
    const rs = await Promise.all(infers);
    check(rs.every((r) => !r.err || code(r) === C.RESOURCE_EXHAUSTED), `large ModelInfer calls: OK or busy (${rs.map((r) => r.err && r.err.details)})`);
    check(rs.some((r) => !r.err), 'large ModelInfer calls: some OK');
    eq(done[0], 'health', 'Health/Check answered before any of the large ModelInfer calls');
    eq(await s.stop(), 0, 'decoders server exits 0');
    checkLogClean(s, 'decoders server');

    // A call cancelled while it waits for the decoder (one, busy with 8 large images) is neither
    // decoded nor run: answered CANCELLED (499), its message read (images=1) but no work done for it.
    // (the channel is warmed up first, so the busy call's message is there at once; its 8 images of
    // 36 MP keep the one decoder busy for seconds, on a fast machine too)
    const o = await startServer('decoders-cancel', ['--max-images', '8', '--max-body-mb', '8', '--http-threads', '1']);
    const huge = bigPng(6000, 6000);
    check(!(await call(o.svc, 'ServerLive', {})).err, 'decoders-cancel: channel up');
    const busy = call(o.svc, 'ModelInfer', inferReq(name, Array(8).fill(huge)));
    await sleep(300);
    let cancelledErr = null;
    const gone = o.svc.ModelInfer(inferReq(name, [IMAGES[0]]), new grpc.Metadata(), (err) => { cancelledErr = err; });
    await sleep(300); // its message is read by now; the decoder is still on the large images
    gone.cancel();
    const b = await busy;
    check(!b.err, `the large call: OK (${b.err && b.err.details})`);
    let n499 = 0;
    for (let i = 0; i < 200 && (n499 = await metric(o.http, 'grpc_infer', '499')) < 1; i++) await sleep(10);
    eq(n499, 1, 'the cancelled call: counted as 499');
    eq(await metric(o.http, 'grpc_infer', '200'), 1, '... and only the large call as 200');
    check(cancelledErr && cancelledErr.code === C.CANCELLED, 'the client saw its own cancellation');
    check(/ModelInfer 499 images=1 .* end=grpc:CANCELLED/.test(o.text()),
          'access log: the cancelled call, read (images=1), ended CANCELLED');
    eq(await o.stop(), 0, 'decoders-cancel server exits 0');
    checkLogClean(o, 'decoders-cancel server');

    // The messages waiting for a decoder hold at most 4 x --max-body-mb (8 MiB here): behind a busy
    // decoder, six one-image calls of 1.9 MB each are not all held; those beyond are answered
    // RESOURCE_EXHAUSTED (counted in images alone, all six fitted --queue and were held whole)
    const q = await startServer('decoders-bytes', ['--max-images', '8', '--max-body-mb', '2', '--http-threads', '1']);
    const pgm = Buffer.concat([Buffer.from('P5\n1400 1400\n255\n'), Buffer.alloc(1400 * 1400, 128)]);
    check(!(await call(q.svc, 'ServerLive', {})).err, 'decoders-bytes: channel up');
    const slow = call(q.svc, 'ModelInfer', inferReq(name, Array(8).fill(huge)));
    await sleep(300);
    const heavy = await Promise.all(Array.from({ length: 6 }, () => call(q.svc, 'ModelInfer', inferReq(name, [pgm]))));
    const refused = heavy.filter((r) => code(r) === C.RESOURCE_EXHAUSTED);
    check(!(await slow).err, 'the busy call: OK');
    check(refused.length >= 1 && heavy.filter((r) => !r.err).length >= 3,
          `1.9 MB calls behind a busy decoder: some held (OK), the rest RESOURCE_EXHAUSTED (${heavy.map((r) => code(r))})`);
    check(refused.length && /MiB of requests already wait for a decoder \(at most 4 x --max-body-mb\)/.test(refused[0].err.details),
          `... saying why: ${refused.length && refused[0].err.details}`);
    check(heavy.every((r) => !r.err || code(r) === C.RESOURCE_EXHAUSTED), 'nothing else');
    eq(await q.stop(), 0, 'decoders-bytes server exits 0');
    checkLogClean(q, 'decoders-bytes server');
}

// A ModelInfer call stops decoding at its next image when it is cancelled, or when the drain's grace
// runs out: 200 images of 9 Mpx keep the one decoder busy for about 7 s on a fast machine (longer
// sanitized), which once held a cancelled call's decoder, and the exit after --grace-s, that long.
async function testDecodeStops() {
    const name = 'timm-deit-reduced';
    const many = Array(200).fill(bigPng(3000, 3000));
    const args = ['--max-images', '200', '--max-body-mb', '8', '--http-threads', '1'];
    // cancelled while its images decode: the decoder is free for the next call at once
    const o = await startServer('decode-cancel', args);
    check(!(await call(o.svc, 'ServerLive', {})).err, 'decode-cancel: channel up');
    let cancelledErr = null;
    const big = o.svc.ModelInfer(inferReq(name, many), new grpc.Metadata(), (err) => { cancelledErr = err; });
    await sleep(1000); // its 1.8 MB message read, the decoder on its images
    big.cancel();
    const t0 = Date.now();
    const next = await call(o.svc, 'ModelInfer', inferReq(name, [IMAGES[0]]));
    const waited = Date.now() - t0;
    check(!next.err, `the call after the cancelled one: OK (${next.err && next.err.details})`);
    check(waited < 3000, `... answered in ${waited} ms, not after the cancelled call's whole decode`);
    check(cancelledErr && cancelledErr.code === C.CANCELLED, 'the client saw its own cancellation');
    let n499 = 0;
    for (let i = 0; i < 200 && (n499 = await metric(o.http, 'grpc_infer', '499')) < 1; i++) await sleep(10);
    eq(n499, 1, 'the cancelled call: counted as 499');
    check(/ModelInfer 499 images=200 .* end=grpc:CANCELLED/.test(o.text()), 'access log: the cancelled call, ended CANCELLED');
    eq(await o.stop(), 0, 'decode-cancel server exits 0');
    checkLogClean(o, 'decode-cancel server');

    // still decoding when --grace-s runs out: answered UNAVAILABLE, the process gone within --grace-s
    const g = await startServer('decode-grace', [...args, '--grace-s', '4']);
    check(!(await call(g.svc, 'ServerLive', {})).err, 'decode-grace: channel up');
    const pending = call(g.svc, 'ModelInfer', inferReq(name, many));
    await sleep(1000);
    const t1 = Date.now();
    g.proc.kill('SIGTERM');
    eq(await g.exited, 1, 'decode-grace server exits 1 (forced)');
    const secs = (Date.now() - t1) / 1000;
    check(secs < 5.5, `... ${secs.toFixed(2)} s after SIGTERM with --grace-s 4`);
    const r = await pending;
    check(code(r) === C.UNAVAILABLE && /--grace-s ran out while the images were decoded/.test(r.err.details),
          `the decoding call: UNAVAILABLE, saying why (${code(r)} ${r.err && r.err.details})`);
    check(/ModelInfer 503 images=200 .* end=grpc:UNAVAILABLE/.test(g.text()), 'access log: the call, 503 UNAVAILABLE');
    checkLogClean(g, 'decode-grace server');
}

// Images of the slow model per second with one worker: sizes the queued work of the timing tests.
async function perImageSeconds(s, name) {
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
        const t = process.hrtime.bigint();
        const r = await call(s.svc, 'ModelInfer', inferReq(name, Array(32).fill(SLOW_IMAGE)));
        if (r.err) return null;
        best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e9 / 32);
    }
    return best;
}

async function testQueueLimits() {
    // queue full: 1 worker, room for one 4-image call; 24 at once (the slow model: its images decode
    // far faster than they run, so the queue does fill)
    const s = await startServer('queue', ['--workers', '1', '--max-batch', '1', '--queue', '4', '--max-images', '4'],
                                { model: SLOW_MODEL });
    const name = 'fashion-deit';
    const rs = await Promise.all(Array.from({ length: 24 }, () => call(s.svc, 'ModelInfer', inferReq(name, Array(4).fill(SLOW_IMAGE)))));
    const full = rs.filter((r) => code(r) === C.RESOURCE_EXHAUSTED);
    check(full.length > 0 && rs.some((r) => !r.err), `queue full: some RESOURCE_EXHAUSTED (${full.length}), some OK`);
    check(rs.every((r) => !r.err || code(r) === C.RESOURCE_EXHAUSTED), 'queue full: nothing else');
    eq(full.length && full[0].err.details, 'server busy: queue is full (4 images, --queue)', 'queue full: REST\'s message');
    eq(await metric(s.http, 'grpc_infer', '503'), full.length, 'queue full: counted as 503 in the metrics');
    eq(await s.stop(), 0, 'queue server exits 0');
    checkLogClean(s, 'queue server');

    // --request-timeout-s 1 with about 4 s of one worker's work queued: the late ones DEADLINE_EXCEEDED
    const t = await startServer('timeout', ['--workers', '1', '--max-batch', '8', '--request-timeout-s', '1', '--queue', '100000', '--max-images', '4096'],
                                { model: SLOW_MODEL });
    const slow = 'fashion-deit';
    const per = await perImageSeconds(t, slow);
    check(per !== null, 'timeout server: calibration call');
    const n = Math.min(4096, Math.ceil(4.0 / (per || 0.001) / 16) + 1);
    const late = await Promise.all(Array.from({ length: 16 }, () => call(t.svc, 'ModelInfer', inferReq(slow, Array(n).fill(SLOW_IMAGE)))));
    const dl = late.filter((r) => code(r) === C.DEADLINE_EXCEEDED);
    check(dl.length > 0, `--request-timeout-s: some calls DEADLINE_EXCEEDED (${dl.length} of 16, ${n} images each)`);
    check(late.every((r) => !r.err || code(r) === C.DEADLINE_EXCEEDED), 'request timeout: nothing else');
    eq(dl.length && dl[0].err.details, 'request timed out after 1 s waiting for a worker (--request-timeout-s)', 'request timeout: REST\'s message');
    check(!(await call(t.svc, 'ModelInfer', inferReq(slow, [SLOW_IMAGE]))).err, 'served again after the timeouts');
    eq(await t.stop(), 0, 'timeout server exits 0');
    checkLogClean(t, 'timeout server');

    // A call cancelled while it is queued is not run: a lone image waits up to 1 s for company here,
    // the client cancels after 300 ms, and the worker that takes it finds it cancelled
    const g = await startServer('queue-cancel', ['--workers', '1', '--max-batch', '8', '--batch-wait-us', '1000000']);
    const imagesRun = async () => Number(((await rest(g.http, 'GET', '/metrics')).body.match(/^deit_images_total (\d+)$/m) || [])[1]);
    check(!(await call(g.svc, 'ServerLive', {})).err, 'queue-cancel: channel up');
    const ran = await imagesRun();
    let queuedErr = null;
    const queued = g.svc.ModelInfer(inferReq('timm-deit-reduced', [IMAGES[0]]), new grpc.Metadata(), (err) => { queuedErr = err; });
    await sleep(300);
    queued.cancel();
    let n499 = 0;
    for (let i = 0; i < 300 && (n499 = await metric(g.http, 'grpc_infer', '499')) < 1; i++) await sleep(10);
    eq(n499, 1, 'a call cancelled while queued: counted as 499');
    eq(await imagesRun(), ran, '... and its image not run');
    check(queuedErr && queuedErr.code === C.CANCELLED, 'the client saw its own cancellation');
    check(/ModelInfer 499 images=1 .* end=grpc:CANCELLED/.test(g.text()), 'access log: the queued call ended CANCELLED');
    check(!(await call(g.svc, 'ModelInfer', inferReq('timm-deit-reduced', [IMAGES[0]]))).err, 'queue-cancel: served after it');
    eq(await imagesRun(), ran + 1, '... that one run');
    eq(await g.stop(), 0, 'queue-cancel server exits 0');
    checkLogClean(g, 'queue-cancel server');
}

async function testTlsAndKey() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deit-grpc-tls-'));
    const cert = path.join(dir, 'cert.pem'), key = path.join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1',
                             '-addext', 'subjectAltName=DNS:localhost', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    const apiKey = 'k3y-long-enough';
    const s = await startServer('tls', ['--tls-cert', cert, '--tls-key', key, '--api-key', apiKey, '--conn-timeout-s', '2'],
                                { creds: grpc.credentials.createSsl(fs.readFileSync(cert)), host: 'localhost' });
    const name = 'timm-deit-reduced';
    check(/gRPC listening on .*\(TLS\)/.test(s.text()), 'TLS: the start line says so');
    eq((await call(s.svc, 'ServerLive', {})).res, { live: true }, 'TLS: ServerLive (no key needed, as REST health)');
    const none = await call(s.svc, 'ModelInfer', inferReq(name, [IMAGES[0]]));
    check(code(none) === C.UNAUTHENTICATED, `no key: UNAUTHENTICATED (${code(none)})`);
    check(code(await call(s.svc, 'ModelInfer', inferReq(name, [IMAGES[0]]), { authorization: 'Bearer wrong' })) === C.UNAUTHENTICATED, 'wrong key: UNAUTHENTICATED');
    check(code(await call(s.svc, 'ModelInfer', inferReq(name, [IMAGES[0]]), { authorization: apiKey })) === C.UNAUTHENTICATED, 'key without Bearer: UNAUTHENTICATED');
    const ok = await call(s.svc, 'ModelInfer', inferReq(name, [IMAGES[0]]), { authorization: `Bearer ${apiKey}` });
    check(!ok.err, `TLS + right key: OK (${ok.err && ok.err.details})`);
    const plain = clients(s.grpc, grpc.credentials.createInsecure());
    check(code(await call(plain.svc, 'ServerLive', {}, {}, 3000)) === C.UNAVAILABLE, 'plaintext client on the TLS port: UNAVAILABLE');
    plain.svc.close();
    // a connection that sends nothing (no TLS hello) is closed after --conn-timeout-s, on the gRPC
    // port as on REST's: grpc's own handshake timeout (120 s) held it before HTTP/2 was up
    const closedAfter = async (port) => {
        const t0 = Date.now();
        const sock = net.connect(port, '127.0.0.1');
        sock.on('error', () => {});
        sock.resume(); // REST's port sends a TLS alert before it closes: read it, so 'close' can come
        const closed = await Promise.race([new Promise((r) => sock.on('close', () => r(true))), sleep(15000).then(() => false)]);
        sock.destroy();
        return closed ? Date.now() - t0 : null;
    };
    for (const [what, port] of [['gRPC', s.grpc], ['REST', s.http]]) {
        const ms = await closedAfter(port);
        check(ms !== null && ms < 8000, `${what} TLS port: a silent connection closed after --conn-timeout-s 2 (${ms} ms)`);
    }
    // TLS 1.2 and 1.3 only on both ports (GnuTLS's default also offered 1.0 and 1.1 on REST's)
    const tlsOld = (port) => new Promise((resolve) => {
        const t = tls.connect({ port, host: '127.0.0.1', maxVersion: 'TLSv1.1', minVersion: 'TLSv1',
                                ciphers: 'DEFAULT:@SECLEVEL=0', rejectUnauthorized: false });
        t.on('secureConnect', () => { const v = t.getProtocol(); t.destroy(); resolve(v); });
        t.on('error', () => resolve(null));
    });
    const tls12 = (port) => new Promise((resolve) => {
        const t = tls.connect({ port, host: '127.0.0.1', minVersion: 'TLSv1.2', rejectUnauthorized: false, ALPNProtocols: ['h2', 'http/1.1'] });
        t.on('secureConnect', () => { const v = t.getProtocol(); t.destroy(); resolve(v); });
        t.on('error', () => resolve(null));
    });
    for (const [what, port] of [['gRPC', s.grpc], ['REST', s.http]]) {
        const old = await tlsOld(port);
        check(old === null, `${what} TLS port refuses TLS 1.0/1.1 (negotiated ${old})`);
        const cur = await tls12(port);
        check(cur === 'TLSv1.2' || cur === 'TLSv1.3', `${what} TLS port speaks TLS 1.2+ (${cur})`);
    }
    eq(await s.stop(), 0, 'TLS server exits 0');
    checkLogClean(s, 'TLS server');
    fs.rmSync(dir, { recursive: true, force: true });
}

// A model without a distillation head: distill_probs repeats class_probs, as over REST.
async function testNoDistillation() {
    const s = await startServer('nodist', [], { model: path.join(ROOT, 'tests/fixtures/models/timm-deit-nodist-reduced') });
    const name = 'timm-deit-nodist-reduced';
    const g = await call(s.svc, 'ModelInfer', inferReq(name, IMAGES.slice(0, 2)));
    const r = await restInfer(s.http, name, IMAGES.slice(0, 2));
    check(!g.err && r.status === 200, `no-distillation model: gRPC and REST answer (${g.err && g.err.details})`);
    if (!g.err && r.status === 200)
        for (let i = 0; i < 3; i++)
            check(floats(g.res.raw_output_contents[i]).every((v, k) => v === Math.fround(r.json.outputs[i].data[k])),
                  `no-distillation model: ${g.res.outputs[i].name} equals REST's`);
    eq(await s.stop(), 0, 'no-distillation server exits 0');
    checkLogClean(s, 'no-distillation server');
}

// A JPEG with an EXIF APP1 segment (big-endian TIFF, one IFD entry: Orientation = value) after SOI.
function withOrientation(jpeg, value) {
    const tiff = Buffer.from([0x4d, 0x4d, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, value, 0, 0, 0, 0, 0, 0]);
    const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
    const seg = Buffer.alloc(4);
    seg.writeUInt16BE(0xffe1, 0);
    seg.writeUInt16BE(payload.length + 2, 2);
    return Buffer.concat([jpeg.subarray(0, 2), seg, payload, jpeg.subarray(2)]);
}

// --exif-transpose 1 reaches ModelInfer as it does REST's default: a photo on its side (EXIF
// Orientation 6) gives REST's turned result, bit for bit, not the result for the stored pixels.
async function testExifTranspose() {
    const s = await startServer('exif', ['--exif-transpose', '1']);
    const name = 'timm-deit-reduced';
    const photo = withOrientation(IMAGES[0], 6);
    const g = await call(s.svc, 'ModelInfer', inferReq(name, [photo]));
    const upright = await restInfer(s.http, name, [photo]);
    const b64 = photo.toString('base64');
    const stored = await rest(s.http, 'POST', `/v2/models/${name}/infer?exif_transpose=0`,
                              JSON.stringify({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [b64] }] }));
    check(!g.err && upright.status === 200 && stored.status === 200,
          `EXIF photo: gRPC and REST answer (${g.err && g.err.details})`);
    if (!g.err && upright.status === 200 && stored.status === 200) {
        const a = floats(g.res.raw_output_contents[0]);
        const turned = upright.json.outputs[0].data.map(Math.fround);
        const asStored = JSON.parse(stored.body).outputs[0].data.map(Math.fround);
        check(turned.some((v, k) => v !== asStored[k]), 'EXIF photo: REST answers differently turned and as stored');
        check(a.every((v, k) => v === turned[k]), 'EXIF photo under --exif-transpose 1: gRPC equals REST turned upright');
    }
    eq(await s.stop(), 0, 'exif server exits 0');
    checkLogClean(s, 'exif server');
}

// A copy of the reduced model whose final norm outputs 1 everywhere and whose head weights are
// 3e38: finite weights (the loader takes them) whose logits overflow float32 on every image.
function overflowModel() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deit-grpc-overflow-'));
    fs.copyFileSync(path.join(MODEL, 'config.json'), path.join(dir, 'config.json'));
    const b = fs.readFileSync(path.join(MODEL, 'model.safetensors'));
    const n = Number(b.readBigUInt64LE(0));
    const hdr = JSON.parse(b.subarray(8, 8 + n).toString());
    for (const [name, v] of [['norm.weight', 0], ['norm.bias', 1], ['head.weight', 3e38]]) {
        const [lo, hi] = hdr[name].data_offsets;
        for (let o = 8 + n + lo; o < 8 + n + hi; o += 4) b.writeFloatLE(v, o);
    }
    fs.writeFileSync(path.join(dir, 'model.safetensors'), b);
    return dir;
}

// Logits that overflow: INTERNAL naming the cause, over gRPC as over REST (500), and serving goes on.
async function testNonFiniteLogits() {
    const dir = overflowModel();
    const s = await startServer('overflow', [], { model: dir });
    const name = path.basename(dir);
    for (let i = 0; i < 2; i++) {
        const g = await call(s.svc, 'ModelInfer', inferReq(name, IMAGES.slice(0, 1)));
        eq([code(g), g.err && g.err.details], [C.INTERNAL, 'the model produced non-finite logits (NaN or infinity) for this input: its weights overflow float32 here'],
           `non-finite logits (call ${i + 1}): INTERNAL naming them`);
    }
    const r = await restInfer(s.http, name, IMAGES.slice(0, 1));
    eq(r.status, 500, 'the same over REST: 500');
    eq(await s.stop(), 0, 'overflow server exits 0');
    checkLogClean(s, 'overflow server');
    fs.rmSync(dir, { recursive: true, force: true });
}

// NOT_SERVING while there is no model yet: a hub model whose endpoint (a socket of this test)
// takes the connection and never answers keeps the server fetching it. (A FIFO as config.json held
// the load itself until the loader learnt to refuse special files at once.)
async function testLoading() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deit-grpc-loading-'));
    const held = [];
    const hub = net.createServer((sock) => held.push(sock));
    await new Promise((resolve) => hub.listen(0, '127.0.0.1', resolve));
    const env = { HF_ENDPOINT: `http://127.0.0.1:${hub.address().port}`, HF_HUB_CACHE: path.join(dir, 'cache'),
                  HF_HUB_OFFLINE: '0', HF_HUB_ETAG_TIMEOUT: '60' };
    const s = await startServer('loading', [], { model: 'hf://test-org/never-answered', env, waitReady: false });
    eq((await call(s.health, 'Check', { service: '' })).res, { status: 'NOT_SERVING' }, 'Health/Check NOT_SERVING while loading');
    eq((await call(s.svc, 'ServerLive', {})).res, { live: true }, 'ServerLive while loading');
    eq((await call(s.svc, 'ServerReady', {})).res, { ready: false }, 'ServerReady false while loading');
    eq((await call(s.svc, 'ModelReady', { name: 'x' })).res, { ready: false }, 'ModelReady false while loading');
    const inf = await call(s.svc, 'ModelInfer', inferReq('x', [IMAGES[0]]));
    eq([code(inf), inf.err && inf.err.details], [C.UNAVAILABLE, 'model is still loading'], 'ModelInfer while loading: UNAVAILABLE');
    check(code(await call(s.svc, 'ModelMetadata', { name: 'x' })) === C.UNAVAILABLE, 'ModelMetadata while loading: UNAVAILABLE');
    hub.close(); // no new connection, and the one held is reset: the fetch fails, nothing is cached
    held.forEach((sock) => sock.resetAndDestroy());
    eq(await s.exited, 1, 'a failed load exits 1');
    checkLogClean(s, 'loading server');
    fs.rmSync(dir, { recursive: true, force: true });
}

// SIGTERM with calls in flight: every one answered OK, new calls UNAVAILABLE, exit 0 soon after, even
// with a call held open without its message.
async function testDrain() {
    const s = await startServer('drain', ['--workers', '1', '--max-batch', '8', '--queue', '100000', '--max-images', '4096'], { model: SLOW_MODEL });
    const name = 'fashion-deit';
    const per = await perImageSeconds(s, name);
    check(per !== null, 'drain server: calibration call');
    // about 4 s of the worker's time in 16 calls, sent at once: each is in flight from its start (its
    // headers), so once the first images are queued every call has begun and must complete
    const n = Math.min(4096, Math.ceil(4.0 / (per || 0.001) / 16) + 1);
    const inflight = Array.from({ length: 16 }, () => call(s.svc, 'ModelInfer', inferReq(name, Array(n).fill(SLOW_IMAGE))));
    for (let i = 0; i < 500; i++) {
        const q = (await rest(s.http, 'GET', '/metrics')).body.match(/^deit_queue_depth (\d+)/m);
        if (q && Number(q[1]) > 0) break;
        await sleep(5);
    }
    await sleep(100);
    // and a call held open without its message (its own connection): it must neither hold the drain
    // for the whole --grace-s (30 s) nor make the exit "forced"
    const holder = http2.connect(`http://127.0.0.1:${s.grpc}`);
    holder.on('error', () => {});
    const held = holder.request({ ':method': 'POST', ':path': SVC + 'ModelInfer', 'content-type': 'application/grpc', te: 'trailers' });
    held.on('error', () => {});
    held.resume();
    const heldClosed = new Promise((resolve) => held.on('close', resolve));
    await new Promise((resolve) => held.on('ready', resolve));
    const t0 = Date.now();
    s.proc.kill('SIGTERM');
    for (let i = 0; i < 100 && !/draining/.test(s.text()); i++) await sleep(10);
    // GOAWAY and the port closed at SIGTERM: a new call fails UNAVAILABLE in the client (or, had it
    // raced the GOAWAY, gets the server's own UNAVAILABLE / NOT_SERVING / ready false, or CANCELLED
    // from gRPC when it arrived as the shutdown began, before a handler took it)
    // (the "draining" line is logged just before the drain starts: poll, briefly)
    let hc;
    for (let i = 0; i < 100; i++) {
        hc = await call(s.health, 'Check', { service: '' });
        if (hc.err || hc.res.status !== 'SERVING') break;
        await sleep(10);
    }
    const refused = (r) => code(r) === C.UNAVAILABLE || code(r) === C.CANCELLED;
    check(refused(hc) || (!hc.err && hc.res.status === 'NOT_SERVING'), `Health/Check while draining: UNAVAILABLE or NOT_SERVING (${code(hc)})`);
    const sr = await call(s.svc, 'ServerReady', {});
    check(refused(sr) || (!sr.err && sr.res.ready === false), `ServerReady while draining: UNAVAILABLE or false (${code(sr)})`);
    const late = await call(s.svc, 'ModelInfer', inferReq(name, [SLOW_IMAGE]));
    check(refused(late),
          `new ModelInfer while draining: UNAVAILABLE (or CANCELLED) (${code(late)} ${late.err && late.err.details})`);
    const done = await Promise.all(inflight);
    // the held call's message now arrives while the server stops: after 500 ms without calls in
    // flight the batcher and the image decoders stop, then gRPC gives open calls up to 1 s. It must
    // be answered (UNAVAILABLE), not decoded: the decoders were once freed before that second, and
    // such a message was a use-after-free (the ASan run's log check below catches it)
    await sleep(750);
    const msg = pkg.inference.GRPCInferenceService.service.ModelInfer.requestSerialize(inferReq(name, [SLOW_IMAGE]));
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(msg.length, 1);
    held.write(Buffer.concat([prefix, msg]));
    held.end();
    check(done.every((r) => !r.err), `every call in flight at SIGTERM answered OK (${done.filter((r) => r.err).map((r) => r.err.details)})`);
    check(done.every((r) => !r.err && r.res.raw_output_contents[2].length === n * 10 * 4), 'in-flight answers complete');
    eq(await s.exited, 0, 'drained server exits 0');
    check(Date.now() - t0 < 15000, `... well within --grace-s 30 despite the held call (${Date.now() - t0} ms)`);
    check(/stopped$/m.test(s.text()) && !/forced/.test(s.text()), 'drain: "stopped", not forced');
    await heldClosed;
    holder.destroy();
    checkLogClean(s, 'drain server');
}

(async () => {
    const t0 = Date.now();
    try {
        await testRpcsAndParity();
        await testCompression();
        await testConnLimits();
        await testDecodersOffCallbackThreads();
        await testDecodeStops();
        await testQueueLimits();
        await testTlsAndKey();
        await testNoDistillation();
        await testExifTranspose();
        await testNonFiniteLogits();
        await testLoading();
        await testDrain();
    } catch (e) {
        failed++;
        console.error(`test_grpc: ${e.stack || e}`);
    }
    console.error(`(${((Date.now() - t0) / 1000).toFixed(1)} s, server ${path.relative(ROOT, BIN)})`);
    console.log(`test_grpc: ${passed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
})();
