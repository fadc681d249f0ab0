// Generates src/protocol/generated/ from Kafka's own JSON message specs, and
// src/coordinator/generated/ from Kafka 4.4.0's coordinator record specs (the key/value schemas of
// __consumer_offsets, __transaction_state and __share_group_state: 4.4.0/group-coordinator/,
// transaction-coordinator/, share-coordinator/), one file per record type (key + value), and
// src/cluster/kraft/generated/ from Kafka 4.4.0's KRaft metadata record specs (4.4.0/metadata/: the
// records of __cluster_metadata), one file per record type.
//
// Sources: ../shared/kafka-protocol/4.4.0/message/*.json first; for the versions that Kafka 4
// dropped (KIP-896) the 3.9.0 specs supply the definition. For a version 4.4.0 lists, its
// definition wins; 3.9.0 only adds versions 4.4.0 no longer lists. The two are merged field by
// field (same names; the fields 4.x removed are slotted back in at their 3.9.0 position,
// present only in the old versions).
//
//   tsx scripts/generate-protocol.ts           write the files
//   tsx scripts/generate-protocol.ts --check   fail if the committed files differ

import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const specRoot = resolve(root, "../shared/kafka-protocol");
const newDir = join(specRoot, "4.4.0/message");
const oldDir = join(specRoot, "3.9.0/message");
const outDir = join(root, "src/protocol/generated");
const coordinatorOutDir = join(root, "src/coordinator/generated");
/** Coordinator record specs: output subdirectory (one per internal topic) → spec directory. */
const coordinatorTopics: readonly { dir: string; specs: string; topic: string }[] = [
  { dir: "group", specs: join(specRoot, "4.4.0/group-coordinator"), topic: "__consumer_offsets" },
  { dir: "transaction", specs: join(specRoot, "4.4.0/transaction-coordinator"), topic: "__transaction_state" },
  { dir: "share", specs: join(specRoot, "4.4.0/share-coordinator"), topic: "__share_group_state" },
];
const metadataSpecDir = join(specRoot, "4.4.0/metadata");
const metadataOutDir = join(root, "src/cluster/kraft/generated");

// ---------------------------------------------------------------- spec loading

interface RawField {
  name: string;
  type: string;
  versions?: string; // absent on some tagged fields: they exist in their taggedVersions
  nullableVersions?: string;
  taggedVersions?: string;
  tag?: number;
  default?: unknown;
  ignorable?: boolean;
  zeroCopy?: boolean;
  about?: string;
  entityType?: string;
  flexibleVersions?: string;
  mapKey?: boolean;
  fields?: RawField[];
}

interface RawStruct {
  name: string;
  versions: string;
  fields: RawField[];
}

interface RawMessage {
  apiKey?: number;
  type: string;
  name: string;
  validVersions: string;
  flexibleVersions: string;
  listeners?: string[];
  latestVersionUnstable?: boolean;
  deprecatedVersions?: string;
  fields: RawField[];
  commonStructs?: RawStruct[];
}

/** Strips `//` comments outside strings, then parses. */
function loadSpec(path: string): RawMessage {
  const text = readFileSync(path, "utf8");
  let out = "";
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === "\\") out += text[++i];
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
      out += "\n";
    } else {
      out += c;
    }
  }
  return JSON.parse(out) as RawMessage;
}

function loadDir(dir: string): Map<string, RawMessage> {
  const specs = new Map<string, RawMessage>();
  for (const file of readdirSync(dir).sort()) {
    if (!file.endsWith(".json")) continue;
    const spec = loadSpec(join(dir, file));
    specs.set(spec.name, spec);
  }
  return specs;
}

/** "3+", "1-4", "2", "none" → the set of versions, open ranges capped at `max`. */
function parseVersions(spec: string | undefined, max: number): Set<number> {
  const set = new Set<number>();
  if (spec === undefined || spec === "none" || spec === "") return set;
  let low: number;
  let high: number;
  if (spec.endsWith("+")) {
    low = Number(spec.slice(0, -1));
    high = max;
  } else if (spec.includes("-")) {
    const [a, b] = spec.split("-");
    low = Number(a);
    high = Number(b);
  } else {
    low = high = Number(spec);
  }
  for (let v = low; v <= high; v++) set.add(v);
  return set;
}

function union(a: Set<number>, b: Set<number>): Set<number> {
  return new Set([...a, ...b]);
}

function intersect(a: Set<number>, b: Set<number>): Set<number> {
  return new Set([...a].filter((v) => b.has(v)));
}

// ---------------------------------------------------------------- merged model

interface Field {
  name: string;
  property: string;
  type: string;
  versions: Set<number>;
  nullableVersions: Set<number>;
  taggedVersions: Set<number>;
  tag: number | undefined;
  defaultValue: unknown;
  ignorable: boolean;
  zeroCopy: boolean;
  about: string;
  entityType: string | undefined;
  /** A field-level override of the message's flexible versions (RequestHeader.ClientId). */
  flexibleVersions: Set<number> | undefined;
  fields: Field[] | undefined;
}

interface Message {
  name: string;
  type: string;
  apiKey: number | undefined;
  validVersions: number[];
  flexibleVersions: Set<number>;
  listeners: string[];
  latestVersionUnstable: boolean;
  deprecatedVersions: string | undefined;
  fields: Field[];
  commonStructs: { name: string; fields: Field[] }[];
  /** Which release defined which versions, for the file header. */
  oldVersions: number[];
}

