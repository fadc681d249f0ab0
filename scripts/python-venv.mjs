#!/usr/bin/env node
// The Python environment of the tests: a virtual environment in test/interop/python/.venv
// (gitignored) with the packages pinned in test/interop/python/requirements.txt, made with the
// system's python3 (or $PYTHON) and never touching the system Python's packages.
//
//   node scripts/python-venv.mjs           create or update it if missing or stale; prints its python
//   node scripts/python-venv.mjs --force   recreate it
//   node scripts/python-venv.mjs --check   exit 1 if missing or stale, change nothing
//
// Up to date = .venv/sluice-requirements.sha256 holds the hash of requirements.txt and of the base
// interpreter's version, and .venv/bin/python runs. test/interop/python-clients.test.ts calls
// ensurePythonVenv() itself, so running that file alone sets the venv up. Plain Node 20.
// On Debian and Ubuntu, `python3 -m venv` needs the python3-venv package.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const pythonDir = join(repo, "test", "interop", "python");
export const requirementsFile = join(pythonDir, "requirements.txt");
export const venvDir = join(pythonDir, ".venv");
/** The venv's interpreter: what the tests run. */
export const venvPython = join(venvDir, "bin", "python");
const stampFile = join(venvDir, "sluice-requirements.sha256");

// The packages import, and kafka-python has every codec (its has_* checks find the libraries).
const importCheck = `
import confluent_kafka.admin, kafka, kafka.codec as codec
assert int(kafka.__version__.split(".")[0]) >= 3, kafka.__version__
missing = [name for name in ("gzip", "snappy", "lz4", "zstd") if not getattr(codec, "has_" + name)()]
assert not missing, "kafka-python codecs missing: " + ", ".join(missing)
`;

function run(command, args) {
  const result = spawnSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}`.trim();
  return { ok: result.status === 0, output: result.error ? result.error.message : output };
}

function wantedHash(basePython) {
  const version = run(basePython, ["--version"]);
  if (!version.ok) throw new Error(`${basePython} does not run (${version.output}): the Python interop tests need Python 3 with its venv module`);
  return createHash("sha256").update(readFileSync(requirementsFile)).update(`\0${version.output}`).digest("hex");
}

function upToDate(hash) {
  return existsSync(stampFile) && readFileSync(stampFile, "utf8").trim() === hash && run(venvPython, ["-c", "pass"]).ok;
}

/**
 * Makes sure test/interop/python/.venv exists with requirements.txt installed (fast when it does:
 * one hash and one `python -c pass`), and returns the venv's python. Throws with the reason when
 * it cannot (no python3, no venv module, pip failing, e.g. offline).
 */
export function ensurePythonVenv({ force = false, log = (line) => console.error(line), basePython = process.env.PYTHON ?? "python3" } = {}) {
  const hash = wantedHash(basePython);
  if (!force && upToDate(hash)) return venvPython;
  log(`python-venv: creating ${venvDir} from ${requirementsFile} ...`);
  const started = Date.now();
  rmSync(venvDir, { recursive: true, force: true });
  const created = run(basePython, ["-m", "venv", venvDir]);
  if (!created.ok) {
    rmSync(venvDir, { recursive: true, force: true });
    throw new Error(`${basePython} -m venv failed (on Debian/Ubuntu: apt-get install python3-venv):\n${created.output}`);
  }
  const installed = run(venvPython, ["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-q", "-r", requirementsFile]);
  if (!installed.ok) throw new Error(`pip could not install ${requirementsFile} into ${venvDir}:\n${installed.output}`);
  const checked = run(venvPython, ["-c", importCheck]);
  if (!checked.ok) throw new Error(`the packages of ${requirementsFile} do not work in ${venvDir}:\n${checked.output}`);
  writeFileSync(stampFile, `${hash}\n`);
  log(`python-venv: ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return venvPython;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = new Set(process.argv.slice(2));
  try {
    if (args.has("--check")) {
      const fresh = upToDate(wantedHash(process.env.PYTHON ?? "python3"));
      console.log(fresh ? `up to date: ${venvPython}` : `missing or stale: ${venvDir}`);
      process.exit(fresh ? 0 : 1);
    }
    console.log(ensurePythonVenv({ force: args.has("--force") }));
  } catch (error) {
    console.error(`python-venv: ${error.message}`);
    process.exit(1);
  }
}
