// Small helpers shared by the generated codecs (src/protocol/generated/).

import type { Reader, TaggedField } from "./reader.js";
import { Writer } from "./writer.js";

/** Kafka's Uuid.ZERO_UUID as printed by Uuid.toString(). */
export const ZERO_UUID = "AAAAAAAAAAAAAAAAAAAAAA";

/** Structural equality used for Kafka's "is this struct at its default?" checks. */
export function isDeepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  if (Buffer.isBuffer(a) || a instanceof Uint8Array) {
    return b instanceof Uint8Array && Buffer.compare(a as Uint8Array, b) === 0;
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!isDeepEqual(a[i], b[i])) return false;
    return true;
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(left), ...Object.keys(right)]);
  for (const key of keys) {
    if (key === "unknownTaggedFields") {
      const l = (left[key] as TaggedField[] | undefined) ?? [];
      const r = (right[key] as TaggedField[] | undefined) ?? [];
      if (!isDeepEqual(l, r)) return false;
    } else if (!isDeepEqual(left[key], right[key])) {
      return false;
    }
  }
  return true;
}

/** Encodes a tagged field's value into its own buffer, so its size can precede it. */
export function encodeTaggedValue(write: (w: Writer) => void): Buffer {
  const scratch = new Writer(64);
  write(scratch);
  return scratch.finish();
}

export function writeTaggedField(w: Writer, tag: number, value: Buffer): void {
  w.unsignedVarint(tag);
  w.unsignedVarint(value.length);
  w.raw(value);
}

/** Writes the unknown tagged fields whose tag is below `beforeTag`, from index `from`; returns the next index. */
export function writeUnknownTaggedFields(w: Writer, fields: TaggedField[] | undefined, from: number, beforeTag: number): number {
  if (fields === undefined) return from;
  let i = from;
  while (i < fields.length && fields[i].tag < beforeTag) {
    writeTaggedField(w, fields[i].tag, fields[i].data);
    i++;
  }
  return i;
}

/** Kafka's default for a bytes field. Shared and never written to. */
export const EMPTY_BYTES: Buffer = Buffer.alloc(0);

/**
 * Reads a bytes/records body whose length was already read (-1 = null). Records and zero-copy
 * fields are slices of the frame; other bytes are copied because they may outlive it.
 */
export function readBytes(r: Reader, length: number, take: "slice" | "copy"): Buffer | null {
  if (length < 0) return null;
  return take === "slice" ? r.slice(length) : r.copy(length);
}