/** Kafka's camelCase for JSON and Java accessors: the spec name with its first letter lowered. */
function camelCase(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function convertField(raw: RawField, valid: Set<number>, max: number): Field {
  const flexible = raw.flexibleVersions === undefined ? undefined : intersect(parseVersions(raw.flexibleVersions, max), valid);
  return {
    name: raw.name,
    property: camelCase(raw.name),
    type: raw.type,
    // a tagged field may leave out "versions": it then exists in its tagged versions (StreamsGroupMetadataValue)
    versions: intersect(parseVersions(raw.versions ?? raw.taggedVersions, max), valid),
    nullableVersions: intersect(parseVersions(raw.nullableVersions, max), valid),
    taggedVersions: intersect(parseVersions(raw.taggedVersions, max), valid),
    tag: raw.tag,
    defaultValue: raw.default,
    ignorable: raw.ignorable === true,
    zeroCopy: raw.zeroCopy === true,
    about: raw.about ?? "",
    entityType: raw.entityType,
    flexibleVersions: flexible,
    fields: raw.fields?.map((f) => convertField(f, valid, max)),
  };
}

/** Adds the old (3.9.0-only) versions' definitions to fields converted from 4.4.0. */
function mergeFields(current: Field[], old: RawField[] | undefined, oldValid: Set<number>, max: number): Field[] {
  if (old === undefined || oldValid.size === 0) return current;
  const merged = [...current];
  let lastMatched = -1;
  for (const raw of old) {
    const index = merged.findIndex((f) => f.name === raw.name);
    if (index >= 0) {
      const field = merged[index];
      if (field.type !== raw.type) throw new Error(`field ${raw.name} changed type from ${raw.type} to ${field.type}`);
      field.versions = union(field.versions, intersect(parseVersions(raw.versions, max), oldValid));
      field.nullableVersions = union(field.nullableVersions, intersect(parseVersions(raw.nullableVersions, max), oldValid));
      field.taggedVersions = union(field.taggedVersions, intersect(parseVersions(raw.taggedVersions, max), oldValid));
      if (field.fields !== undefined) field.fields = mergeFields(field.fields, raw.fields, oldValid, max);
      if (index < lastMatched) throw new Error(`field ${raw.name} moved between releases`);
      lastMatched = index;
    } else {
      const field = convertField(raw, oldValid, max);
      if (field.versions.size === 0) continue;
      merged.splice(lastMatched + 1, 0, field);
      lastMatched++;
    }
  }
  return merged;
}

function mergeMessage(current: RawMessage, old: RawMessage | undefined): Message {
  const currentValid = parseVersions(current.validVersions, 1000);
  const max0 = Math.max(...currentValid);
  const oldAll = old === undefined ? new Set<number>() : parseVersions(old.validVersions, 1000);
  const oldValid = new Set([...oldAll].filter((v) => !currentValid.has(v)));
  const max = Math.max(max0, ...oldValid);
  const valid = union(currentValid, oldValid);
  const sorted = [...valid].sort((a, b) => a - b);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] !== sorted[i - 1] + 1) throw new Error(`${current.name}: versions are not contiguous`);
  }
  const flexible = union(
    intersect(parseVersions(current.flexibleVersions, max), currentValid),
    old === undefined ? new Set() : intersect(parseVersions(old.flexibleVersions, max), oldValid),
  );
  let fields = (current.fields ?? []).map((f) => convertField(f, currentValid, max));
  fields = mergeFields(fields, old?.fields, oldValid, max);
  const commonStructs = (current.commonStructs ?? []).map((s) => {
    let structFields = s.fields.map((f) => convertField(f, currentValid, max));
    const oldStruct = old?.commonStructs?.find((o) => o.name === s.name);
    structFields = mergeFields(structFields, oldStruct?.fields, oldValid, max);
    return { name: s.name, fields: structFields };
  });
  for (const o of old?.commonStructs ?? []) {
    if (!commonStructs.some((s) => s.name === o.name)) {
      commonStructs.push({ name: o.name, fields: o.fields.map((f) => convertField(f, oldValid, max)) });
    }
  }
  return {
    name: current.name,
    type: current.type,
    apiKey: current.apiKey,
    validVersions: sorted,
    flexibleVersions: flexible,
    listeners: current.listeners ?? [],
    latestVersionUnstable: current.latestVersionUnstable === true,
    deprecatedVersions: current.deprecatedVersions,
    fields,
    commonStructs,
    oldVersions: [...oldValid].sort((a, b) => a - b),
  };
}

// ---------------------------------------------------------------- types

const PRIMITIVES = new Set(["bool", "int8", "int16", "uint16", "int32", "uint32", "int64", "float64", "string", "uuid", "bytes", "records"]);

function elementType(type: string): string {
  return type.startsWith("[]") ? type.slice(2) : type;
}

function isArray(type: string): boolean {
  return type.startsWith("[]");
}

function isStruct(type: string): boolean {
  return !PRIMITIVES.has(elementType(type));
}

function primitiveTsType(type: string): string {
  switch (type) {
    case "bool":
      return "boolean";
    case "int64":
      return "bigint";
    case "string":
    case "uuid":
      return "string";
    case "bytes":
    case "records":
      return "Buffer";
    default:
      return "number";
  }
}

/** Whether a field can hold null in some version (or by default). */
function canBeNull(field: Field): boolean {
  return field.nullableVersions.size > 0 || field.defaultValue === "null";
}

// ---------------------------------------------------------------- code emission helpers

class Code {
  private lines: string[] = [];
  private depth = 0;
  line(text = ""): void {
    this.lines.push(text === "" ? "" : "  ".repeat(this.depth) + text);
  }
  open(text: string): void {
    this.line(text);
    this.depth++;
  }
  close(text = "}"): void {
    this.depth--;
    this.line(text);
  }
  toString(): string {
    return `${this.lines.join("\n")}\n`;
  }
}

/** A condition on `version` that holds exactly for `set`, given that version ∈ `context`. */
function versionCondition(set: Set<number>, context: Set<number>): string {
  const inContext = [...context].filter((v) => set.has(v));
  if (inContext.length === context.size) return "true";
  if (inContext.length === 0) return "false";
  const ctx = [...context].sort((a, b) => a - b);
  const ctxMin = ctx[0];
  const ctxMax = ctx[ctx.length - 1];
  const ranges: [number, number][] = [];
  for (const v of ctx) {
    if (!set.has(v)) continue;
    const last = ranges[ranges.length - 1];
    if (last !== undefined && last[1] === ctx[ctx.indexOf(v) - 1]) last[1] = v;
    else ranges.push([v, v]);
  }
  const parts = ranges.map(([low, high]) => {
    if (low === ctxMin) return `version <= ${high}`;
    if (high === ctxMax) return `version >= ${low}`;
    if (low === high) return `version === ${low}`;
    return `(version >= ${low} && version <= ${high})`;
  });
  return parts.join(" || ");
}

function describeVersions(set: Set<number>): string {
  const sorted = [...set].sort((a, b) => a - b);
  if (sorted.length === 0) return "none";
  const ranges: string[] = [];
  let start = sorted[0];
  let prev = sorted[0];
  for (const v of sorted.slice(1).concat([Number.NaN])) {
    if (v === prev + 1) {
      prev = v;
      continue;
    }
    ranges.push(start === prev ? `${start}` : `${start}-${prev}`);
    start = prev = v;
  }
  return ranges.join(", ");
}

// ---------------------------------------------------------------- per-message generation

