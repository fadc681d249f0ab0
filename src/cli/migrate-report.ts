// How `sluice migrate check` shows an adoption plan (src/cluster/kraft/adoption.ts): sections of
// aligned tables for people, and a JSON summary for scripts. SCRAM credentials appear as user,
// mechanism and iterations only: salts and keys are never printed.

import type { AdoptionPlan } from "../cluster/kraft/adoption.js";
import { AclOperation, PatternType, Permission, ResourceType } from "../security/acl.js";
import { formatTable } from "./commands/common.js";

function nameOf(table: Readonly<Record<string, number>>, code: number): string {
  return Object.entries(table).find(([, value]) => value === code)?.[0] ?? String(code);
}

/** The plan without secrets, for --json. */
export function planSummary(plan: AdoptionPlan): Record<string, unknown> {
  return {
    logDir: plan.logDir,
    clusterId: plan.clusterId,
    nodeId: plan.nodeId,
    metadataOffset: plan.metadataOffset.toString(),
    metadataEpoch: plan.metadataEpoch,
    topics: plan.topics,
    brokerConfigs: plan.brokerConfigs,
    groupConfigs: plan.groupConfigs,
    scramUsers: plan.scram.map(({ user, mechanism, iterations }) => ({ user, mechanism, iterations })),
    acls: plan.acls.map((acl) => ({
      resourceType: nameOf(ResourceType, acl.resourceType),
      resourceName: acl.resourceName,
      patternType: nameOf(PatternType, acl.patternType),
      principal: acl.principal,
      host: acl.host,
      operation: nameOf(AclOperation, acl.operation),
      permissionType: nameOf(Permission, acl.permissionType),
    })),
    clientQuotas: plan.clientQuotas,
    nextProducerId: plan.nextProducerId?.toString() ?? null,
    features: plan.features,
    consumerOffsetsPartitions: plan.consumerOffsetsPartitions,
    coordinators: plan.coordinators,
    cluster: plan.cluster,
    notCarried: plan.notCarried,
    blockers: plan.blockers,
  };
}

function section(title: string, body: string): string {
  return `${title}\n${body === "" ? "  (none)\n" : body}\n`;
}

function configsText(configs: Readonly<Record<string, string>>): string {
  const entries = Object.entries(configs).sort(([a], [b]) => (a < b ? -1 : 1));
  return entries.length === 0 ? "-" : entries.map(([name, value]) => `${name}=${value}`).join(",");
}

function entityText(entity: readonly { entityType: string; entityName: string | null }[]): string {
  return entity.map((part) => `${part.entityType}=${part.entityName ?? "<default>"}`).join(",");
}

/** The plan as text: one section per kind of metadata, then what is not carried and what blocks. */
export function formatPlan(plan: AdoptionPlan): string {
  let out = `Kafka log dir: ${plan.logDir}\nCluster ID: ${plan.clusterId ?? "-"}\nNode ID: ${plan.nodeId ?? "-"}\nMetadata offset: ${plan.metadataOffset} (epoch ${plan.metadataEpoch})\n\n`;
  out += section(
    "Topics:",
    plan.topics.length === 0
      ? ""
      : formatTable(
          ["TOPIC", "TOPIC ID", "PARTITIONS", "ON DISK", "BYTES", "CONFIGS"],
          plan.topics.map((t) => [t.name, t.id, t.partitions, t.partitionsOnDisk, t.bytesOnDisk, configsText(t.configs)]),
        ),
  );
  const brokerRows = Object.entries(plan.brokerConfigs).flatMap(([resource, configs]) =>
    Object.entries(configs).map(([name, value]) => [resource === "" ? "<default>" : resource, name, value]),
  );
  out += section("Broker configs:", brokerRows.length === 0 ? "" : formatTable(["BROKER", "NAME", "VALUE"], brokerRows));
  const groupRows = Object.entries(plan.groupConfigs).flatMap(([group, configs]) => Object.entries(configs).map(([name, value]) => [group, name, value]));
  out += section("Group configs:", groupRows.length === 0 ? "" : formatTable(["GROUP", "NAME", "VALUE"], groupRows));
  out += section(
    "SCRAM users:",
    plan.scram.length === 0
      ? ""
      : formatTable(
          ["USER", "MECHANISM", "ITERATIONS"],
          plan.scram.map((c) => [c.user, c.mechanism, c.iterations]),
        ),
  );
  const summary = planSummary(plan);
  const acls = summary.acls as Record<string, string>[];
  out += section(
    "ACLs:",
    acls.length === 0
      ? ""
      : formatTable(
          ["PRINCIPAL", "HOST", "OPERATION", "PERMISSION", "RESOURCE", "NAME", "PATTERN"],
          acls.map((a) => [a.principal, a.host, a.operation, a.permissionType, a.resourceType, a.resourceName, a.patternType]),
        ),
  );
  out += section(
    "Client quotas:",
    plan.clientQuotas.length === 0
      ? ""
      : formatTable(
          ["ENTITY", "QUOTAS"],
          plan.clientQuotas.map((q) => [entityText(q.entity), configsText(Object.fromEntries(Object.entries(q.values).map(([k, v]) => [k, String(v)])))]),
        ),
  );
  out += `Producer ids: ${plan.nextProducerId === null ? "none handed out" : `Kafka handed out ids below ${plan.nextProducerId}; Sluice continues from there`}\n`;
  out += `Consumer groups: ${plan.consumerOffsetsPartitions === null ? "no __consumer_offsets" : `read from the ${plan.consumerOffsetsPartitions} __consumer_offsets partitions at start`}\n`;
  const c = plan.coordinators;
  if (c !== null) {
    out += `Groups: ${c.groups} (${c.groupsWithOffsets} with committed offsets)\n`;
    out += `Transactional ids: ${c.transactionalIds} (${c.openTransactions} transaction(s) open at the stop: aborted at their timeout, or finished if prepared, as Kafka does after a restart)\n`;
  }
  out += "\n";
  const features = Object.entries(plan.features);
  out += section("Feature levels:", features.length === 0 ? "" : formatTable(["FEATURE", "LEVEL"], features));
  if (plan.cluster !== null) {
    out += section(
      "Brokers (a multi-broker image: each Sluice broker starts on its own Kafka broker's directory):",
      formatTable(
        ["NODE", "REPLICAS", "LEADS", "IN THIS DIRECTORY", "MISSING HERE"],
        plan.cluster.brokers.map((b) => [
          b.nodeId === plan.nodeId ? `${b.nodeId} (this directory)` : b.nodeId,
          b.replicas,
          b.leaders,
          b.onDisk ?? "-",
          b.missing === null ? "-" : b.missing.length === 0 ? "none" : b.missing.join(","),
        ]),
      ),
    );
  }
  out += section("Not carried:", plan.notCarried.map((line) => `  - ${line}\n`).join(""));
  out += section("Blockers:", plan.blockers.map((line) => `  - ${line}\n`).join(""));
  out +=
    plan.blockers.length > 0
      ? "Sluice cannot adopt this directory.\n"
      : plan.cluster !== null
        ? `Sluice can adopt this directory as broker ${plan.nodeId} of a cluster: start it with log.dirs set to it, node.id=${plan.nodeId} and the etcd metadata.store.\n`
        : "Sluice can adopt this directory: start it with log.dirs set to it.\n";
  return out;
}
