// pub.js: a Node socket.io-client 4 publisher for interop tests and
// benchmarks.
//
//   node scripts/peers/pub.js URL [-e EVENT] [--ack last|all]
//
// Reads stdin and emits each line (without "\n" or "\r\n") as one string
// argument of EVENT (default "message"), in order, over websocket, once
// connected. It exits 0 only when every line was delivered: with --ack last
// (the default) it holds back the newest line and emits the last one with
// an ack (the connection keeps order, so that ack covers all before it);
// with --ack all every line asks for an ack. Exit 1 on a timeout or a lost
// connection, 3 if it cannot connect within 10 s.
"use strict";
const { parseArgs } = require("node:util");
const { io } = require("socket.io-client");

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    event: { type: "string", short: "e", default: "message" },
    ack: { type: "string", default: "last" },
  },
});
const url = positionals[0] || "http://127.0.0.1:31979";
const ackAll = opt.ack === "all";
const timeout = 30000; // ms to wait for an ack

const socket = io(url, { transports: ["websocket"], reconnection: false });
const fail = (code, msg) => {
  process.stderr.write(`pub.js: ${msg}\n`);
  process.exit(code);
};
const connectTimer = setTimeout(() => fail(3, "no connection within 10s"), 10000);
socket.on("connect_error", (err) => fail(3, `connect: ${err.message}`));
socket.on("disconnect", (reason) => fail(1, `disconnected: ${reason}`));

let sent = 0;
let acked = 0;
let held = null; // --ack last: the newest line, not sent yet
let eof = false;

function send(line, withAck) {
  sent++;
  if (!withAck) {
    socket.emit(opt.event, line);
    return;
  }
  socket.timeout(timeout).emit(opt.event, line, (err) => {
    if (err) fail(1, `no ack within ${timeout} ms: ${sent - acked} line(s) not confirmed`);
    acked++;
    done();
  });
}

function onLine(line) {
  if (ackAll) return send(line, true);
  if (held !== null) send(held, false);
  held = line;
}

function done() {
  if (!eof) return;
  if (held !== null) {
    const last = held;
    held = null;
    return send(last, true);
  }
  if (ackAll ? acked === sent : acked > 0 || sent === 0) {
    process.exit(0); // everything written was acked: nothing is queued
  }
}

socket.on("connect", () => {
  clearTimeout(connectTimer);
  // Read stdin only once connected: nothing is buffered before "connect".
  let rest = "";
  process.stdin.setEncoding("utf8"); // splits no UTF-8 sequence
  process.stdin.on("data", (chunk) => {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop();
    for (const p of parts) onLine(p.endsWith("\r") ? p.slice(0, -1) : p);
  });
  process.stdin.on("end", () => {
    if (rest !== "") onLine(rest.endsWith("\r") ? rest.slice(0, -1) : rest);
    eof = true;
    done();
  });
});
