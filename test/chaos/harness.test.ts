// The chaos harness checking itself on what works today, single-node brokers (no etcd cluster
// needed): the faults of test/helpers/cluster.ts really cut traffic and really heal, and the
// checker (sluice.kafka.ChaosChecker) finds every acknowledged record after SIGKILLs and
// isolation of a broker (a SIGKILL keeps the page cache: nothing acknowledged may be lost).
// Run by `npm run test:chaos` (CHAOS_TESTS=1) with the chaos test; skipped otherwise, and where
// root, ip netns, etcd or Java are missing — except under CI=true, where that fails.
import { execFile } from "node:child_process";
import { connect } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { clusterSkipReason, startCluster, type TestCluster } from "../helpers/cluster.js";
import { chaosSkipReason, formatChaosResult, runChaos } from "./chaos.js";

const enabled = process.env.CHAOS_TESTS === "1";
const ci = process.env.CI === "true";
const networkUnavailable = enabled ? await clusterSkipReason({ netns: true, etcd: true }) : null;
const checkerUnavailable = enabled ? await chaosSkipReason({ netns: false, etcd: false }) : null;
if (ci && (networkUnavailable || checkerUnavailable)) throw new Error(`the chaos harness cannot run under CI: ${networkUnavailable ?? checkerUnavailable}`);
const notEnabled = "set CHAOS_TESTS=1 (npm run test:chaos)";
const networkSkip = enabled ? networkUnavailable : notEnabled;
const checkerSkip = enabled ? checkerUnavailable : notEnabled;

/** Whether a TCP connection to host:port opens within `timeoutMs`, from a namespace (ip netns exec) or from here. */
function reachable(host: string, port: number, namespace: string | null, timeoutMs = 1_500): Promise<boolean> {
  if (namespace === null) {
    return new Promise((answer) => {
      const socket = connect({ host, port });
      const done = (ok: boolean) => {
        socket.destroy();
        answer(ok);
      };
      socket.setTimeout(timeoutMs, () => done(false));
      socket.once("connect", () => done(true));
      socket.once("error", () => done(false));
    });
  }
  const script = `const s=require("net").connect(${port},"${host}");s.setTimeout(${timeoutMs},()=>process.exit(1));s.on("connect",()=>process.exit(0));s.on("error",()=>process.exit(1));`;
  return new Promise((answer) => {
    execFile("ip", ["netns", "exec", namespace, process.execPath, "-e", script], { timeout: timeoutMs + 5_000 }, (error) => answer(error === null));
  });
}

describe.skipIf(networkSkip !== null)(`network faults between namespaces${networkSkip ? ` (skipped: ${networkSkip})` : ""}`, () => {
  let cluster: TestCluster | undefined;

  afterAll(async () => {
    await cluster?.stop();
  });

  it("isolate cuts a broker off from its peers, etcd and clients, partitionFrom cuts two brokers off each other only, and heal restores both", async () => {
    // What is checked is the network, whether or not the brokers form a cluster yet.
    cluster = await startCluster({ brokers: 2, netns: true });
    const [one, two] = cluster.brokers as [TestCluster["brokers"][0], TestCluster["brokers"][0]];
    const etcd = cluster.etcdEndpoint!.split(":") as [string, string];
    const etcdHost = etcd[0];
    const etcdPort = Number(etcd[1]);
    const view = async () => ({
      clientToOne: await reachable(one.host, one.port, null),
      oneToTwo: await reachable(two.host, two.port, one.namespace),
      twoToOne: await reachable(one.host, one.port, two.namespace),
      oneToEtcd: await reachable(etcdHost, etcdPort, one.namespace),
      twoToEtcd: await reachable(etcdHost, etcdPort, two.namespace),
    });
    const allOpen = { clientToOne: true, oneToTwo: true, twoToOne: true, oneToEtcd: true, twoToEtcd: true };
    expect(await view()).toEqual(allOpen);

    await one.partitionFrom(2);
    expect(cluster.faults()).toEqual(["partition 1-2"]);
    expect(await view()).toEqual({ ...allOpen, oneToTwo: false, twoToOne: false });
    await two.heal();
    expect(cluster.faults()).toEqual([]);
    expect(await view()).toEqual(allOpen);

    await one.isolate();
    expect(await view()).toEqual({ clientToOne: false, oneToTwo: false, twoToOne: false, oneToEtcd: false, twoToEtcd: true });
    await one.heal();
    expect(await view()).toEqual(allOpen);

    await two.isolate();
    await one.partitionFrom(2);
    await cluster.healAll();
    expect(await view()).toEqual(allOpen);

    // A broker killed with SIGKILL comes back on the same address.
    await one.kill();
    expect(one.pid).toBeNull();
    expect(await reachable(one.host, one.port, null)).toBe(false);
    await one.start();
    expect(await reachable(one.host, one.port, null)).toBe(true);
  }, 120_000);
});

describe.skipIf(checkerSkip !== null)(`the checker against one broker${checkerSkip ? ` (skipped: ${checkerSkip})` : ""}`, () => {
  it("every acknowledged record is read back once and in order after SIGKILL and restart of the broker (and its isolation, with netns)", async () => {
    const netns = networkSkip === null;
    const result = await runChaos({
      durationS: 30,
      seed: 7,
      brokers: 1,
      etcd: false,
      netns,
      faults: netns ? ["kill", "isolate"] : ["kill"],
      holdS: [2, 5],
      log: (line) => console.log(line),
    });
    console.log(formatChaosResult(result));
    expect(result.faults.kill + result.faults.isolate).toBeGreaterThan(0);
    expect(result.problems).toEqual([]);
    expect(result.verdict?.counts.acknowledged).toBeGreaterThan(1_000);
  }, 400_000);
});
