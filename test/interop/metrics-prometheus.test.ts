// /metrics against the real thing on both sides: Kafka's own ProducerPerformance and
// ConsumerPerformance drive the broker while a real Prometheus (Debian's `prometheus`) scrapes
// /metrics every second. Asserted through Prometheus's query API, with Kafka's JMX-exporter names:
//   - the scrape target is up and Prometheus saw MessagesIn grow while the producer ran;
//   - MessagesIn per topic equals the records the tool sent, and BytesIn equals the producer's own
//     producer-topic-metrics byte-total (both count the record batches' bytes);
//   - Produce RequestsPerSec and TotalTimeMs are there, per API;
//   - per-partition Log Size / LogEndOffset add up to what was written;
//   - after ConsumerPerformance (group perf-group) read everything, BytesOut covers it and the
//     group's lag is 0; after 25 more records the lag is 25 and lag seconds are positive.
// Also /health and /ready. Skips without prometheus unless CI=true (CI installs it with apt).

import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildRecordBatch } from "../../src/protocol/records.js";
import { TestClient } from "../helpers/client.js";
import { freePort, kafkaVersion, runJavaTool, spawnJavaTool } from "../helpers/kafka.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";

const hasPrometheus = spawnSync("prometheus", ["--version"]).status === 0;
if (!hasPrometheus && process.env.CI === "true") throw new Error("prometheus is required under CI (apt-get install prometheus)");

const topic = "metered";
const partitions = 2;
const records = 150_000;
const recordSize = 100;
const group = "perf-group";
const sleep = (ms: number) => new Promise<void>((wake) => setTimeout(wake, ms));

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