interface StructDef {
  specName: string;
  tsName: string;
  fields: Field[];
  /** Versions in which this struct can appear. */
  versions: Set<number>;
  isTop: boolean;
}

class MessageGenerator {
  readonly structs = new Map<string, StructDef>();
  readonly code: Code;

  constructor(
    readonly message: Message,
    code: Code,
  ) {
    this.code = code;
    const all = new Set(message.validVersions);
    this.structs.set(message.name, { specName: message.name, tsName: message.name, fields: message.fields, versions: all, isTop: true });
    for (const s of message.commonStructs) {
      this.structs.set(s.name, { specName: s.name, tsName: message.name + s.name, fields: s.fields, versions: new Set(), isTop: false });
    }
    this.collect(message.fields, all);
  }

  /** Registers inline structs and the versions each struct is used in. */
  private collect(fields: Field[], context: Set<number>): void {
    for (const f of fields) {
      if (!isStruct(f.type)) continue;
      const name = elementType(f.type);
      const used = intersect(f.versions, context);
      if (f.fields !== undefined) {
        const existing = this.structs.get(name);
        if (existing !== undefined && existing.fields !== f.fields) throw new Error(`${this.message.name}: struct ${name} defined twice`);
        if (existing === undefined) {
          this.structs.set(name, { specName: name, tsName: this.message.name + name, fields: f.fields, versions: new Set(), isTop: false });
        }
      }
      const def = this.structs.get(name);
      if (def === undefined) throw new Error(`${this.message.name}: unknown struct type ${name}`);
      const before = def.versions.size;
      def.versions = union(def.versions, used);
      if (def.versions.size !== before || f.fields !== undefined) this.collect(def.fields, def.versions);
    }
  }

  tsType(field: Field): string {
    const element = elementType(field.type);
    const base = isStruct(element) ? this.struct(element).tsName : primitiveTsType(element);
    const full = isArray(field.type) ? `${base}[]` : base;
    return canBeNull(field) ? `${full} | null` : full;
  }

  struct(name: string): StructDef {
    const def = this.structs.get(name);
    if (def === undefined) throw new Error(`${this.message.name}: unknown struct ${name}`);
    return def;
  }

  // ---- defaults

  /** The default value of a field as a TypeScript expression. */
  defaultExpr(field: Field): string {
    const d = field.defaultValue;
    const element = elementType(field.type);
    if (d === "null") return "null";
    if (isArray(field.type)) return "[]";
    if (isStruct(element)) return `default${this.struct(element).tsName}()`;
    switch (element) {
      case "bool":
        return d === undefined ? "false" : String(d === true || d === "true");
      case "int64":
        return d === undefined ? "0n" : `${BigInt(String(d))}n`;
      case "string":
        return d === undefined ? '""' : JSON.stringify(String(d));
      case "uuid":
        return "ZERO_UUID";
      case "bytes":
        return "EMPTY_BYTES";
      case "records":
        return "null";
      default: {
        if (d === undefined) return "0";
        const text = String(d);
        const n = text.startsWith("0x") || text.startsWith("-0x") ? Number.parseInt(text, 16) : Number(text);
        if (!Number.isFinite(n)) throw new Error(`bad default ${text} for ${field.name}`);
        return String(n);
      }
    }
  }

  /** An expression that is true when `value` differs from the field's default. */
  notDefaultExpr(field: Field, value: string): string {
    const d = this.defaultExpr(field);
    const element = elementType(field.type);
    if (d === "null") return `${value} !== null`;
    if (isArray(field.type)) return `(${value} === null || ${value}.length !== 0)`;
    if (isStruct(element)) return `!isDeepEqual(${value}, ${d})`;
    if (element === "bytes") return `(${value} === null || ${value}.length !== 0)`;
    return `${value} !== ${d}`;
  }

  // ---- decode

  /** Statements that read one field value into `target` (a declared local). */
  readValue(field: Field, target: string, outer: Set<number>, flexible: "yes" | "no" | "dynamic", tagged = false): void {
    const c = this.code;
    const context = intersect(outer, field.versions);
    const fieldFlexible = this.fieldFlexibleMode(field, context, flexible);
    const nullable = versionCondition(field.nullableVersions, context);
    const element = elementType(field.type);
    const pick = (compact: string, classic: string): string => {
      if (fieldFlexible === "yes") return compact;
      if (fieldFlexible === "no") return classic;
      return `flexible ? ${compact} : ${classic}`;
    };
    if (isArray(field.type)) {
      // What each element costs the heap once decoded (Reader's budget): an object for a struct,
      // a slot (and a BigInt for int64) for a primitive; strings are charged as they are read.
      const elementCost = isStruct(element) ? "" : element === "int64" ? ", 32" : ", 8";
      c.line(`const ${target}Count = ${pick(`r.compactArrayLength(${nullable}${elementCost})`, `r.arrayLength(${nullable}${elementCost})`)};`);
      if (nullable !== "false") {
        c.open(`if (${target}Count < 0) {`);
        c.line(`${target} = null;`);
        c.close();
      }
      c.open(nullable !== "false" ? "else {" : "{");
      c.line(`const items: ${this.tsType({ ...field, nullableVersions: new Set(), defaultValue: undefined })} = [];`);
      c.open(`for (let i = 0; i < ${target}Count; i++) {`);
      if (isStruct(element)) {
        c.line(`items.push(read${this.struct(element).tsName}(r, version));`);
      } else {
        c.line(`items.push(${this.readPrimitive(element, "false", pick, field)});`);
      }
      c.close();
      c.line(`${target} = items;`);
      c.close();
      return;
    }
    if (isStruct(element)) {
      const read = `read${this.struct(element).tsName}(r, version)`;
      // a nullable struct's marker: int8 (-1 null, 1 present); inside a tagged field Kafka writes an
      // unsigned varint instead (0 null, 1 present) and reads anything > 0 as present
      const isNull = tagged ? "r.unsignedVarint() <= 0" : "r.int8() < 0";
      if (nullable === "false") c.line(`${target} = ${read};`);
      else if (nullable === "true") c.line(`${target} = ${isNull} ? null : ${read};`);
      else c.line(`${target} = ${nullable} && ${isNull} ? null : ${read};`);
      return;
    }
    c.line(`${target} = ${this.readPrimitive(element, nullable, pick, field)};`);
  }

