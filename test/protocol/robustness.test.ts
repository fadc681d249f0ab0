// Hostile input: every request decoder gets 100,000 random or mutated byte strings, and every
// truncation of valid frames. Only the typed ProtocolDecodeError may come out (never a
// RangeError or TypeError from inside), and memory stays bounded: a length prefix that claims
// more than the frame holds is refused before anything is allocated.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeRequest, requestHeaderVersion } from "../../src/protocol/frame.js";
import { apiByKey, apis, headers } from "../../src/protocol/generated/index.js";
import { ProtocolDecodeError, Reader } from "../../src/protocol/reader.js";
import { Writer } from "../../src/protocol/writer.js";

const INPUTS_PER_DECODER = 100_000;
const messagesDir = join(import.meta.dirname, "../vectors/out/messages");

/** xorshift32: fast, seeded, reproducible. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
}

function validRequests(name: string): { version: number; bytes: Buffer }[] {
  const path = join(messagesDir, `${name}.jsonl`);
  if (!existsSync(path)) throw new Error(`no vectors at ${path}: run node scripts/vectors.mjs`);
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as { version: number; hex: string })
    .map((v) => ({ version: v.version, bytes: Buffer.from(v.hex, "hex") }));
}

/** Runs `decode`; returns a description of any error other than ProtocolDecodeError. */
function unexpectedError(decode: () => unknown): string | undefined {
  try {
    decode();
  } catch (error) {
    if (error instanceof ProtocolDecodeError) return undefined;
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
  return undefined;
}

describe("request decoders on hostile input", () => {
  const savedStackLimit = Error.stackTraceLimit;

  for (const api of apis) {
    it(`${api.name} request decoder raises only ProtocolDecodeError on ${INPUTS_PER_DECODER} random and mutated inputs`, () => {
      Error.stackTraceLimit = 0; // thrown errors are the common case here; stacks are pure cost
      try {
        const next = random(api.apiKey * 7919 + 1);
        const valid = validRequests(api.request.name);
        const problems: string[] = [];
        for (let i = 0; i < INPUTS_PER_DECODER && problems.length < 5; i++) {
          const version = api.minVersion + (next() % (api.maxVersion - api.minVersion + 1));
          let input: Buffer;
          if (i % 2 === 0 || valid.length === 0) {
            input = Buffer.allocUnsafe(next() % 96);
            for (let b = 0; b < input.length; b++) input[b] = next() & 0xff;
          } else {
            // Mutate a valid message: flip bytes, or plant huge lengths (0xff.. / 0x7f..).
            const source = valid[next() % valid.length];
            input = Buffer.from(source.bytes);
            if (input.length === 0) continue;
            const edits = 1 + (next() % 4);
            for (let e = 0; e < edits; e++) {
              const at = next() % input.length;
              const kind = next() % 3;
              if (kind === 0) input[at] = next() & 0xff;
              else if (kind === 1) input.fill(0xff, at, Math.min(input.length, at + 4));
              else input.fill(0x7f, at, Math.min(input.length, at + 1));
            }
          }
          const problem = unexpectedError(() => api.request.read(new Reader(input), version));
          if (problem !== undefined) problems.push(`v${version} input ${input.toString("hex").slice(0, 120)}: ${problem}`);
        }
        expect(problems).toEqual([]);
      } finally {
        Error.stackTraceLimit = savedStackLimit;
      }
    });
  }

  it("every truncation of valid request frames raises ProtocolDecodeError", () => {
    let frames = 0;
    let truncations = 0;
    const problems: string[] = [];
    for (const api of apis) {
      const byVersion = new Map<number, Buffer[]>();
      for (const v of validRequests(api.request.name)) {
        const list = byVersion.get(v.version) ?? [];
        if (list.length < 3 && v.bytes.length <= 2048) list.push(v.bytes);
        byVersion.set(v.version, list);
      }
      for (const [version, bodies] of byVersion) {
        for (const body of bodies) {
          const writer = new Writer();
          const headerVersion = requestHeaderVersion(api, version);
          headers.writeRequestHeader(
            writer,
            { requestApiKey: api.apiKey, requestApiVersion: version, correlationId: 7, clientId: "robustness", unknownTaggedFields: undefined },
            headerVersion,
          );
          writer.raw(body);
          const frame = writer.finish();
          expect(() => decodeRequest(frame)).not.toThrow();
          frames++;
          for (let length = 0; length < frame.length; length++) {
            truncations++;
            try {
              decodeRequest(frame.subarray(0, length));
              problems.push(`${api.name} v${version}: a ${length}-byte prefix of ${frame.length} decoded without error`);
            } catch (error) {
              if (!(error instanceof ProtocolDecodeError))
                problems.push(`${api.name} v${version} prefix ${length}: ${(error as Error).name}: ${(error as Error).message}`);
            }
            if (problems.length > 5) break;
          }
        }
      }
    }
    console.log(`robustness: ${truncations} truncations of ${frames} valid request frames, all refused with ProtocolDecodeError`);
    expect(problems).toEqual([]);
  });

  it("refuses a length prefix larger than the frame before allocating", () => {
    const metadata = apiByKey[3];
    if (metadata === undefined) throw new Error("no Metadata codec");
    const before = process.memoryUsage().rss;
    // A Metadata v12 body claiming 2^31-1 topics, then ClientId-style strings claiming 32 KB.
    for (let i = 0; i < 10_000; i++) {
      const frame = Buffer.from([0x7f, 0xff, 0xff, 0xff, 0x00]);
      expect(() => metadata.request.read(new Reader(frame), 4)).toThrow(ProtocolDecodeError);
      const compact = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x07, 0x00]);
      expect(() => metadata.request.read(new Reader(compact), 12)).toThrow(ProtocolDecodeError);
    }
    const grownBytes = process.memoryUsage().rss - before;
    expect(grownBytes).toBeLessThan(64 * 1024 * 1024);
  });
});
