// Decoding record sets in tests: what a Fetch response or a log read returns, as records.

import { crc32c, recompressBatch } from "../../src/native.js";
import { batches, decodeRecords, type KafkaRecord } from "../../src/protocol/records.js";

/** Every record of a record set, compressed batches decompressed; throws on a batch whose CRC is wrong. */
export function recordsOf(bytes: Buffer | null): KafkaRecord[] {
  if (bytes === null || bytes.length === 0) return [];
  const found: KafkaRecord[] = [];
  for (const batch of batches(bytes)) {
    if (!batch.isCrcValid(crc32c)) throw new Error(`batch at offset ${batch.baseOffset} has a bad CRC`);
    const plain = batch.compressionName === "none" ? batch : [...batches(recompressBatch(bytes.subarray(batch.position, batch.end), "none"))][0];
    found.push(...decodeRecords(plain));
  }
  return found;
}
