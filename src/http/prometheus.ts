// /metrics: the broker's meters in Prometheus text format, named as the Prometheus JMX
// exporter names Kafka's MBeans under Strimzi's `kafka-metrics` rules (lowercaseOutputName), so
// Grafana dashboards made for Kafka work unchanged. The JMX → Prometheus mapping, one rule each:
//
//   kafka.server:type=BrokerTopicMetrics,name=MessagesInPerSec[,topic=T] Count
//       → kafka_server_brokertopicmetrics_messagesin_total{topic="T"}         (…PerSec → _total)
//   kafka.network:type=RequestMetrics,name=RequestsPerSec,request=R,version=V Count
//       → kafka_network_requestmetrics_requests_total{request="R",version="V"}
//   kafka.network:type=RequestMetrics,name=TotalTimeMs,request=R  99thPercentile / Count
//       → kafka_network_requestmetrics_totaltimems{request="R",quantile="0.99"} / …_count
//   kafka.network:type=SocketServer,name=NetworkProcessorAvgIdlePercent Value
//       → kafka_network_socketserver_networkprocessoravgidle_percent
//   kafka.log:type=Log,name=Size,topic=T,partition=P Value → kafka_log_log_size{topic,partition}
//   kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions Value
//       → kafka_server_replicamanager_underreplicatedpartitions
//   kafka.controller:type=KafkaController,name=ActiveControllerCount Value
//       → kafka_controller_kafkacontroller_activecontrollercount
//   kafka.coordinator.group:type=GroupMetadataManager,name=NumGroups Value
//       → kafka_coordinator_group_groupmetadatamanager_numgroups
//
// Consumer lag uses kafka-lag-exporter's names (kafka_consumergroup_group_lag{group,topic,
// partition}, …_lag_seconds, …_offset, …_max_lag, …_sum_lag), and Node's process metrics are
// prom-client's defaults (process_cpu_seconds_total, nodejs_heap_size_used_bytes, …).
//
// Everything is read when scraped: nothing here runs on the request path.

import { performance } from "node:perf_hooks";
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { LogCleanerStats } from "../log/log-cleaner.js";
import { apiByKey } from "../protocol/generated/index.js";
import type { BrokerServices } from "../server/context.js";
import type { NetStats } from "../server/network.js";
import type { ConsumerLag } from "./lag.js";

/** Kafka's Yammer histogram percentiles and the quantile label the JMX exporter gives each. */
const PERCENTILES: readonly [number, string][] = [
  [0.5, "0.50"],
  [0.75, "0.75"],
  [0.95, "0.95"],
  [0.98, "0.98"],
  [0.99, "0.99"],
  [0.999, "0.999"],
];

/** Kafka's RequestMetrics name of a consumer's Fetch (a follower's is FetchFollower). */
const FETCH_CONSUMER = "FetchConsumer";
const FETCH_KEY = 1;

export interface MetricsSources {
  readonly services: Pick<BrokerServices, "metadata" | "partitions" | "groups" | "metrics">;
  /** The network's stats and its thread count; null when there is no network (tests). */
  readonly network: { stats(): NetStats; readonly threads: number; readonly listener: string } | null;
  readonly lag: ConsumerLag;
  /** The log cleaner's figures; null without one. */
  readonly cleaner?: LogCleanerStats | null;
}

type Labels = Record<string, string>;

/** A gauge or counter whose samples are all replaced at each scrape. */
interface Family {
  readonly kind: "gauge" | "counter";
  readonly help: string;
  /** Registered when first scraped, again when a sample brings a label name it was not made with. */
  metric: Gauge<string> | Counter<string> | null;
  labelNames: Set<string>;
  samples: [Labels, number][];
}

export class PrometheusExporter {
  readonly registry = new Registry();
  readonly #families = new Map<string, Family>();
  readonly #sources: MetricsSources;
  /** For the idle ratios: the last scrape's readings. */
  #lastIdle: { atMs: number; reactorIdleSeconds: number; elu: ReturnType<typeof performance.eventLoopUtilization> } | null = null;

  constructor(sources: MetricsSources) {
    this.#sources = sources;
    collectDefaultMetrics({ register: this.registry });
  }

