// sub.js: a Node socket.io-client 4 subscriber for interop tests and
// benchmarks.
//
//   node scripts/peers/sub.js URL [-e EVENT] [-C COUNT]
//
// The URL's path is the namespace and its query is sent as is (?room=r1).
// Prints one line per event (every event, or only EVENT): its first
// argument, a string as is, anything else as JSON. Writes "connected" on
// stderr once connected; exits 0 after COUNT events. Websocket transport.
"use strict";
const { parseArgs } = require("node:util");
const { io } = require("socket.io-client");

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    event: { type: "string", short: "e" },
    count: { type: "string", short: "C" },
  },
});
const url = positionals[0] || "http://127.0.0.1:31979";
const count = opt.count ? Number(opt.count) : Infinity;

const socket = io(url, { transports: ["websocket"] });
let seen = 0;
socket.on("connect", () => process.stderr.write("connected\n"));
socket.on("connect_error", (err) => process.stderr.write(`connect_error: ${err.message}\n`));
socket.onAny((event, ...args) => {
  if (opt.event !== undefined && event !== opt.event) return;
  const v = args[0];
  // stdout to a pipe or file is written synchronously on Linux: in order.
  process.stdout.write((typeof v === "string" ? v : JSON.stringify(v)) + "\n");
  if (++seen >= count) {
    socket.close();
    process.exit(0);
  }
});
