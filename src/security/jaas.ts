// Kafka's `sasl.jaas.config` values (JaasConfig): one or more login modules, each
//   <class name> <required|requisite|sufficient|optional> [key=value ...];
// values quoted ("…", with \" and \\ escapes) or bare words. The broker reads the options of a
// mechanism's module: PlainLoginModule's `user_<name>="<password>"` entries are the PLAIN users.

import { ConfigError } from "../config/index.js";

export interface JaasModule {
  readonly loginModule: string;
  readonly flag: string;
  readonly options: ReadonlyMap<string, string>;
}

const FLAGS = new Set(["required", "requisite", "sufficient", "optional"]);

/** Parses a `sasl.jaas.config` value; `key` names the config in errors. */
export function parseJaasConfig(key: string, text: string): JaasModule[] {
  const modules: JaasModule[] = [];
  let at = 0;
  const fail = (why: string): never => {
    throw new ConfigError(key, `Invalid JAAS configuration for ${key}: ${why}`);
  };
  const skipSpace = () => {
    while (at < text.length && /\s/.test(text[at])) at++;
  };
  const word = (): string => {
    skipSpace();
    const start = at;
    while (at < text.length && /[^\s=;"]/.test(text[at])) at++;
    return text.slice(start, at);
  };
  const value = (): string => {
    skipSpace();
    if (text[at] !== '"') {
      const bare = word();
      if (bare === "") fail(`a value is missing at position ${at}`);
      return bare;
    }
    at++;
    let out = "";
    while (at < text.length && text[at] !== '"') {
      if (text[at] === "\\" && at + 1 < text.length) at++;
      out += text[at++];
    }
    if (text[at] !== '"') fail("an unterminated quoted value");
    at++;
    return out;
  };
  for (;;) {
    skipSpace();
    if (at >= text.length) break;
    const loginModule = word();
    if (loginModule === "") fail(`unexpected '${text[at]}' at position ${at}`);
    const flag = word().toLowerCase();
    if (!FLAGS.has(flag)) fail(`Login module control flag is not available in the JAAS config (got '${flag}')`);
    const options = new Map<string, string>();
    for (;;) {
      skipSpace();
      if (text[at] === ";") {
        at++;
        break;
      }
      if (at >= text.length) fail("Expected ';' at the end of the login module");
      const name = word();
      skipSpace();
      if (name === "" || text[at] !== "=") fail(`expected key=value at position ${at}`);
      at++;
      options.set(name, value());
    }
    modules.push({ loginModule, flag, options });
  }
  if (modules.length === 0) fail("no login module");
  return modules;
}

/** The `user_<name>` entries of a PlainLoginModule: user → password. */
export function plainUsers(modules: readonly JaasModule[]): Map<string, string> {
  const users = new Map<string, string>();
  for (const module of modules) {
    if (!module.loginModule.endsWith("PlainLoginModule")) continue;
    for (const [option, password] of module.options) if (option.startsWith("user_")) users.set(option.slice(5), password);
  }
  return users;
}
