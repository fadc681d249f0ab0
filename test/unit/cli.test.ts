import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";

const repositoryRoot = fileURLToPath(new URL("../../", import.meta.url));
const packageVersion: string = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version;

function sluice(...args: string[]) {
  return spawnSync(process.execPath, ["bin/sluice", ...args], {
    cwd: repositoryRoot,
    encoding: "utf8",
  });
}

describe("the sluice command", () => {
  beforeAll(() => {
    // bin/sluice runs the compiled dist/; compile it so the test never sees a stale build.
    // Type errors elsewhere do not stop tsc from emitting, and `npm run build:ts` reports them.
    spawnSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.json"], {
      cwd: repositoryRoot,
      encoding: "utf8",
    });
  });

  it("prints the package version for --version", () => {
    const run = sluice("--version");
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toBe(packageVersion);
  });

  it("lists its commands for --help", () => {
    const run = sluice("--help");
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^Usage: sluice /);
    expect(run.stdout).toMatch(/^Commands:$/m);
    expect(run.stdout).toMatch(/^ {2}version\b/m);
  });

  it("prints the versions of sluice and the native addon for `version`", () => {
    const run = sluice("version");
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(`sluice ${packageVersion}\n`);
    expect(run.stdout).toMatch(/^native addon \d+\.\d+\.\d+/m);
    expect(run.stdout).toContain(`node ${process.version}\n`);
  });

  it("fails with a message for an unknown command", () => {
    const run = sluice("no-such-command");
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("unknown command 'no-such-command'");
  });
});