  readPrimitive(type: string, nullable: string, pick: (compact: string, classic: string) => string, field: Field): string {
    const when = (expr: string, yes: string, no: string): string => (expr === "true" ? yes : expr === "false" ? no : `(${expr} ? ${yes} : ${no})`);
    switch (type) {
      case "bool":
        return "r.bool()";
      case "int8":
      case "int16":
      case "uint16":
      case "int32":
      case "uint32":
      case "int64":
      case "float64":
      case "uuid":
        return `r.${type}()`;
      case "string":
        return when(nullable, pick("r.compactNullableString()", "r.nullableString()"), pick("r.compactString()", "r.string()"));
      case "bytes":
      case "records": {
        const take = type === "records" || field.zeroCopy ? "slice" : "copy";
        const length = pick(`r.compactBytesLength(${nullable})`, `r.bytesLength(${nullable})`);
        if (nullable === "false") return `r.${take}(${length})`;
        return `readBytes(r, ${length}, "${take}")`;
      }
      default:
        throw new Error(`unknown type ${type}`);
    }
  }

  /** Compact or classic encoding for a field, given the versions it is being written in. */
  fieldFlexibleMode(field: Field, context: Set<number>, outer: "yes" | "no" | "dynamic"): "yes" | "no" | "dynamic" {
    if (field.flexibleVersions !== undefined) return this.flexibleMode(field.flexibleVersions, context);
    if (outer !== "dynamic") return outer;
    return this.flexibleMode(this.message.flexibleVersions, context);
  }

  flexibleMode(set: Set<number>, context: Set<number>): "yes" | "no" | "dynamic" {
    const condition = versionCondition(set, context);
    return condition === "true" ? "yes" : condition === "false" ? "no" : "dynamic";
  }

  emitRead(def: StructDef): void {
    const c = this.code;
    const m = this.message;
    const context = def.versions;
    const flexible = this.flexibleMode(m.flexibleVersions, context);
    const exported = def.isTop ? "export " : "";
    c.open(`${exported}function read${def.tsName}(r: Reader, version: number): ${def.tsName} {`);
    if (def.isTop) {
      c.line(
        `if (version < ${m.validVersions[0]} || version > ${m.validVersions[m.validVersions.length - 1]}) throw new ProtocolDecodeError(\`${m.name} version \${version} is not supported\`);`,
      );
    }
    if (flexible === "dynamic") c.line(`const flexible = ${versionCondition(m.flexibleVersions, context)};`);
    const locals: string[] = [];
    for (const f of def.fields) {
      const local = `f_${f.property}`;
      locals.push(local);
      c.line(`let ${local}: ${this.tsType(f)} = ${this.defaultExpr(f)};`);
    }
    for (const f of def.fields) {
      const present = versionCondition(f.versions, context);
      const tagged = versionCondition(f.taggedVersions, context);
      if (present === "false") continue;
      // A field that is tagged in every version it appears in is read in the tagged section only.
      const untagged = tagged === "false" ? present : tagged === "true" ? "false" : `(${present}) && !(${tagged})`;
      if (untagged === "false") continue;
      if (untagged === "true") {
        this.readValue(f, `f_${f.property}`, context, flexible);
      } else {
        c.open(`if (${untagged}) {`);
        this.readValue(f, `f_${f.property}`, context, flexible);
        c.close();
      }
    }
    c.line("let unknownTaggedFields: TaggedField[] | undefined;");
    if (flexible !== "no") {
      c.open(flexible === "yes" ? "{" : "if (flexible) {");
      c.line("const taggedCount = r.taggedFieldCount();");
      c.open("for (let t = 0; t < taggedCount; t++) {");
      c.line("const tag = r.unsignedVarint();");
      c.line("const size = r.taggedFieldSize();");
      const taggedFields = def.fields.filter((f) => f.tag !== undefined && f.taggedVersions.size > 0);
      if (taggedFields.length > 0) {
        c.line("const end = r.offset + size;");
        c.open("switch (tag) {");
        for (const f of taggedFields.sort((a, b) => (a.tag ?? 0) - (b.tag ?? 0))) {
          const when = versionCondition(f.taggedVersions, context);
          c.open(`case ${f.tag}: {`);
          if (when !== "true") c.open(`if (${when}) {`);
          this.readValue(f, `f_${f.property}`, context, "yes", true);
          c.line(`r.endTaggedField(end, ${f.tag});`);
          c.line("continue;");
          if (when !== "true") {
            c.close();
            c.line("break;");
          }
          c.close();
        }
        c.close();
      }
      c.line("unknownTaggedFields = r.unknownTaggedField(unknownTaggedFields, tag, size);");
      c.close();
      c.close();
    }
    c.open("return {");
    for (const f of def.fields) c.line(`${f.property}: f_${f.property},`);
    c.line("unknownTaggedFields,");
    c.close("};");
    c.close();
    c.line();
  }

  // ---- encode

  writeValue(field: Field, value: string, outer: Set<number>, flexible: "yes" | "no" | "dynamic", w = "w"): void {
    const c = this.code;
    const context = intersect(outer, field.versions);
    const fieldFlexible = this.fieldFlexibleMode(field, context, flexible);
    const nullable = versionCondition(field.nullableVersions, context);
    const element = elementType(field.type);
    const pick = (compact: string, classic: string): string => {
      if (fieldFlexible === "yes") return compact;
      if (fieldFlexible === "no") return classic;
      return `flexible ? ${compact} : ${classic}`;
    };
    const nullCheck = (): void => {
      if (!canBeNull(field)) return;
      if (nullable === "true") return;
      const guard = nullable === "false" ? `${value} === null` : `${value} === null && !(${nullable})`;
      c.line(`if (${guard}) throw new ProtocolEncodeError(\`non-nullable field ${field.property} was serialized as null at version \${version}\`);`);
    };
    if (isArray(field.type)) {
      nullCheck();
      if (canBeNull(field)) {
        c.open(`if (${value} === null) {`);
        c.line(`${pick(`${w}.unsignedVarint(0)`, `${w}.int32(-1)`)};`);
        c.close();
      }
      c.open(canBeNull(field) ? "else {" : "{");
      c.line(`${pick(`${w}.unsignedVarint(${value}.length + 1)`, `${w}.int32(${value}.length)`)};`);
      if (isStruct(element)) {
        c.line(`for (const item of ${value}) write${this.struct(element).tsName}(${w}, item, version);`);
      } else {
        c.open(`for (const item of ${value}) {`);
        this.writePrimitive(element, "item", pick, field, w);
        c.close();
      }
      c.close();
      return;
    }
    if (isStruct(element)) {
      const write = `write${this.struct(element).tsName}(${w}, ${value}, version)`;
      if (!canBeNull(field)) {
        c.line(`${write};`);
        return;
      }
      nullCheck();
      if (nullable === "false") {
        c.line(`${write.replace(`, ${value},`, `, ${value}!,`)};`);
        return;
      }
      const marker = nullable === "true" ? "" : `if (${nullable}) `;
      const tagged = w === "t"; // inside a tagged field (see readValue)
      c.open(`if (${value} === null) {`);
      c.line(`${marker}${w}.${tagged ? "unsignedVarint(0)" : "int8(-1)"};`);
      c.close();
      c.open("else {");
      c.line(`${marker}${w}.${tagged ? "unsignedVarint(1)" : "int8(1)"};`);
      c.line(`${write};`);
      c.close();
      return;
    }
    if (canBeNull(field)) nullCheck();
    this.writePrimitive(element, value, pick, field, w);
  }

