// load.js: the official Node socket.io-client as a second load generator
// for scripts/bench.sh, beside the Go one (internal/cmd/sio-load flow), so
// that the comparison of sio-serve with the Node relay does not rest on our
// own client alone. Two roles, run as separate processes (the Node client
// is single-threaded: one process each keeps them from sharing a core):
//
//   node load.js sub --url U --subs N --pubs P --events E [--pid PID]
//                    [--auth JSON] [--stall D]
//   node load.js pub --url U --pubs P --events E --rate R [--size B]
//                    [--auth JSON]
//   node load.js idle --url U --conns N --hold S --pid PID
//                    [--transports websocket|polling,websocket]
//
// sub connects N websocket clients to the main namespace, prints "ready" on
// stderr once all are connected, and counts, per subscriber and publisher,
// the numbered events "m" it gets: lost, duplicates, reordered, and the
// latency from the send time in the payload (performance.timeOrigin +
// performance.now(), in ms, comparable across processes on one machine).
// It ends when all N*P*E arrived or nothing arrived for --stall (10s), and
// prints one JSON line with sio-load flow's field names: deliveries_per_s
// is counted from the first send (the due time of the earliest event) to
// the last delivery. generator_cpu_s is its own CPU time from its first
// delivery to its end (process.cpuUsage), generator_cores that over the same
// wall time: about 1 means the generator, not the server, was the bound.
// With --pid, server_cpu_s is that process's CPU from "ready" to the end.
//
// pub connects P clients and emits E events "m" each at R per second per
// publisher: the client buffers without back-pressure, so a rate is needed.
// Each event carries the time it was due, not the time it went out, so a
// publisher that falls behind shows in the latency. The last event of each
// publisher asks for an ack, so that everything was written before it
// exits; then it prints one JSON line: sent, seconds (first due time to the
// last ack), generator_cpu_s and generator_cores over those seconds.
//
// idle connects N clients (--transports: websocket alone, the default, or
// the official client's default, long-polling then an upgrade to
// websocket), 50 in flight at once, holds them --hold seconds, and prints
// sio-load idle's JSON line: the server's RSS before and after (from
// /proc/PID/status), per connection, and the connections lost.
//
// The payload is one string of --size bytes (100) as the frame goes out:
// "PUB SEQ SENT_MS xxx...". Exit 0; 1 when a connection is lost or an ack
// does not come within 30 s; 2 on bad arguments; 3 when a client cannot
// connect within 15 s.
"use strict";
const { parseArgs } = require("node:util");
const { readFileSync } = require("node:fs");
const { performance } = require("node:perf_hooks");
const { io } = require("socket.io-client");

function usage(msg) {
  process.stderr.write(`load.js: ${msg}\nusage: node load.js sub|pub --url U --pubs P --events E [--subs N] [--rate R]\n`);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      url: { type: "string", default: "http://127.0.0.1:31979" },
      subs: { type: "string", default: "1" },
      pubs: { type: "string", default: "1" },
      events: { type: "string", default: "1000" },
      rate: { type: "string", default: "1000" },
      size: { type: "string", default: "100" },
      pid: { type: "string", default: "0" },
      auth: { type: "string", default: "" },
      stall: { type: "string", default: "10" }, // seconds
      conns: { type: "string", default: "2000" },
      hold: { type: "string", default: "30" }, // seconds
      transports: { type: "string", default: "websocket" },
    },
  });
} catch (err) {
  usage(err.message);
}
const { values: opt, positionals } = parsed;
const role = positionals[0];
const num = (k) => {
  const v = Number(opt[k]);
  if (!Number.isFinite(v) || v < 0) usage(`invalid --${k} ${opt[k]}`);
  return v;
};
const subs = num("subs");
const pubs = num("pubs");
const events = num("events");
const rate = num("rate");
const size = num("size");
const pid = num("pid");
const stallMs = num("stall") * 1000;
let auth;
if (opt.auth !== "") {
  try {
    auth = JSON.parse(opt.auth);
  } catch (err) {
    usage(`invalid --auth: ${err.message}`);
  }
}

