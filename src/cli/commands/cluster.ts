// `sluice cluster info`: the cluster id, the controller and the brokers with their endpoints and
// racks (DescribeCluster, or Metadata from brokers that lack it).

import type { Command } from "commander";
import { action, type ConnectionFlags, printJson, printTable, withClient, withConnectionOptions } from "./common.js";

export function registerCluster(program: Command): void {
  const cluster = program.command("cluster").description("the cluster's id, controller and brokers");
  withConnectionOptions(cluster.command("info").description("cluster id, controller and brokers (host:port, rack)")).action(
    action(async (flags: ConnectionFlags) => {
      const described = await withClient(flags, (client) => client.describeCluster());
      if (flags.json) {
        printJson(described);
        return;
      }
      process.stdout.write(`Cluster ID: ${described.clusterId ?? "-"}\nController: ${described.controllerId < 0 ? "-" : described.controllerId}\n\n`);
      printTable(
        ["BROKER", "HOST:PORT", "RACK", "CONTROLLER"],
        described.brokers.map((b) => [b.nodeId, `${b.host}:${b.port}`, b.rack, b.nodeId === described.controllerId ? "yes" : ""]),
      );
    }),
  );
}