  writePrimitive(type: string, value: string, pick: (compact: string, classic: string) => string, field: Field, w: string): void {
    const c = this.code;
    const name = JSON.stringify(field.property);
    const maybeNull = canBeNull(field) && !isArray(field.type);
    switch (type) {
      case "bool":
      case "int8":
      case "int16":
      case "uint16":
      case "int32":
      case "uint32":
      case "int64":
      case "float64":
      case "uuid":
        c.line(`${w}.${type}(${value});`);
        return;
      case "string":
        if (maybeNull) c.line(`${pick(`${w}.compactNullableString(${value}, ${name})`, `${w}.nullableString(${value}, ${name})`)};`);
        else c.line(`${pick(`${w}.compactString(${value}, ${name})`, `${w}.string(${value}, ${name})`)};`);
        return;
      case "bytes":
        c.line(`${pick(`${w}.compactBytes(${value})`, `${w}.bytes(${value})`)};`);
        return;
      case "records":
        c.line(`${pick(`${w}.compactRecords(${value})`, `${w}.records(${value})`)};`);
        return;
      default:
        throw new Error(`unknown type ${type}`);
    }
  }

  emitWrite(def: StructDef): void {
    const c = this.code;
    const m = this.message;
    const context = def.versions;
    const flexible = this.flexibleMode(m.flexibleVersions, context);
    const exported = def.isTop ? "export " : "";
    c.open(`${exported}function write${def.tsName}(w: Writer, m: ${def.tsName}, version: number): void {`);
    if (def.isTop) {
      c.line(
        `if (version < ${m.validVersions[0]} || version > ${m.validVersions[m.validVersions.length - 1]}) throw new ProtocolEncodeError(\`${m.name} version \${version} is not supported\`);`,
      );
    }
    if (flexible === "dynamic") c.line(`const flexible = ${versionCondition(m.flexibleVersions, context)};`);
    for (const f of def.fields) {
      const present = versionCondition(f.versions, context);
      const tagged = versionCondition(f.taggedVersions, context);
      const untagged = tagged === "false" ? present : tagged === "true" ? "false" : `(${present}) && !(${tagged})`;
      const value = `m.${f.property}`;
      const refuse = f.ignorable
        ? undefined
        : `if (${this.notDefaultExpr(f, value)}) throw new ProtocolEncodeError(\`Attempted to write a non-default ${f.property} at version \${version}\`);`;
      if (untagged === "true") {
        this.writeValue(f, value, context, flexible);
      } else if (untagged !== "false") {
        c.open(`if (${untagged}) {`);
        this.writeValue(f, value, context, flexible);
        c.close();
        if (refuse !== undefined && tagged === "false") {
          c.open("else {");
          c.line(refuse);
          c.close();
        }
      } else if (refuse !== undefined && tagged === "false") {
        c.line(refuse);
      }
      if (refuse !== undefined && tagged !== "false" && present !== "true") {
        // Tagged fields are checked against the versions they exist in at all.
        c.line(`if (!(${present})) { ${refuse} }`);
      }
    }
    if (flexible !== "no") {
      const taggedFields = def.fields.filter((f) => f.tag !== undefined && f.taggedVersions.size > 0).sort((a, b) => (a.tag ?? 0) - (b.tag ?? 0));
      c.open(flexible === "yes" ? "{" : "if (flexible) {");
      c.line("const unknown = m.unknownTaggedFields;");
      c.line("let taggedCount = unknown === undefined ? 0 : unknown.length;");
      const conditions: string[] = [];
      for (const f of taggedFields) {
        const when = versionCondition(f.taggedVersions, context);
        const cond = when === "true" ? this.notDefaultExpr(f, `m.${f.property}`) : `(${when}) && ${this.notDefaultExpr(f, `m.${f.property}`)}`;
        conditions.push(cond);
        c.line(`const write_${f.property} = ${cond};`);
        c.line(`if (write_${f.property}) taggedCount++;`);
      }
      c.line("w.unsignedVarint(taggedCount);");
      if (taggedFields.length > 0) c.line("let nextUnknown = 0;");
      for (const f of taggedFields) {
        c.open(`if (write_${f.property}) {`);
        c.line(`nextUnknown = writeUnknownTaggedFields(w, unknown, nextUnknown, ${f.tag});`);
        c.open("const value = encodeTaggedValue((t) => {");
        this.writeValue(f, `m.${f.property}`, context, "yes", "t");
        c.close("});");
        c.line(`writeTaggedField(w, ${f.tag}, value);`);
        c.close();
      }
      c.line(`writeUnknownTaggedFields(w, unknown, ${taggedFields.length > 0 ? "nextUnknown" : "0"}, Number.POSITIVE_INFINITY);`);
      c.close();
    }
    c.close();
    c.line();
  }