const now = () => performance.timeOrigin + performance.now(); // ms since the epoch
const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const fail = (code, msg) => {
  process.stderr.write(`load.js ${role}: ${msg}\n`);
  process.exit(code);
};

// connect makes n clients, each on its own connection (forceNew: the client
// would otherwise share one Manager per URL), and resolves once all are in.
function connect(n, setup) {
  const timer = setTimeout(() => fail(3, `not all ${n} clients connected within 15s`), 15000);
  const sockets = [];
  const connected = [];
  for (let i = 0; i < n; i++) {
    const socket = io(opt.url, { transports: opt.transports.split(","), reconnection: false, forceNew: true, auth });
    if (setup) setup(socket, i);
    sockets.push(socket);
    connected.push(
      new Promise((resolve) => {
        socket.once("connect", resolve);
        socket.once("connect_error", (err) => fail(3, `connect ${opt.url}: ${err.message}`));
      }),
    );
  }
  return Promise.all(connected).then(() => {
    clearTimeout(timer);
    for (const s of sockets) s.on("disconnect", (reason) => done || fail(1, `disconnected: ${reason}`));
    return sockets;
  });
}
let done = false;

// serverCPU: utime + stime of pid in seconds (clock ticks of 1/100 s, as
// on every Linux), or NaN.
function serverCPU() {
  if (!pid) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

const round = (x, d) => Math.round(x * 10 ** d) / 10 ** d;

function sub() {
  const total = subs * pubs * events;
  // seen[(sub*pubs + pub)*events + seq]: that subscriber got that event.
  const seen = new Uint8Array(total);
  const maxSeq = new Int32Array(subs * pubs).fill(-1);
  const lat = new Float64Array(total);
  let nlat = 0;
  let received = 0; // distinct valid deliveries
  let duplicates = 0;
  let reordered = 0;
  let invalid = 0;
  let first = Infinity; // earliest send time seen
  let last = 0; // latest delivery
  let firstAt = 0; // time and CPU at the first delivery
  let cpuFirst = 0;
  let progressAt = 0;
  let srv0 = NaN;

  const finish = (stalled) => {
    done = true;
    const cpu = nlat > 0 ? cpuSeconds() - cpuFirst : 0;
    const wall = nlat > 0 ? (now() - firstAt) / 1000 : 0;
    const srv = serverCPU() - srv0;
    const sorted = lat.subarray(0, nlat).sort();
    const seconds = last > first ? (last - first) / 1000 : 0;
    const res = {
      generator: "node",
      expected: total,
      deliveries: received,
      seconds: round(seconds, 4),
      deliveries_per_s: round(seconds > 0 ? received / seconds : 0, 1),
      p50_ms: round(percentile(sorted, 50), 3),
      p99_ms: round(percentile(sorted, 99), 3),
      max_ms: round(nlat > 0 ? sorted[nlat - 1] : 0, 3),
      server_cpu_s: Number.isNaN(srv) ? 0 : round(srv, 2),
      lost: total - received,
      duplicates,
      reordered,
      invalid,
      stalled,
      generator_cpu_s: round(cpu, 3),
      generator_cores: round(wall > 0 ? cpu / wall : 0, 3),
    };
    process.stdout.write(JSON.stringify(res) + "\n", () => process.exit(0));
  };

  const onEvent = (s, str) => {
    const t = now();
    if (nlat === 0) {
      firstAt = t;
      cpuFirst = cpuSeconds();
    }
    last = t;
    progressAt = t;
    const a = typeof str === "string" ? str.indexOf(" ") : -1;
    const b = a < 0 ? -1 : str.indexOf(" ", a + 1);
    const c = b < 0 ? -1 : str.indexOf(" ", b + 1);
    const p = a < 0 ? NaN : Number(str.slice(0, a));
    const q = b < 0 ? NaN : Number(str.slice(a + 1, b));
    const ts = c < 0 ? NaN : Number(str.slice(b + 1, c));
    if (!Number.isInteger(p) || !Number.isInteger(q) || p < 0 || p >= pubs || q < 0 || q >= events || !(ts > 0)) {
      invalid++;
      return;
    }
    const k = s * pubs + p;
    const i = k * events + q;
    if (seen[i]) {
      duplicates++;
      return;
    }
    seen[i] = 1;
    if (q < maxSeq[k]) reordered++;
    else maxSeq[k] = q;
    lat[nlat++] = t - ts;
    if (ts < first) first = ts;
    if (++received === total) finish(false);
  };

  connect(subs, (socket, s) => socket.on("m", (str) => onEvent(s, str))).then(() => {
    srv0 = serverCPU();
    progressAt = now();
    process.stderr.write("ready\n");
    setInterval(() => {
      if (!done && now() - progressAt > stallMs) finish(true);
    }, 100);
  });
}

function pub() {
  const pad = "x".repeat(size);
  const interval = 1000 / rate; // ms
  connect(pubs).then((sockets) => {
    const start = now();
    const cpu0 = cpuSeconds();
    const next = new Array(pubs).fill(0);
    let acked = 0;
    const onAck = (err) => {
      if (err) fail(1, `no ack within 30s`);
      if (++acked < pubs) return;
      done = true;
      const seconds = (now() - start) / 1000;
      const cpu = cpuSeconds() - cpu0;
      const res = {
        generator: "node",
        sent: pubs * events,
        seconds: round(seconds, 4),
        generator_cpu_s: round(cpu, 3),
        generator_cores: round(seconds > 0 ? cpu / seconds : 0, 3),
      };
      for (const s of sockets) s.disconnect();
      process.stdout.write(JSON.stringify(res) + "\n", () => process.exit(0));
    };
    // Every tick sends what has fallen due, for each publisher.
    const tick = () => {
      const t = now();
      let due = Infinity;
      for (let p = 0; p < pubs; p++) {
        for (let q = next[p]; q < events; q = ++next[p]) {
          const at = start + q * interval;
          if (at > t) break;
          let body = `${p} ${q} ${at.toFixed(3)} `;
          body += pad.slice(0, Math.max(0, size - 10 - body.length)); // 42["m","..."]
          if (q === events - 1) sockets[p].timeout(30000).emit("m", body, onAck);
          else sockets[p].emit("m", body);
        }
        if (next[p] < events) due = Math.min(due, start + next[p] * interval);
      }
      if (due < Infinity) setTimeout(tick, Math.max(0, due - now()));
    };
    tick();
  });
}

// rssKB: the VmRSS of pid in KB, or NaN.
function rssKB() {
  try {
    const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+)/m);
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

async function idle() {
  const n = num("conns");
  const holdMs = num("hold") * 1000;
  const before = rssKB();
  const start = now();
  const sockets = [];
  let lost = 0;
  for (let i = 0; i < n; i += 50) {
    // 50 in flight at once, as sio-load idle
    const batch = await connect(Math.min(50, n - i));
    sockets.push(...batch);
  }
  done = true; // a disconnect counts as lost, not as a failure
  for (const s of sockets) s.on("disconnect", () => lost++);
  const connectS = (now() - start) / 1000;
  const upgraded = sockets.filter((s) => s.io.engine.transport.name === "websocket").length;
  await new Promise((r) => setTimeout(r, holdMs));
  const after = rssKB();
  const res = {
    generator: "node",
    transports: opt.transports,
    conns: n,
    failed: 0,
    conns_lost: lost,
    on_websocket: upgraded,
    connect_s: round(connectS, 3),
    rss_before_kb: before,
    rss_after_kb: after,
    rss_kb_per_conn: round(n - lost > 0 ? (after - before) / (n - lost) : 0, 3),
  };
  for (const s of sockets) s.disconnect();
  process.stdout.write(JSON.stringify(res) + "\n", () => process.exit(0));
}

if (role === "sub") sub();
else if (role === "pub") pub();
else if (role === "idle") idle();
else usage(`want a role, sub, pub or idle, not ${role === undefined ? "nothing" : JSON.stringify(role)}`);
