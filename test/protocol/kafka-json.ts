// Comparing a decoded message with Kafka's JSON for it (the vector files of test/vectors/out/):
// int64 as decimal strings, bytes as base64. Used by vectors.test.ts and coordinator-records.test.ts.

/** Compares a decoded value with Kafka's JSON for it; pushes a description of each difference. */
export function compare(decoded: unknown, kafka: unknown, path: string, problems: string[]): void {
  if (problems.length > 20) return;
  if (kafka === null || decoded === null) {
    if (kafka !== decoded) problems.push(`${path}: decoded ${show(decoded)}, Kafka has ${show(kafka)}`);
    return;
  }
  if (Array.isArray(kafka)) {
    if (!Array.isArray(decoded) || decoded.length !== kafka.length) {
      problems.push(`${path}: decoded array of ${Array.isArray(decoded) ? decoded.length : "?"}, Kafka has ${kafka.length}`);
      return;
    }
    for (let i = 0; i < kafka.length; i++) compare(decoded[i], kafka[i], `${path}[${i}]`, problems);
    return;
  }
  if (typeof kafka === "object") {
    if (typeof decoded !== "object" || Buffer.isBuffer(decoded)) {
      problems.push(`${path}: decoded ${show(decoded)}, Kafka has an object`);
      return;
    }
    const record = decoded as Record<string, unknown>;
    for (const [key, value] of Object.entries(kafka as Record<string, unknown>)) {
      if (!(key in record)) {
        problems.push(`${path}.${key}: Kafka has this field, the codec does not`);
        continue;
      }
      compare(record[key], value, `${path}.${key}`, problems);
    }
    return;
  }
  let mine: unknown = decoded;
  if (typeof decoded === "bigint") mine = decoded.toString();
  else if (Buffer.isBuffer(decoded)) mine = decoded.toString("base64");
  else if (typeof decoded === "number" && typeof kafka === "string") mine = String(decoded);
  if (mine !== kafka) problems.push(`${path}: decoded ${show(mine)}, Kafka has ${show(kafka)}`);
}

function show(value: unknown): string {
  const text = typeof value === "bigint" ? `${value}n` : Buffer.isBuffer(value) ? `<${value.length} bytes>` : JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
