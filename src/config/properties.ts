// Java .properties text (java.util.Properties.load): what server.properties is written in.
import { ConfigError } from "./defs.js";

// Properties.load's whitespace: space, tab and form feed (not other Unicode spaces).
const isBlank = (c: string) => c === " " || c === "\t" || c === "\f";

function stripLeading(line: string): string {
  let i = 0;
  while (i < line.length && isBlank(line[i])) i++;
  return line.slice(i);
}

function endsWithOddBackslashes(line: string): boolean {
  let count = 0;
  for (let i = line.length - 1; i >= 0 && line[i] === "\\"; i--) count++;
  return count % 2 === 1;
}

/** Properties.loadConvert: \t \n \r \f, \uXXXX, and \x for any other x. */
function loadConvert(text: string, key: string): string {
  if (!text.includes("\\")) return text;
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c !== "\\" || i + 1 >= text.length) {
      out += c;
      continue;
    }
    const next = text[++i];
    if (next === "u") {
      const hex = text.slice(i + 1, i + 5);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new ConfigError(key, "Malformed \\uxxxx encoding.");
      out += String.fromCharCode(Number.parseInt(hex, 16));
      i += 4;
    } else {
      out += next === "t" ? "\t" : next === "n" ? "\n" : next === "r" ? "\r" : next === "f" ? "\f" : next;
    }
  }
  return out;
}

/**
 * Parses .properties text as Java's Properties.load does: `#` and `!` comment lines, keys ending at
 * the first unescaped `=`, `:` or whitespace, a trailing odd backslash continuing the line (the next
 * line's leading whitespace dropped), escapes (\t \n \r \f \uXXXX, \x = x). Later keys win.
 * Kafka reads the file as ISO-8859-1; this takes text, so callers decide (Sluice reads UTF-8).
 * Throws ConfigError on a malformed \u escape.
 */
export function parseProperties(text: string): Map<string, string> {
  const result = new Map<string, string>();
  const lines = text.split(/\r\n|\r|\n/);
  let index = 0;
  while (index < lines.length) {
    let line = stripLeading(lines[index++]);
    if (line === "" || line[0] === "#" || line[0] === "!") continue;
    while (endsWithOddBackslashes(line)) {
      line = line.slice(0, -1);
      if (index >= lines.length) break;
      line += stripLeading(lines[index++]);
    }
    let keyEnd = 0;
    let valueStart = line.length;
    let hasSeparator = false;
    let escaped = false;
    for (; keyEnd < line.length; keyEnd++) {
      const c = line[keyEnd];
      if (!escaped && (c === "=" || c === ":")) {
        valueStart = keyEnd + 1;
        hasSeparator = true;
        break;
      }
      if (!escaped && isBlank(c)) {
        valueStart = keyEnd + 1;
        break;
      }
      escaped = c === "\\" ? !escaped : false;
    }
    for (; valueStart < line.length; valueStart++) {
      const c = line[valueStart];
      if (isBlank(c)) continue;
      if (!hasSeparator && (c === "=" || c === ":")) {
        hasSeparator = true;
        continue;
      }
      break;
    }
    const key = loadConvert(line.slice(0, keyEnd), "");
    result.set(key, loadConvert(line.slice(valueStart), key));
  }
  return result;
}