  /** The Prometheus text of every metric, read now. */
  async render(): Promise<string> {
    const nowMs = Date.now();
    for (const family of this.#families.values()) family.samples = [];
    this.#brokerTopicMetrics();
    this.#requestMetrics(nowMs);
    this.#network(nowMs);
    this.#logs();
    this.#replicasAndController();
    this.#groups(nowMs);
    this.#cleaner(nowMs);
    for (const [name, family] of this.#families) {
      const metric = this.#registered(name, family);
      metric.reset();
      for (const [labels, value] of family.samples) {
        if (metric instanceof Counter) metric.inc(labels, value);
        else metric.set(labels, value);
      }
    }
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Adds a sample of `name` to this scrape (the first sample's help text describes the metric). */
  #sample(kind: "gauge" | "counter", name: string, help: string, labels: Labels, value: number): void {
    let family = this.#families.get(name);
    if (family === undefined) {
      family = { kind, help, metric: null, labelNames: new Set(), samples: [] };
      this.#families.set(name, family);
    }
    if (Number.isFinite(value)) family.samples.push([labels, value]);
  }

  /** The prom-client metric of a family, made with every label name its samples use. */
  #registered(name: string, family: Family): Gauge<string> | Counter<string> {
    let grown = false;
    for (const [labels] of family.samples) {
      for (const label of Object.keys(labels)) {
        if (!family.labelNames.has(label)) {
          family.labelNames.add(label);
          grown = true;
        }
      }
    }
    if (family.metric === null || grown) {
      if (family.metric !== null) this.registry.removeSingleMetric(name);
      const options = { name, help: family.help, labelNames: [...family.labelNames], registers: [this.registry] };
      family.metric = family.kind === "counter" ? new Counter(options) : new Gauge(options);
    }
    return family.metric;
  }

  #brokerTopicMetrics(): void {
    const { metrics } = this.#sources.services;
    const names: [keyof typeof metrics.allTopics, string, string][] = [
      ["messagesIn", "messagesin", "MessagesInPerSec: records appended by Produce requests"],
      ["bytesIn", "bytesin", "BytesInPerSec: bytes of the records of Produce requests"],
      ["bytesOut", "bytesout", "BytesOutPerSec: record bytes sent in Fetch responses"],
      ["bytesRejected", "bytesrejected", "BytesRejectedPerSec: record bytes of refused Produce partitions"],
      ["totalProduceRequests", "totalproducerequests", "TotalProduceRequestsPerSec: Produce request partitions"],
      ["failedProduceRequests", "failedproducerequests", "FailedProduceRequestsPerSec: Produce request partitions that failed"],
      ["totalFetchRequests", "totalfetchrequests", "TotalFetchRequestsPerSec: Fetch request partitions"],
      ["failedFetchRequests", "failedfetchrequests", "FailedFetchRequestsPerSec: Fetch request partitions that failed"],
    ];
    for (const [field, suffix, help] of names) {
      const name = `kafka_server_brokertopicmetrics_${suffix}_total`;
      this.#sample("counter", name, `Kafka's kafka.server:type=BrokerTopicMetrics,name=${help}`, {}, metrics.allTopics[field]);
      for (const [topic, meters] of metrics.topics()) this.#sample("counter", name, "", { topic }, meters[field]);
    }
  }

