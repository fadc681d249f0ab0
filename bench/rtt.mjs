// The request round trip a Node client sees: one ApiVersions v3 request at a time on one
// connection (the same client as bench:compare's rtt-apiversions scenario).
//
//   node bench/rtt.mjs HOST:PORT [count]     against a broker (Sluice or Kafka)
//   node bench/rtt.mjs --echo-floor [count]  against a trivial echo server in another process
//                                            (reads a frame, writes 9 bytes): the floor that the
//                                            client and loopback alone set
import { fork } from "node:child_process";
import { connect, createServer } from "node:net";

function apiVersionsRequest(id) {
  const clientId = Buffer.from("rtt");
  const header = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 1);
  let at = header.writeInt16BE(18, 0);
  at = header.writeInt16BE(3, at);
  at = header.writeInt32BE(id, at);
  at = header.writeInt16BE(clientId.length, at);
  at += clientId.copy(header, at);
  header[at] = 0;
  const body = Buffer.from([4, ...Buffer.from("rtt"), 2, ...Buffer.from("1"), 0]);
  const size = Buffer.alloc(4);
  size.writeInt32BE(header.length + body.length);
  return Buffer.concat([size, header, body]);
}

async function roundTrips(host, port, count) {
  const socket = connect({ host, port });
  socket.setNoDelay(true);
  await new Promise((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  let pending = Buffer.alloc(0);
  let answered = null;
  socket.on("data", (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    if (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
      pending = pending.subarray(4 + pending.readInt32BE(0));
      const done = answered;
      answered = null;
      done?.();
    }
  });
  const micros = [];
  for (let i = 0; i < count; i++) {
    const request = apiVersionsRequest(i);
    const started = process.hrtime.bigint();
    await new Promise((resolve) => {
      answered = resolve;
      socket.write(request);
    });
    micros.push(Number(process.hrtime.bigint() - started) / 1000);
  }
  socket.destroy();
  micros.sort((a, b) => a - b);
  const at = (q) => micros[Math.min(micros.length - 1, Math.floor(micros.length * q))];
  return { avg: micros.reduce((sum, v) => sum + v, 0) / micros.length, p50: at(0.5), p99: at(0.99) };
}

function echoServer() {
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    let buffered = Buffer.alloc(0);
    socket.on("data", (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
        const size = buffered.readInt32BE(0);
        const answer = Buffer.alloc(9);
        answer.writeInt32BE(5, 0);
        buffered.copy(answer, 4, 8, 12); // the correlation id
        buffered = buffered.subarray(4 + size);
        socket.write(answer);
      }
    });
  });
  server.listen(0, "127.0.0.1", () => process.send?.(server.address().port));
}

const print = (what, r) => console.log(`${what}: round trip avg ${r.avg.toFixed(1)} µs, p50 ${r.p50.toFixed(1)} µs, p99 ${r.p99.toFixed(1)} µs`);

if (process.argv[2] === "--serve-echo") {
  echoServer();
} else if (process.argv[2] === "--echo-floor") {
  const child = fork(new URL(import.meta.url).pathname, ["--serve-echo"]);
  const port = await new Promise((resolve) => child.once("message", resolve));
  print("echo server", await roundTrips("127.0.0.1", port, Number(process.argv[3] ?? 20000)));
  child.kill();
} else if (process.argv[2]) {
  const [host, port] = process.argv[2].split(":");
  print(process.argv[2], await roundTrips(host, Number(port), Number(process.argv[3] ?? 20000)));
} else {
  console.error("usage: node bench/rtt.mjs HOST:PORT [count] | --echo-floor [count]");
  process.exit(2);
}
