// grpc_vs_rest.js — the same server, the same image, over KServe v2 REST (binary-data extension,
// Node's http with keep-alive) and KServe v2 gRPC (@grpc/grpc-js ModelInfer, raw_input_contents):
// closed-loop clients at each concurrency, the two protocols interleaved round by round, so both see
// the same machine. Prints images/s, p50 and p99 per protocol and concurrency (medians over rounds).
//
//   node bench/grpc_vs_rest.js HTTP_PORT GRPC_PORT MODEL_NAME IMAGE [CLIENTS="1 8"] [SECONDS=10] [ROUNDS=3]
//
// bench/grpc_vs_rest.sh starts the server and runs this. The client runs on the same machine as the
// server and takes CPU from it; both protocols pay that. With DEIT_SERVER_PID set, each cell also
// reports the server's own CPU time per image (user + system, from /proc): the protocol's cost in
// the server, which a loaded machine disturbs far less than wall-clock rates.
'use strict';
const fs = require('fs');
const path = require('path');
const http = require('http');

const mods = path.join(__dirname, '..', 'tests', 'grpc', 'node_modules');
const grpc = require(path.join(mods, '@grpc/grpc-js'));
const loader = require(path.join(mods, '@grpc/proto-loader'));

const [httpPort, grpcPort, model, imagePath] = process.argv.slice(2, 6);
const CLIENTS = (process.argv[6] || '1 8').split(/\s+/).map(Number);
const SECONDS = Number(process.argv[7] || 10);
const ROUNDS = Number(process.argv[8] || 3);
const image = fs.readFileSync(imagePath);

// the repository's own copy is enough here: this measures, the tests check the wire format
const pkg = grpc.loadPackageDefinition(loader.loadSync(path.join(__dirname, '..', 'server', 'proto', 'grpc_predict_v2.proto'),
    { keepCase: true, longs: Number, defaults: true }));

const len4 = Buffer.alloc(4);
len4.writeUInt32LE(image.length);
const element = Buffer.concat([len4, image]);
const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [1],
    parameters: { binary_data_size: element.length } }], outputs: [{ name: 'fused_probs' }] }));
const restBody = Buffer.concat([header, element]);
const grpcReq = { model_name: model, inputs: [{ name: 'image', datatype: 'BYTES', shape: [1] }],
                  outputs: [{ name: 'fused_probs' }], raw_input_contents: [element] };

// One client: a function sending one request and resolving when answered (rejecting on an error).
function restClient() {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    return () => new Promise((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: httpPort, method: 'POST', path: `/v2/models/${model}/infer`, agent,
            headers: { 'content-type': 'application/octet-stream', 'content-length': restBody.length,
                       'inference-header-content-length': header.length } }, (res) => {
            res.resume();
            res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
        });
        req.on('error', reject);
        req.end(restBody);
    });
}
function grpcClient() {
    // its own connection, as an independent client would have
    const c = new pkg.inference.GRPCInferenceService(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure(),
                                                     { 'grpc.use_local_subchannel_pool': 1 });
    return () => new Promise((resolve, reject) => c.ModelInfer(grpcReq, (err) => (err ? reject(err) : resolve())));
}

// The server's CPU time so far (ms), or NaN without DEIT_SERVER_PID.
const TICK_MS = 1000 / 100; // USER_HZ is 100 on Linux
function serverCpuMs() {
    const pid = process.env.DEIT_SERVER_PID;
    if (!pid) return NaN;
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS; // utime, stime
}

// n closed-loop clients for secs: images/s, latency percentiles (ms), server CPU ms per image.
async function load(make, n, secs) {
    const clients = Array.from({ length: n }, make);
    const lat = [];
    let errors = 0;
    const end = process.hrtime.bigint() + BigInt(Math.round(secs * 1e9));
    const t0 = process.hrtime.bigint();
    const cpu0 = serverCpuMs();
    await Promise.all(clients.map(async (send) => {
        while (process.hrtime.bigint() < end) {
            const t = process.hrtime.bigint();
            try { await send(); lat.push(Number(process.hrtime.bigint() - t) / 1e6); } catch (e) { errors++; }
        }
    }));
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = (serverCpuMs() - cpu0) / Math.max(1, lat.length);
    lat.sort((a, b) => a - b);
    const pct = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
    return { ips: lat.length / wall, p50: pct(0.5), p99: pct(0.99), cpu, errors };
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

(async () => {
    const protos = { REST: restClient, gRPC: grpcClient };
    await load(restClient, 2, 2); // warm-up: arenas, page cache, clocks
    await load(grpcClient, 2, 2);
    const res = {};
    for (let r = 0; r < ROUNDS; r++)
        for (const n of CLIENTS)
            for (const [name, make] of Object.entries(protos)) {
                const x = await load(make, n, SECONDS);
                ((res[`${name} ${n}`] = res[`${name} ${n}`] || [])).push(x);
                process.stderr.write(`round ${r + 1} ${name} x${n}: ${x.ips.toFixed(1)} images/s, p50 ${x.p50.toFixed(2)} ms, ` +
                                     `p99 ${x.p99.toFixed(2)} ms, server CPU ${x.cpu.toFixed(2)} ms/image, ${x.errors} errors\n`);
            }
    console.log('| protocol | clients | images/s | p50 ms | p99 ms | server CPU ms/image | errors | gRPC / REST images/s |');
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const n of CLIENTS)
        for (const name of Object.keys(protos)) {
            const xs = res[`${name} ${n}`];
            const ips = median(xs.map((x) => x.ips));
            const ratio = name === 'gRPC' ? (ips / median(res[`REST ${n}`].map((x) => x.ips))).toFixed(2) : '';
            console.log(`| ${name} | ${n} | ${ips.toFixed(1)} | ${median(xs.map((x) => x.p50)).toFixed(2)} | ` +
                        `${median(xs.map((x) => x.p99)).toFixed(2)} | ${median(xs.map((x) => x.cpu)).toFixed(2)} | ` +
                        `${xs.reduce((a, x) => a + x.errors, 0)} | ${ratio} |`);
        }
    process.exit(0);
})();