  emitType(def: StructDef): void {
    const c = this.code;
    if (def.isTop) {
      c.line(`/** ${this.message.name}, versions ${describeVersions(new Set(this.message.validVersions))}. */`);
    }
    c.open(`export interface ${def.tsName} {`);
    for (const f of def.fields) {
      const notes = [`versions ${describeVersions(f.versions)}`];
      if (f.nullableVersions.size > 0) notes.push(`nullable ${describeVersions(f.nullableVersions)}`);
      if (f.taggedVersions.size > 0) notes.push(`tagged ${describeVersions(f.taggedVersions)} (tag ${f.tag})`);
      if (f.ignorable) notes.push("ignorable");
      if (f.entityType !== undefined) notes.push(`entity ${f.entityType}`);
      const about = f.about.replace(/\*\//g, "* /");
      c.line(`/** ${about}${about.endsWith(".") || about === "" ? "" : "."} (${notes.join("; ")}) */`);
      c.line(`${f.property}: ${this.tsType(f)};`);
    }
    c.line("/** Tagged fields this codec does not know, kept for a byte-exact round trip. */");
    c.line("unknownTaggedFields?: TaggedField[];");
    c.close();
    c.line();
  }

  emitDefault(def: StructDef): void {
    const c = this.code;
    c.line(`/** A ${def.tsName} with every field at Kafka's default. */`);
    c.open(`export function default${def.tsName}(): ${def.tsName} {`);
    c.open("return {");
    for (const f of def.fields) c.line(`${f.property}: ${this.defaultExpr(f)},`);
    c.line("unknownTaggedFields: undefined,");
    c.close("};");
    c.close();
    c.line();
  }

  emitAll(): void {
    const defs = [...this.structs.values()].filter((d) => d.isTop || d.versions.size > 0);
    for (const def of defs) this.emitType(def);
    for (const def of defs) this.emitDefault(def);
    for (const def of defs) this.emitRead(def);
    for (const def of defs) this.emitWrite(def);
  }
}

// ---------------------------------------------------------------- files

const HEADER = "// THIS FILE IS GENERATED by scripts/generate-protocol.ts from Apache Kafka's message specs. Do not edit.";

function kebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase();
}

function imports(code: string, base = "../"): string {
  const lines: string[] = [];
  const reader = ["Reader", "ProtocolDecodeError", "type TaggedField"].filter((n) => code.includes(n.replace("type ", "")));
  lines.push(`import { ${reader.join(", ")} } from "${base}reader.js";`);
  const runtime = ["EMPTY_BYTES", "ZERO_UUID", "encodeTaggedValue", "isDeepEqual", "readBytes", "writeTaggedField", "writeUnknownTaggedFields"].filter((n) =>
    new RegExp(`\\b${n}\\b`).test(code),
  );
  if (runtime.length > 0) lines.push(`import { ${runtime.join(", ")} } from "${base}runtime.js";`);
  const writer = ["ProtocolEncodeError", "type Writer"].filter((n) => new RegExp(`\\b${n.replace("type ", "")}\\b`).test(code));
  lines.push(`import { ${writer.join(", ")} } from "${base}writer.js";`);
  return lines.join("\n");
}

function sourceNote(m: Message): string {
  const current = m.validVersions.filter((v) => !m.oldVersions.includes(v));
  const parts = [`${m.name}: versions ${describeVersions(new Set(current))} from Kafka 4.4.0`];
  if (m.oldVersions.length > 0) parts.push(`${describeVersions(new Set(m.oldVersions))} from Kafka 3.9.0`);
  return `// ${parts.join("; ")}.`;
}

function generateFile(messages: Message[], importBase = "../", note = sourceNote): string {
  const body = new Code();
  for (const m of messages) new MessageGenerator(m, body).emitAll();
  const text = body.toString();
  return `${HEADER}\n${messages.map(note).join("\n")}\n\n${imports(text, importBase)}\n\n${text}`.replace(/\n+$/, "\n");
}

interface ApiEntry {
  apiKey: number;
  name: string;
  request: Message;
  response: Message;
  file: string;
}

function main(): void {
  const check = process.argv.includes("--check");
  const current = loadDir(newDir);
  const old = loadDir(oldDir);
  const files = new Map<string, string>();

  const apis: ApiEntry[] = [];
  for (const spec of current.values()) {
    if (spec.type !== "request" || !(spec.listeners ?? []).includes("broker")) continue;
    const responseName = spec.name.replace(/Request$/, "Response");
    const responseSpec = current.get(responseName);
    if (responseSpec === undefined) throw new Error(`no response spec for ${spec.name}`);
    const oldRequest = [...old.values()].find((o) => o.type === "request" && o.apiKey === spec.apiKey);
    const oldResponse = [...old.values()].find((o) => o.type === "response" && o.apiKey === spec.apiKey);
    const request = mergeMessage(spec, oldRequest);
    const response = mergeMessage(responseSpec, oldResponse);
    if (request.validVersions.join() !== response.validVersions.join()) throw new Error(`${spec.name}: request and response versions differ`);
    const apiName = spec.name.replace(/Request$/, "");
    const file = kebab(apiName);
    files.set(`${file}.ts`, generateFile([request, response]));
    apis.push({ apiKey: spec.apiKey ?? -1, name: apiName, request, response, file });
  }
  apis.sort((a, b) => a.apiKey - b.apiKey);

  const requestHeader = mergeMessage(must(current.get("RequestHeader")), old.get("RequestHeader"));
  const responseHeader = mergeMessage(must(current.get("ResponseHeader")), old.get("ResponseHeader"));
  files.set("headers.ts", generateFile([requestHeader, responseHeader]));
  files.set("index.ts", generateIndex(apis, [requestHeader, responseHeader]));

  // outputs: directory → file name (possibly in a subdirectory) → text
  const outputs = new Map<string, Map<string, string>>([
    [outDir, files],
    [coordinatorOutDir, generateCoordinator()],
    [metadataOutDir, generateMetadataRecords()],
  ]);
  const summary =
    `${files.size} files for ${apis.length} APIs; ${outputs.get(coordinatorOutDir)?.size} coordinator record files; ` +
    `${outputs.get(metadataOutDir)?.size} KRaft metadata record files`;

  if (check) {
    const problems: string[] = [];
    for (const [dir, dirFiles] of outputs) {
      const existing = existsSync(dir) ? listTs(dir) : [];
      for (const [name, text] of dirFiles) {
        const path = join(dir, name);
        if (!existsSync(path)) problems.push(`missing ${relative(root, path)}`);
        else if (readFileSync(path, "utf8") !== text) problems.push(`differs ${relative(root, path)}`);
      }
      for (const name of existing) if (!dirFiles.has(name)) problems.push(`stale ${relative(root, join(dir, name))}`);
    }
    if (problems.length > 0) {
      console.error(`generated codecs are out of date (run npm run generate):\n  ${problems.join("\n  ")}`);
      process.exit(1);
    }
    console.log(`src/protocol/generated, src/coordinator/generated and src/cluster/kraft/generated are up to date (${summary}).`);
    return;
  }
  for (const [dir, dirFiles] of outputs) {
    rmSync(dir, { recursive: true, force: true });
    for (const [name, text] of dirFiles) {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileSync(join(dir, name), text);
    }
  }
  console.log(`wrote ${summary}`);
}

