// args.js: does an emit with several arguments, nested objects, binary and
// an ack callback cross a relay intact? For interop tests.
//
//   node scripts/peers/args.js URL [RECEIVER_URL]
//
// Connects two socket.io-client 4 clients to URL (websocket, each its own
// connection), or the receiver to RECEIVER_URL (another node of a cluster). When both are connected the sender emits "rich" with the
// arguments below and an ack callback; the receiver compares what arrived
// with what was sent (assert.deepStrictEqual: same values, Buffers as
// Buffers; object key order is not compared). Prints, one line each:
//   received JSON   what arrived, Buffers as {"$Buffer":"hex"}, keys in
//                   the order they arrived
//   equal true      or "equal false: <the difference>"
//   ack JSON        the arguments the sender's ack callback got
// Exits 0 once the event arrived and the ack was called, 1 after 20 s.
"use strict";
const assert = require("node:assert");
const { io } = require("socket.io-client");

const url = process.argv[2] || "http://127.0.0.1:31979";
const receiverURL = process.argv[3] || url;
const sent = [
  "text ü 😀",
  42,
  1.5,
  true,
  null,
  { z: 1, a: { deep: [1, "two", { three: 3 }], empty: {} }, list: [] },
  Buffer.from([0, 1, 2, 253, 254, 255]),
  { name: "file", bin: Buffer.from("hello"), more: [Buffer.alloc(0), { b: Buffer.from([7]) }] },
  ["x", ["y", ["z"]]],
];

// describe is JSON with Buffers (and other binary) made visible.
function describe(v) {
  return JSON.stringify(v, function (k, x) {
    const raw = this[k]; // before Buffer.prototype.toJSON
    if (Buffer.isBuffer(raw)) return { $Buffer: raw.toString("hex") };
    if (raw instanceof ArrayBuffer) return { $ArrayBuffer: Buffer.from(raw).toString("hex") };
    if (ArrayBuffer.isView(raw)) return { [`$${raw.constructor.name}`]: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("hex") };
    return x;
  });
}

const opts = { transports: ["websocket"], forceNew: true };
const receiver = io(receiverURL, opts);
const sender = io(url, opts);
let got = 0;
const finish = () => ++got === 2 && process.exit(0);
setTimeout(() => {
  process.stderr.write("args.js: timed out\n");
  process.exit(1);
}, 20000);

receiver.on("rich", (...args) => {
  console.log(`received ${describe(args)}`);
  try {
    assert.deepStrictEqual(args, sent);
    console.log("equal true");
  } catch (e) {
    console.log(`equal false: ${e.message.replace(/\n/g, " ")}`);
  }
  finish();
});

let connected = 0;
for (const s of [receiver, sender]) {
  s.on("connect", () => {
    if (++connected < 2) return;
    sender.emit("rich", ...sent, (...ack) => {
      console.log(`ack ${describe(ack)}`);
      finish();
    });
  });
}
