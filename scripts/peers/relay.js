// relay.js: the reference relay, the official Node socket.io 4 server doing
// what sio-serve does, for interop tests and benchmarks.
//
//   node scripts/peers/relay.js [--host H] [--port P] [--max-bytes N]
//                               [--redis redis://HOST:PORT/DB |
//                                --redis-streams redis://HOST:PORT/DB] [-v]
//                               [--ping-interval D] [--ping-timeout D]
//                               [--connect-timeout D]
//
// With --redis it joins a cluster through @socket.io/redis-adapter (the
// classic pub/sub adapter), as sio-serve --redis does; with --redis-streams
// through @socket.io/redis-streams-adapter (one node-redis client, the
// adapter's defaults: stream "socket.io", about 10,000 entries kept), as
// sio-serve --redis-streams does. The two exclude each other (exit 2).
//
// Every namespace is accepted. An event a client emits goes to every other
// client of its namespace with its name and arguments unchanged; a client
// that connected with "room" (a name or a comma list) in its handshake auth
// or query joined those rooms and emits only to their other members. When
// the sender asked for an ack it is answered (with no arguments) after the
// broadcast. --port 0 picks a free port. When ready it prints one line on
// stderr: "relay.js: listening on http://HOST:PORT"; with -v also
// "relay.js: connect NS" and "relay.js: disconnect NS" per client.
// --ping-interval, --ping-timeout and --connect-timeout take Go-style
// durations (300ms, 1.5s, 25s, 1m) like sio-serve's flags and set the
// Server options pingInterval, pingTimeout and connectTimeout; left out,
// Node's defaults stay (25s, 20s, 45s). The protocol conformance tests
// (e2e/conformance_test.go) run it with the official test suites' timers.
// Needs NODE_PATH pointing at the project's node_modules (or run it from
// the repository, where require finds them).
"use strict";
const { parseArgs } = require("node:util");
const http = require("node:http");
const { Server } = require("socket.io");

const { values: opt } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "31979" },
    "max-bytes": { type: "string", default: "1000000" }, // socket.io's default
    redis: { type: "string", default: "" },
    "redis-streams": { type: "string", default: "" },
    verbose: { type: "boolean", short: "v", default: false },
    "ping-interval": { type: "string", default: "25s" }, // Node's defaults
    "ping-timeout": { type: "string", default: "20s" },
    "connect-timeout": { type: "string", default: "45s" },
  },
});

// millis parses a Go-style duration ("300ms", "1.5s", "1m30s") into
// milliseconds; anything else ends the program with exit 2, as a usage
// error does in sio-serve.
function millis(flag) {
  const units = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };
  const text = opt[flag];
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let ms = 0;
  let m;
  while (re.lastIndex < text.length && (m = re.exec(text)) !== null) ms += Number(m[1]) * units[m[2]];
  if (text === "" || re.lastIndex !== text.length || ms < 1) {
    process.stderr.write(`relay.js: invalid value "${text}" for --${flag}: want a duration of 1ms or more, like 300ms or 25s\n`);
    process.exit(2);
  }
  return Math.round(ms);
}

if (opt.redis !== "" && opt["redis-streams"] !== "") {
  process.stderr.write("relay.js: --redis and --redis-streams exclude each other: pick one adapter\n");
  process.exit(2);
}

const httpServer = http.createServer();
const io = new Server(httpServer, {
  maxHttpBufferSize: Number(opt["max-bytes"]),
  pingInterval: millis("ping-interval"),
  pingTimeout: millis("ping-timeout"),
  connectTimeout: millis("connect-timeout"),
  cors: { origin: "*" },
});

async function joinRedis(url) {
  const { createClient } = require("redis");
  const { createAdapter } = require("@socket.io/redis-adapter");
  const pub = createClient({ url });
  const sub = pub.duplicate();
  for (const c of [pub, sub]) c.on("error", (err) => process.stderr.write(`relay.js: redis: ${err.message}\n`));
  await Promise.all([pub.connect(), sub.connect()]);
  io.adapter(createAdapter(pub, sub));
}

// The streams adapter takes a single client: it duplicates it itself for
// its blocking XREAD.
async function joinRedisStreams(url) {
  const { createClient } = require("redis");
  const { createAdapter } = require("@socket.io/redis-streams-adapter");
  const client = createClient({ url });
  client.on("error", (err) => process.stderr.write(`relay.js: redis: ${err.message}\n`));
  await client.connect();
  io.adapter(createAdapter(client));
}

function rooms(socket) {
  const r = socket.handshake.auth?.room ?? socket.handshake.query?.room;
  if (typeof r !== "string" || r === "") return [];
  return r.split(",").filter((s) => s !== "");
}

function onConnection(socket) {
  const ns = socket.nsp.name;
  if (opt.verbose) {
    process.stderr.write(`relay.js: connect ${ns}\n`);
    socket.on("disconnect", (reason) => process.stderr.write(`relay.js: disconnect ${ns} (${reason})\n`));
  }
  const joined = rooms(socket);
  if (joined.length > 0) socket.join(joined);
  socket.onAny((event, ...args) => {
    // The ack callback, if any, is the last argument: never pass it on.
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    const to = joined.length > 0 ? socket.to(joined) : socket.broadcast;
    to.emit(event, ...args);
    if (ack) ack();
  });
}

// "/" is the main namespace; the regular expression covers every other one
// (both set up once the adapter is in place).

const adapterReady = opt.redis
  ? joinRedis(opt.redis)
  : opt["redis-streams"]
    ? joinRedisStreams(opt["redis-streams"])
    : Promise.resolve();
adapterReady.then(
  () => {
    // Namespaces made before the adapter would keep the in-memory one.
    io.on("connection", onConnection);
    io.of(/^\/.*/).on("connection", onConnection);
    httpServer.listen(Number(opt.port), opt.host, () => {
      const { address, port } = httpServer.address();
      process.stderr.write(`relay.js: listening on http://${address}:${port}\n`);
    });
  },
  (err) => {
    process.stderr.write(`relay.js: redis: ${err.message}\n`);
    process.exit(3);
  },
);

// Ctrl-C and SIGTERM: close the clients and exit 0.
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => io.close(() => process.exit(0)));
}