/** The .ts files under dir, as paths relative to it ("/"-separated). */
function listTs(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) out.push(...listTs(join(dir, entry.name), `${prefix}${entry.name}/`));
    else if (entry.name.endsWith(".ts")) out.push(`${prefix}${entry.name}`);
  }
  return out.sort();
}

// ---------------------------------------------------------------- coordinator records

interface RecordEntry {
  recordType: number;
  name: string;
  key: Message;
  value: Message;
  file: string;
}

function coordinatorNote(m: Message): string {
  return `// ${m.name}: record type ${m.apiKey}, versions ${describeVersions(new Set(m.validVersions))} from Kafka 4.4.0 (${m.type}).`;
}

/**
 * One file per record type (key + value) per internal topic, plus an index.ts per topic with the
 * record-type table. Keys are read and written at version 0 (Kafka writes the record type, not a
 * key version, in front of the key: MessageUtil.toCoordinatorTypePrefixedBytes).
 */
function generateCoordinator(): Map<string, string> {
  const files = new Map<string, string>();
  for (const t of coordinatorTopics) {
    const specs = loadDir(t.specs);
    const records: RecordEntry[] = [];
    for (const spec of specs.values()) {
      if (spec.type !== "coordinator-key") continue;
      const name = spec.name.replace(/Key$/, "");
      const valueSpec = specs.get(`${name}Value`);
      if (valueSpec === undefined || valueSpec.type !== "coordinator-value") throw new Error(`no coordinator-value spec for ${spec.name}`);
      if (spec.apiKey === undefined || spec.apiKey !== valueSpec.apiKey) throw new Error(`${spec.name}: key and value record types differ`);
      const key = mergeMessage(spec, undefined);
      if (key.validVersions.join() !== "0") throw new Error(`${spec.name}: a coordinator key with versions other than 0`);
      const value = mergeMessage(valueSpec, undefined);
      const file = kebab(name);
      files.set(`${t.dir}/${file}.ts`, generateFile([key, value], "../../../protocol/", coordinatorNote));
      records.push({ recordType: spec.apiKey, name, key, value, file });
    }
    for (const spec of specs.values()) {
      if (spec.type !== "coordinator-key" && spec.type !== "coordinator-value") throw new Error(`unexpected spec type ${spec.type} in ${t.specs}`);
      if (!records.some((r) => r.key.name === spec.name || r.value.name === spec.name)) throw new Error(`${spec.name} has no key/value partner`);
    }
    records.sort((a, b) => a.recordType - b.recordType);
    files.set(`${t.dir}/index.ts`, generateCoordinatorIndex(t.topic, records));
  }
  return files;
}

function generateCoordinatorIndex(topic: string, records: RecordEntry[]): string {
  const c = new Code();
  c.line(HEADER);
  c.line(`// The record types Kafka 4.4.0's coordinator stores in ${topic}.`);
  c.line();
  c.line('import type { Reader } from "../../../protocol/reader.js";');
  c.line('import type { Writer } from "../../../protocol/writer.js";');
  for (const r of records) c.line(`import * as ${camelCase(r.name)} from "./${r.file}.js";`);
  c.line();
  c.line(`export { ${records.map((r) => camelCase(r.name)).join(", ")} };`);
  c.line();
  c.open("export interface RecordCodec<T = unknown> {");
  c.line("name: string;");
  c.line("read(r: Reader, version: number): T;");
  c.line("write(w: Writer, message: T, version: number): void;");
  c.line("create(): T;");
  c.line("versions: readonly number[];");
  c.close();
  c.line();
  c.open("export interface RecordType {");
  c.line("/** The int16 in front of a record key (the spec's apiKey). */");
  c.line("recordType: number;");
  c.line("name: string;");
  c.line("/** Key struct, always at version 0. */");
  c.line("key: RecordCodec;");
  c.line("/** Value struct; its version is the int16 in front of a value. */");
  c.line("value: RecordCodec;");
  c.close();
  c.line();
  c.open("export const recordTypes: readonly RecordType[] = [");
  for (const r of records) {
    const ns = camelCase(r.name);
    c.open("{");
    c.line(`recordType: ${r.recordType},`);
    c.line(`name: "${r.name}",`);
    for (const [side, msg] of [["key", r.key] as const, ["value", r.value] as const]) {
      c.line(
        `${side}: { name: "${msg.name}", read: ${ns}.read${msg.name}, write: ${ns}.write${msg.name} as RecordCodec["write"], create: ${ns}.default${msg.name}, versions: [${msg.validVersions.join(", ")}] },`,
      );
    }
    c.close("},");
  }
  c.close("];");
  c.line();
  c.line("/** Record types by their number (undefined where Kafka defines none). */");
  c.line("export const recordTypeByNumber: readonly (RecordType | undefined)[] = (() => {");
  c.line("  const table: (RecordType | undefined)[] = [];");
  c.line("  for (const t of recordTypes) table[t.recordType] = t;");
  c.line("  return table;");
  c.line("})();");
  return c.toString();
}

// ---------------------------------------------------------------- KRaft metadata records

function metadataNote(m: Message): string {
  return `// ${m.name}: metadata record type ${m.apiKey}, versions ${describeVersions(new Set(m.validVersions))} from Kafka 4.4.0.`;
}

/**
 * One file per KRaft metadata record type (the values of __cluster_metadata's records), plus an
 * index.ts with the record-type table. The frame in front of each record (frame version, record
 * type, record version) is written by hand in src/cluster/kraft/metadata-records.ts.
 */
/** The import name of a generated file: "partition-change" → "partitionChange". */
function namespaceOf(file: string): string {
  return file.replace(/-(.)/g, (_, letter: string) => letter.toUpperCase());
}