  #requestMetrics(nowMs: number): void {
    for (const [apiKey, meters] of this.#sources.services.metrics.requests()) {
      const names = apiKey === FETCH_KEY ? [FETCH_CONSUMER, "Fetch"] : [apiByKey[apiKey]?.name ?? String(apiKey)];
      for (const request of names) {
        for (const [version, count] of meters.byVersion) {
          this.#sample(
            "counter",
            "kafka_network_requestmetrics_requests_total",
            "Kafka's kafka.network:type=RequestMetrics,name=RequestsPerSec: requests answered, by API and version",
            { request, version: String(version) },
            count,
          );
        }
      }
      // TotalTimeMs is Kafka's for FetchConsumer, not Fetch.
      const request = names[0];
      for (const [q, quantile] of PERCENTILES) {
        this.#sample(
          "gauge",
          "kafka_network_requestmetrics_totaltimems",
          "Kafka's kafka.network:type=RequestMetrics,name=TotalTimeMs percentiles (ms, the last 1-2 minutes): request received to response handed to the network",
          { request, quantile },
          meters.totalTimeMs.quantile(q, nowMs),
        );
      }
      this.#sample(
        "counter",
        "kafka_network_requestmetrics_totaltimems_count",
        "Kafka's TotalTimeMs Count: requests timed",
        { request },
        meters.totalTimeMs.count,
      );
    }
  }

  #network(nowMs: number): void {
    const network = this.#sources.network;
    const elu = performance.eventLoopUtilization();
    const last = this.#lastIdle;
    if (network !== null) {
      const stats = network.stats();
      const labels = { listener: network.listener, networkProcessor: "all" };
      this.#sample(
        "gauge",
        "kafka_server_socket_server_metrics_connection_count",
        "Kafka's socket-server-metrics connection-count: open client connections",
        labels,
        stats.connections,
      );
      this.#sample(
        "counter",
        "kafka_server_socket_server_metrics_connection_creation_total",
        "Kafka's socket-server-metrics connection-creation-total: connections accepted",
        labels,
        stats.connectionsAcceptedTotal,
      );
      this.#sample(
        "counter",
        "kafka_server_socket_server_metrics_connection_close_total",
        "Kafka's socket-server-metrics connection-close-total: connections closed",
        labels,
        stats.connectionsClosedTotal.reduce((sum, n) => sum + n, 0),
      );
      this.#sample(
        "counter",
        "sluice_network_connections_accept_delayed_total",
        "Connections held back by max.connection.creation.rate (Kafka's connection-accept-throttle-time counts their wait)",
        {},
        stats.connectionsAcceptDelayedTotal,
      );
      this.#sample(
        "counter",
        "sluice_network_connections_throttled_per_ip_total",
        "Connections refused (closed after a delay) for their IP's connection_creation_rate quota",
        {},
        stats.connectionsThrottledPerIpTotal,
      );
      this.#sample("gauge", "sluice_network_queued_request_bytes", "Request bytes handed to JS and not yet answered", {}, stats.queuedRequestBytes);
      this.#sample("gauge", "sluice_network_queued_response_bytes", "Response bytes waiting to be written", {}, stats.queuedResponseBytes);
      // Share of the reactor threads' wall clock spent waiting for events since the last scrape.
      if (last !== null && nowMs > last.atMs) {
        const idle = (stats.reactorIdleSecondsTotal - last.reactorIdleSeconds) / (((nowMs - last.atMs) / 1000) * network.threads);
        this.#sample(
          "gauge",
          "kafka_network_socketserver_networkprocessoravgidle_percent",
          "Kafka's NetworkProcessorAvgIdlePercent (0-1): the network threads' idle share since the last scrape",
          {},
          Math.min(1, Math.max(0, idle)),
        );
      }
      this.#lastIdle = { atMs: nowMs, reactorIdleSeconds: stats.reactorIdleSecondsTotal, elu };
    } else {
      this.#lastIdle = { atMs: nowMs, reactorIdleSeconds: 0, elu };
    }
    // The JS thread runs every request handler: its event-loop idle share is Kafka's request handler idle.
    if (last !== null) {
      const since = performance.eventLoopUtilization(elu, last.elu);
      this.#sample(
        "gauge",
        "kafka_server_kafkarequesthandlerpool_requesthandleravgidle_percent",
        "Kafka's RequestHandlerAvgIdlePercent (0-1): the JS thread's event-loop idle share since the last scrape",
        {},
        1 - since.utilization,
      );
    }
  }

  #logs(): void {
    for (const partition of this.#sources.services.partitions.all()) {
      const log = partition.log;
      const labels = { topic: partition.topic, partition: String(partition.index) };
      this.#sample("gauge", "kafka_log_log_size", "Kafka's kafka.log:type=Log,name=Size: bytes of the partition's segments", labels, log.sizeBytes);
      this.#sample("gauge", "kafka_log_log_logendoffset", "Kafka's kafka.log:type=Log,name=LogEndOffset", labels, Number(log.logEndOffset));
      this.#sample("gauge", "kafka_log_log_logstartoffset", "Kafka's kafka.log:type=Log,name=LogStartOffset", labels, Number(log.logStartOffset));
      this.#sample("gauge", "kafka_log_log_numlogsegments", "Kafka's kafka.log:type=Log,name=NumLogSegments", labels, log.segmentBaseOffsets.length);
    }
  }

  #replicasAndController(): void {
    const { metadata } = this.#sources.services;
    let topics = 0;
    let partitions = 0;
    let leaders = 0;
    let underReplicated = 0;
    let offline = 0;
    for (const topic of metadata.topics()) {
      topics++;
      for (const partition of topic.partitions) {
        partitions++;
        if (partition.leaderId === metadata.nodeId) {
          leaders++;
          if (partition.isr.length < partition.replicas.length) underReplicated++;
        }
        if (partition.leaderId < 0) offline++;
      }
    }
    const gauge = (name: string, help: string, value: number) => this.#sample("gauge", name, help, {}, value);
    gauge("kafka_server_replicamanager_partitioncount", "Kafka's ReplicaManager PartitionCount: partitions on this broker", partitions);
    gauge("kafka_server_replicamanager_leadercount", "Kafka's ReplicaManager LeaderCount: partitions this broker leads", leaders);
    gauge(
      "kafka_server_replicamanager_underreplicatedpartitions",
      "Kafka's ReplicaManager UnderReplicatedPartitions: led partitions with an ISR smaller than the replicas",
      underReplicated,
    );
    gauge("kafka_controller_kafkacontroller_activecontrollercount", "Kafka's KafkaController ActiveControllerCount: 1 on the active controller", 1);
    gauge("kafka_controller_kafkacontroller_offlinepartitionscount", "Kafka's KafkaController OfflinePartitionsCount: partitions without a leader", offline);
    gauge("kafka_controller_kafkacontroller_globaltopiccount", "Kafka's KafkaController GlobalTopicCount", topics);
    gauge("kafka_controller_kafkacontroller_globalpartitioncount", "Kafka's KafkaController GlobalPartitionCount", partitions);
    // Kafka's BrokerState: 3 is RUNNING.
    gauge("kafka_server_kafkaserver_brokerstate", "Kafka's KafkaServer BrokerState (3 = RUNNING)", 3);
  }

  /** Kafka's kafka.log:type=LogCleaner and type=LogCleanerManager gauges. */
  #cleaner(nowMs: number): void {
    const stats = this.#sources.cleaner;
    if (stats === null || stats === undefined) return;
    const gauge = (name: string, help: string, value: number) => this.#sample("gauge", name, help, {}, value);
    gauge(
      "kafka_log_logcleaner_max_buffer_utilization_percent",
      "Kafka's LogCleaner max-buffer-utilization-percent: the last clean's offset map use",
      stats.lastBufferUtilization * 100,
    );
    gauge(
      "kafka_log_logcleaner_cleaner_recopy_percent",
      "Kafka's LogCleaner cleaner-recopy-percent: bytes written / bytes read by the last clean",
      stats.lastRecopyRatio * 100,
    );
    gauge("kafka_log_logcleaner_max_clean_time_secs", "Kafka's LogCleaner max-clean-time-secs", stats.maxCleanDurationMs / 1000);
    gauge("kafka_log_logcleaner_deadthreadcount", "Kafka's LogCleaner DeadThreadCount (a worker that dies is replaced)", 0);
    gauge(
      "kafka_log_logcleanermanager_max_dirty_percent",
      "Kafka's LogCleanerManager max-dirty-percent: the dirtiest compacted log at the last pass",
      stats.maxDirtyRatio * 100,
    );
    gauge(
      "kafka_log_logcleanermanager_time_since_last_run_ms",
      "Kafka's LogCleanerManager time-since-last-run-ms",
      stats.lastPassAtMs === 0 ? 0 : nowMs - stats.lastPassAtMs,
    );
    gauge("kafka_log_logcleanermanager_uncleanable_partitions_count", "Kafka's LogCleanerManager uncleanable-partitions-count", stats.uncleanable);
    this.#sample("counter", "sluice_log_cleaner_cleans_total", "Cleans committed", {}, stats.cleans);
    this.#sample("counter", "sluice_log_cleaner_bytes_read_total", "Bytes the cleaner read", {}, stats.bytesRead);
    this.#sample("counter", "sluice_log_cleaner_bytes_written_total", "Bytes the cleaner wrote", {}, stats.bytesWritten);
  }

  #groups(nowMs: number): void {
    const { groups } = this.#sources.services;
    const byState = new Map<string, number>();
    const byType = new Map<string, number>();
    for (const group of groups.overview()) {
      byState.set(`${group.type}\0${group.state}`, (byState.get(`${group.type}\0${group.state}`) ?? 0) + 1);
      byType.set(group.type, (byType.get(group.type) ?? 0) + 1);
    }
    const classic = (state: string) => byState.get(`classic\0${state}`) ?? 0;
    const gauge = (name: string, help: string, value: number) => this.#sample("gauge", name, help, {}, value);
    const prefix = "kafka_coordinator_group_groupmetadatamanager_";
    gauge(`${prefix}numoffsets`, "Kafka's GroupMetadataManager NumOffsets: committed offsets", groups.offsetCount);
    gauge(`${prefix}numgroups`, "Kafka's GroupMetadataManager NumGroups: classic groups", byType.get("classic") ?? 0);
    gauge(`${prefix}numgroupspreparingrebalance`, "Kafka's NumGroupsPreparingRebalance", classic("PreparingRebalance"));
    gauge(`${prefix}numgroupscompletingrebalance`, "Kafka's NumGroupsCompletingRebalance", classic("CompletingRebalance"));
    gauge(`${prefix}numgroupsstable`, "Kafka's NumGroupsStable", classic("Stable"));
    gauge(`${prefix}numgroupsempty`, "Kafka's NumGroupsEmpty", classic("Empty"));
    gauge(`${prefix}numgroupsdead`, "Kafka's NumGroupsDead", classic("Dead"));
    for (const type of ["classic", "consumer"]) {
      this.#sample(
        "gauge",
        "kafka_server_group_coordinator_metrics_group_count",
        "Kafka's group-coordinator-metrics group-count, by protocol",
        { protocol: type },
        byType.get(type) ?? 0,
      );
    }
    for (const [key, count] of byState) {
      const [type, state] = key.split("\0");
      if (type !== "consumer") continue;
      this.#sample(
        "gauge",
        "kafka_server_group_coordinator_metrics_consumer_group_count",
        "Kafka's group-coordinator-metrics consumer-group-count, by state",
        { state: state.toLowerCase() },
        count,
      );
    }

    // Consumer lag (kafka-lag-exporter's names).
    const maxLag = new Map<string, number>();
    const sumLag = new Map<string, number>();
    for (const row of this.#sources.lag.rows(nowMs)) {
      const labels = { group: row.group, topic: row.topic, partition: String(row.partition) };
      this.#sample("gauge", "kafka_consumergroup_group_offset", "The group's committed offset", labels, Number(row.committedOffset));
      if (row.lag < 0) continue;
      this.#sample("gauge", "kafka_consumergroup_group_lag", "Consumer lag in offsets: high watermark − committed offset", labels, row.lag);
      if (row.lagSeconds >= 0) {
        this.#sample(
          "gauge",
          "kafka_consumergroup_group_lag_seconds",
          "Consumer lag in seconds: age of the record at the committed offset (0 when caught up)",
          labels,
          row.lagSeconds,
        );
      }
      maxLag.set(row.group, Math.max(maxLag.get(row.group) ?? 0, row.lag));
      sumLag.set(row.group, (sumLag.get(row.group) ?? 0) + row.lag);
    }
    for (const [group, lag] of maxLag)
      this.#sample("gauge", "kafka_consumergroup_group_max_lag", "The group's largest partition lag (offsets)", { group }, lag);
    for (const [group, lag] of sumLag) this.#sample("gauge", "kafka_consumergroup_group_sum_lag", "The group's total lag (offsets)", { group }, lag);
  }
}
