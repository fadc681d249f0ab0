// CRC32C of a 16 KiB buffer (a typical produce batch) through the native addon, with a
// table-driven JavaScript CRC32C as the baseline that the addon has to beat.
//
// Run: npx tsx bench/crc32c.bench.ts (after `npm run build:native`).

import { Bench } from "tinybench";
import { crc32c } from "../src/native.js";

const BUFFER_BYTES = 16 * 1024;
const CASTAGNOLI_REFLECTED = 0x82f63b78;

const table = new Uint32Array(256);
for (let index = 0; index < 256; index++) {
  let crc = index;
  for (let bit = 0; bit < 8; bit++) {
    crc = crc & 1 ? (crc >>> 1) ^ CASTAGNOLI_REFLECTED : crc >>> 1;
  }
  table[index] = crc;
}

function crc32cJavaScript(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let index = 0; index < bytes.length; index++) {
    crc = table[(crc ^ bytes[index]) & 0xff] ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

const buffer = Buffer.alloc(BUFFER_BYTES);
for (let index = 0; index < BUFFER_BYTES; index++) {
  buffer[index] = (index * 31 + 7) & 0xff;
}
if (crc32c(buffer) !== crc32cJavaScript(buffer)) {
  throw new Error("native and JavaScript CRC32C disagree; the benchmark would be meaningless");
}

const bench = new Bench({ time: 2_000, warmupTime: 500 });
bench
  // Returning the checksum keeps the call from being optimised away.
  .add("crc32c 16 KiB, native addon", () => crc32c(buffer))
  .add("crc32c 16 KiB, JavaScript table", () => crc32cJavaScript(buffer));
await bench.run();

for (const task of bench.tasks) {
  const result = task.result;
  if (result.state !== "completed") {
    throw new Error(`${task.name}: ${result.state}`);
  }
  const operationsPerSecond = result.throughput.mean;
  const megabytesPerSecond = (operationsPerSecond * BUFFER_BYTES) / 1e6;
  console.log(
    `${task.name.padEnd(34)} ${Math.round(operationsPerSecond).toLocaleString("en-US").padStart(12)} ops/s` +
      ` ${Math.round(megabytesPerSecond).toLocaleString("en-US").padStart(8)} MB/s` +
      ` ±${result.throughput.rme.toFixed(2)}%`,
  );
}