function generateMetadataRecords(): Map<string, string> {
  const files = new Map<string, string>();
  const records: { recordType: number; name: string; message: Message; file: string }[] = [];
  for (const spec of loadDir(metadataSpecDir).values()) {
    if (spec.type !== "metadata") throw new Error(`unexpected spec type ${spec.type} in ${metadataSpecDir}`);
    if (spec.apiKey === undefined) throw new Error(`${spec.name}: a metadata record without an apiKey`);
    if (records.some((r) => r.recordType === spec.apiKey)) throw new Error(`${spec.name}: record type ${spec.apiKey} defined twice`);
    const message = mergeMessage(spec, undefined);
    const file = kebab(spec.name.replace(/Record$/, ""));
    files.set(`${file}.ts`, generateFile([message], "../../../protocol/", metadataNote));
    records.push({ recordType: spec.apiKey, name: spec.name, message, file });
  }
  records.sort((a, b) => a.recordType - b.recordType);
  const c = new Code();
  c.line(HEADER);
  c.line("// The record types of Kafka 4.4.0's KRaft metadata log (__cluster_metadata), by the record type");
  c.line("// number (the spec's apiKey) Kafka writes in front of each record.");
  c.line();
  c.line('import type { Reader } from "../../../protocol/reader.js";');
  c.line('import type { Writer } from "../../../protocol/writer.js";');
  for (const r of records) c.line(`import * as ${namespaceOf(r.file)} from "./${r.file}.js";`);
  c.line();
  c.line(`export { ${records.map((r) => namespaceOf(r.file)).join(", ")} };`);
  c.line();
  c.open("export interface MetadataRecordType<T = unknown> {");
  c.line("/** The record type number (the spec's apiKey). */");
  c.line("recordType: number;");
  c.line('/** Kafka\'s name, e.g. "TopicRecord". */');
  c.line("name: string;");
  c.line("read(r: Reader, version: number): T;");
  c.line("write(w: Writer, message: T, version: number): void;");
  c.line("create(): T;");
  c.line("versions: readonly number[];");
  c.close();
  c.line();
  c.open("export const metadataRecordTypes: readonly MetadataRecordType[] = [");
  for (const r of records) {
    const ns = namespaceOf(r.file);
    const n = r.message.name;
    c.line(
      `{ recordType: ${r.recordType}, name: "${n}", read: ${ns}.read${n}, write: ${ns}.write${n} as MetadataRecordType["write"], create: ${ns}.default${n}, versions: [${r.message.validVersions.join(", ")}] },`,
    );
  }
  c.close("];");
  c.line();
  c.line("/** Record types by their number (undefined where Kafka defines none). */");
  c.line("export const metadataRecordTypeByNumber: readonly (MetadataRecordType | undefined)[] = (() => {");
  c.line("  const table: (MetadataRecordType | undefined)[] = [];");
  c.line("  for (const t of metadataRecordTypes) table[t.recordType] = t;");
  c.line("  return table;");
  c.line("})();");
  files.set("index.ts", c.toString());
  return files;
}

function must<T>(value: T | undefined): T {
  if (value === undefined) throw new Error("missing spec");
  return value;
}

function generateIndex(apis: ApiEntry[], headerMessages: Message[]): string {
  const c = new Code();
  c.line(HEADER);
  c.line("// The table of every API Sluice's codec serves: the union of Kafka 4.4.0's and 3.9.0's versions.");
  c.line();
  c.line('import type { Reader } from "../reader.js";');
  c.line('import type { Writer } from "../writer.js";');
  c.line('import * as headers from "./headers.js";');
  for (const api of apis) c.line(`import * as ${camelCase(api.name)} from "./${api.file}.js";`);
  c.line();
  c.line("export { headers };");
  c.line();
  c.open("export interface MessageCodec<T = unknown> {");
  c.line("name: string;");
  c.line("read(r: Reader, version: number): T;");
  c.line("write(w: Writer, message: T, version: number): void;");
  c.line("create(): T;");
  c.close();
  c.line();
  c.open("export interface ApiDescriptor {");
  c.line("apiKey: number;");
  c.line("name: string;");
  c.line("minVersion: number;");
  c.line("maxVersion: number;");
  c.line("/** Lowest flexible version (compact encodings, tagged fields, header v2/v1), or -1 if none. */");
  c.line("flexibleMinVersion: number;");
  c.line("/** Versions defined only by Kafka 3.9.0 (dropped by Kafka 4 under KIP-896). */");
  c.line("oldVersions: readonly number[];");
  c.line("listeners: readonly string[];");
  c.line("latestVersionUnstable: boolean;");
  c.line("request: MessageCodec;");
  c.line("response: MessageCodec;");
  c.close();
  c.line();
  c.open("export const apis: readonly ApiDescriptor[] = [");
  for (const api of apis) {
    const m = api.request;
    const flexMin = m.flexibleVersions.size === 0 ? -1 : Math.min(...m.flexibleVersions);
    const ns = camelCase(api.name);
    c.open("{");
    c.line(`apiKey: ${api.apiKey},`);
    c.line(`name: "${api.name}",`);
    c.line(`minVersion: ${m.validVersions[0]},`);
    c.line(`maxVersion: ${m.validVersions[m.validVersions.length - 1]},`);
    c.line(`flexibleMinVersion: ${flexMin},`);
    c.line(`oldVersions: [${m.oldVersions.join(", ")}],`);
    c.line(`listeners: ${JSON.stringify(m.listeners)},`);
    c.line(`latestVersionUnstable: ${m.latestVersionUnstable},`);
    for (const [side, msg] of [["request", api.request] as const, ["response", api.response] as const]) {
      c.line(
        `${side}: { name: "${msg.name}", read: ${ns}.read${msg.name}, write: ${ns}.write${msg.name} as MessageCodec["write"], create: ${ns}.default${msg.name} },`,
      );
    }
    c.close("},");
  }
  c.close("];");
  c.line();
  c.line("/** Descriptors indexed by API key (undefined where Sluice has no codec). */");
  c.line("export const apiByKey: readonly (ApiDescriptor | undefined)[] = (() => {");
  c.line("  const table: (ApiDescriptor | undefined)[] = [];");
  c.line("  for (const api of apis) table[api.apiKey] = api;");
  c.line("  return table;");
  c.line("})();");
  c.line();
  c.line("/** Every generated message codec by spec name (requests, responses and headers). */");
  c.line("export const messagesByName: ReadonlyMap<string, MessageCodec & { versions: readonly number[] }> = new Map([");
  for (const h of headerMessages) {
    c.line(
      `  ["${h.name}", { name: "${h.name}", read: headers.read${h.name}, write: headers.write${h.name} as MessageCodec["write"], create: headers.default${h.name}, versions: [${h.validVersions.join(", ")}] }],`,
    );
  }
  c.line("  ...apis.flatMap((api) => {");
  c.line("    const versions = Array.from({ length: api.maxVersion - api.minVersion + 1 }, (_, i) => api.minVersion + i);");
  c.line("    return [");
  c.line("      [api.request.name, { ...api.request, versions }] as const,");
  c.line("      [api.response.name, { ...api.response, versions }] as const,");
  c.line("    ];");
  c.line("  }),");
  c.line("]);");
  return c.toString();
}

main();
