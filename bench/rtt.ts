// The request round trip a Node client sees: one ApiVersions v3 request at a time on one
// connection (the client of bench:compare's rtt-apiversions scenario, harness.ts roundTrips).
//
//   npx tsx bench/rtt.ts HOST:PORT [count]     against a broker (Sluice or Kafka)
//   npx tsx bench/rtt.ts --echo-floor [count]  against a trivial echo server in another process
//                                              (reads a frame, writes 9 bytes): the floor that
//                                              the client and loopback alone set
import { fork } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { roundTrips } from "./harness.js";

function echoServer(): void {
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    let buffered: Buffer = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
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
  server.listen(0, "127.0.0.1", () => {
    const address = server.address();
    process.send?.(typeof address === "object" && address !== null ? address.port : 0);
  });
}

async function report(what: string, host: string, port: number, count: number): Promise<void> {
  const micros: number[] = [];
  await roundTrips(host, port, count, micros);
  micros.sort((a, b) => a - b);
  const at = (q: number) => (micros[Math.min(micros.length - 1, Math.floor(micros.length * q))] as number).toFixed(1);
  const avg = micros.reduce((sum, v) => sum + v, 0) / micros.length;
  process.stdout.write(`${what}: round trip avg ${avg.toFixed(1)} µs, p50 ${at(0.5)} µs, p99 ${at(0.99)} µs\n`);
}

const [mode, countText] = process.argv.slice(2);
const count = Number(countText ?? 20_000);
if (mode === "--serve-echo") {
  echoServer();
} else if (mode === "--echo-floor") {
  const child = fork(fileURLToPath(import.meta.url), ["--serve-echo"]);
  const port = await new Promise<number>((resolve) => child.once("message", (message) => resolve(Number(message))));
  await report("echo server", "127.0.0.1", port, count);
  child.kill();
} else if (mode !== undefined) {
  const [host, port] = mode.split(":");
  await report(mode, host as string, Number(port), count);
} else {
  process.stderr.write("usage: npx tsx bench/rtt.ts HOST:PORT [count] | --echo-floor [count]\n");
  process.exit(2);
}