describe.skipIf(!hasPrometheus)(`/metrics scraped by Prometheus while Kafka ${kafkaVersion}'s perf tools run`, () => {
  let broker: SluiceBroker;
  let httpUrl: string;
  let prometheusUrl: string;
  let prometheusDir: string;
  let prometheus: ReturnType<typeof spawn> | undefined;

  async function query(expression: string): Promise<Sample[]> {
    const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expression)}`);
    const body = (await response.json()) as { status: string; data: { result: Sample[] } };
    expect(body.status).toBe("success");
    return body.data.result;
  }

  async function scalar(expression: string): Promise<number> {
    const result = await query(expression);
    expect(result.length, `${expression} has no sample`).toBe(1);
    return Number(result[0].value[1]);
  }

  /** Waits until Prometheus has scraped the broker at least once more after this call. */
  async function nextScrape(): Promise<void> {
    const before = Date.now() / 1000;
    for (let i = 0; i < 200; i++) {
      const result = await query("timestamp(up)");
      if (result.length > 0 && Number(result[0].value[1]) > before) return;
      await sleep(250);
    }
    throw new Error("Prometheus did not scrape the broker");
  }

  beforeAll(async () => {
    broker = await startSluice();
    httpUrl = await broker.httpUrl();
    const client = await TestClient.connect(broker.port);
    try {
      const created = await client.request<{ topics: { errorCode: number }[] }>(19, 7, {
        topics: [{ name: topic, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] }],
        timeoutMs: 30_000,
        validateOnly: false,
      });
      expect(created.topics[0].errorCode).toBe(0);
    } finally {
      client.close();
    }
    prometheusDir = await mkdtemp(join(tmpdir(), "sluice-prometheus-"));
    const port = await freePort();
    prometheusUrl = `http://127.0.0.1:${port}`;
    const config = [
      "global:",
      "  scrape_interval: 1s",
      "  scrape_timeout: 1s",
      "scrape_configs:",
      "  - job_name: sluice",
      `    static_configs: [{ targets: ["${new URL(httpUrl).host}"] }]`,
      "",
    ].join("\n");
    await writeFile(join(prometheusDir, "prometheus.yml"), config);
    prometheus = spawn(
      "prometheus",
      [
        `--config.file=${join(prometheusDir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(prometheusDir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: "ignore" },
    );
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${prometheusUrl}/-/ready`)).ok) break;
      } catch {}
      if (i > 300) throw new Error("Prometheus did not start");
      await sleep(100);
    }
    await nextScrape();
  });

  afterAll(async () => {
    prometheus?.kill("SIGTERM");
    if (prometheusDir) await rm(prometheusDir, { recursive: true, force: true });
    if (!broker) return;
    const code = await broker.stop();
    await rm(broker.workDir, { recursive: true, force: true });
    expect(code).toBe(0);
  });

  it("answers /health and /ready", async () => {
    const health = await fetch(`${httpUrl}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "UP" });
    const ready = await fetch(`${httpUrl}/ready`);
    expect(ready.status).toBe(200);
    expect(await scalar('up{job="sluice"}')).toBe(1);
  });

  it("counts what ProducerPerformance sent, as the producer's own metrics count it", async () => {
    const run = await runJavaTool(
      "org.apache.kafka.tools.ProducerPerformance",
      [
        "--topic",
        topic,
        "--num-records",
        String(records),
        "--record-size",
        String(recordSize),
        // Slow enough that Prometheus scrapes several times during the run.
        "--throughput",
        String(records / 5),
        "--print-metrics",
        "--producer-props",
        `bootstrap.servers=${broker.bootstrap}`,
      ],
      { heap: "512m", timeoutMs: 300_000 },
    );
    const context = `ProducerPerformance exited with ${run.code}; output ends with:\n${`${run.stdout}\n${run.stderr}`.slice(-3000)}`;
    expect(run.code, context).toBe(0);
    const sent = [...run.stdout.matchAll(/(\d+) records sent, [\d.]+ records\/sec/g)].at(-1);
    expect(sent?.[1], context).toBe(String(records));
    // --print-metrics: "producer-topic-metrics:byte-total:{client-id=perf-producer-client, topic=metered} : 15212345.000"
    const byteTotal = new RegExp(`producer-topic-metrics:byte-total:\\{[^}]*topic=${topic}\\}\\s*:\\s*([\\d.]+)`).exec(run.stdout);
    expect(byteTotal, context).not.toBeNull();
    await nextScrape();

    const selector = `{job="sluice",topic="${topic}"}`;
    expect(await scalar(`kafka_server_brokertopicmetrics_messagesin_total${selector}`)).toBe(records);
    expect(await scalar(`kafka_server_brokertopicmetrics_bytesin_total${selector}`)).toBe(Number(byteTotal?.[1]));
    expect(await scalar(`kafka_server_brokertopicmetrics_failedproducerequests_total${selector}`)).toBe(0);
    expect(await scalar(`kafka_server_brokertopicmetrics_totalproducerequests_total${selector}`)).toBeGreaterThan(0);
    // The all-topics series (no topic label) counts the same records.
    expect(await scalar('kafka_server_brokertopicmetrics_messagesin_total{job="sluice",topic=""}')).toBe(records);
    // Prometheus saw the counter at three values or more (two of them short of the total): it
    // scraped while the tool ran, which takes ~5 s at its --throughput.
    expect(await scalar(`changes(kafka_server_brokertopicmetrics_messagesin_total${selector}[5m])`)).toBeGreaterThanOrEqual(2);

    expect(await scalar('sum(kafka_network_requestmetrics_requests_total{job="sluice",request="Produce"})')).toBeGreaterThan(0);
    expect(await scalar('kafka_network_requestmetrics_totaltimems_count{job="sluice",request="Produce"}')).toBeGreaterThan(0);
    const quantiles = await query('kafka_network_requestmetrics_totaltimems{job="sluice",request="Produce"}');
    expect(quantiles.map((sample) => sample.metric.quantile).sort()).toEqual(["0.50", "0.75", "0.95", "0.98", "0.99", "0.999"]);

    // Per partition: the log end offsets add up to the records; every partition has bytes and a segment.
    expect(await scalar(`sum(kafka_log_log_logendoffset${selector})`)).toBe(records);
    expect(await scalar(`count(kafka_log_log_size${selector} > 0)`)).toBe(partitions);
    expect(await scalar(`min(kafka_log_log_numlogsegments${selector})`)).toBeGreaterThanOrEqual(1);
    expect(await scalar('kafka_server_replicamanager_underreplicatedpartitions{job="sluice"}')).toBe(0);
    expect(await scalar('kafka_controller_kafkacontroller_activecontrollercount{job="sluice"}')).toBe(1);
    expect(await scalar('kafka_controller_kafkacontroller_offlinepartitionscount{job="sluice"}')).toBe(0);
    const idle = await scalar('kafka_network_socketserver_networkprocessoravgidle_percent{job="sluice"}');
    expect(idle).toBeGreaterThanOrEqual(0);
    expect(idle).toBeLessThanOrEqual(1);
    expect(await scalar('process_resident_memory_bytes{job="sluice"}')).toBeGreaterThan(0);
  }, 320_000);

  it("computes the group's lag after ConsumerPerformance, in offsets and seconds", async () => {
    const consumer = await spawnJavaTool("org.apache.kafka.tools.ConsumerPerformance", [
      "--bootstrap-server",
      broker.bootstrap,
      "--topic",
      topic,
      "--messages",
      String(records),
      "--group",
      group,
    ]);
    let output = "";
    consumer.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
    });
    consumer.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
    });
    const code = await new Promise<number | null>((resolve) => consumer.on("close", (exit) => resolve(exit)));
    expect(code, output.slice(-3000)).toBe(0);
    // "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, ..." then the values.
    const values =
      output
        .trim()
        .split("\n")
        .at(-1)
        ?.split(",")
        .map((value) => value.trim()) ?? [];
    expect(Number(values[4]), output.slice(-2000)).toBe(records);
    await nextScrape();

    const selector = `{job="sluice",group="${group}",topic="${topic}"}`;
    expect(await scalar(`sum(kafka_consumergroup_group_lag${selector})`)).toBe(0);
    expect(await scalar(`sum(kafka_consumergroup_group_offset${selector})`)).toBe(records);
    expect(await scalar(`max(kafka_consumergroup_group_lag_seconds${selector})`)).toBe(0);
    expect(await scalar(`kafka_server_brokertopicmetrics_bytesout_total{job="sluice",topic="${topic}"}`)).toBeGreaterThanOrEqual(
      await scalar(`kafka_server_brokertopicmetrics_bytesin_total{job="sluice",topic="${topic}"}`),
    );
    expect(await scalar('kafka_coordinator_group_groupmetadatamanager_numoffsets{job="sluice"}')).toBeGreaterThanOrEqual(partitions);

    // 25 more records on partition 0, stamped a minute ago: the lag is 25 offsets and about a minute.
    const client = await TestClient.connect(broker.port);
    try {
      const minuteAgo = BigInt(Date.now() - 60_000);
      const batch = buildRecordBatch({
        baseTimestamp: minuteAgo,
        records: Array.from({ length: 25 }, (_, i) => ({ key: null, value: Buffer.from(`late-${i}`) })),
      });
      const produced = await client.request<{ responses: { partitionResponses: { errorCode: number }[] }[] }>(0, 9, {
        transactionalId: null,
        acks: -1,
        timeoutMs: 30_000,
        topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }],
      });
      expect(produced.responses[0].partitionResponses[0].errorCode).toBe(0);
    } finally {
      client.close();
    }
    await nextScrape();
    expect(await scalar(`sum(kafka_consumergroup_group_lag${selector})`)).toBe(25);
    expect(await scalar(`kafka_consumergroup_group_max_lag{job="sluice",group="${group}"}`)).toBe(25);
    const seconds = await scalar(`kafka_consumergroup_group_lag_seconds{job="sluice",group="${group}",topic="${topic}",partition="0"}`);
    expect(seconds).toBeGreaterThanOrEqual(60);
    expect(seconds).toBeLessThan(600);
  }, 320_000);
});
