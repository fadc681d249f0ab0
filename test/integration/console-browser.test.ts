// The web console (src/http/console/) in a real headless Chromium driven by puppeteer-core,
// against the real broker (bin/sluice): a topic created from the page, records produced with
// kafkajs appearing in the live tail, the message browser reading them, and a group's lag
// updating in the groups view after a kafkajs consumer commits and more records arrive. The page
// must load without a script error or a Content-Security-Policy violation.
//
// The screenshot goes to docs/console.png when SLUICE_UPDATE_SCREENSHOT=1, else to a temp dir.
// Needs Debian's chromium (CHROMIUM_PATH, /usr/bin/chromium by default): skipped without it,
// except under CI (CI=true), where .ci/run installs it and its absence fails.

import { spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Consumer, Kafka, logLevel, type Producer } from "kafkajs";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../helpers/groups.js";
import { type SluiceBroker, startSluice } from "../helpers/sluice.js";

const chromium = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const hasChromium = spawnSync(chromium, ["--version"]).status === 0;
if (!hasChromium) {
  if (process.env.CI === "true") throw new Error(`${chromium} is required under CI (apt-get install chromium)`);
  console.warn(`console-browser.test.ts skipped: no Chromium at ${chromium} (apt-get install chromium, or set CHROMIUM_PATH)`);
}

const repository = fileURLToPath(new URL("../../", import.meta.url));
const TOPIC = "clicks";
const GROUP = "dashboard";
const WAIT_MS = 30_000;

describe.skipIf(!hasChromium)("the web console in headless Chromium", () => {
  let broker: SluiceBroker;
  let http: string;
  let kafka: Kafka;
  let producer: Producer;
  let consumer: Consumer | undefined;
  let browser: Browser;
  let page: Page;
  let screenshotDirectory: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    broker = await startSluice({ overrides: { "group.initial.rebalance.delay.ms": 0 } });
    http = await broker.httpUrl();
    kafka = new Kafka({ brokers: [broker.bootstrap], clientId: "console-test", logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100 } });
    producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    screenshotDirectory = await mkdtemp(join(tmpdir(), "sluice-console-"));
    browser = await puppeteer.launch({
      executablePath: chromium,
      headless: true,
      // Tests run as root, where Chromium's sandbox cannot start.
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    });
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 820 });
    page.on("pageerror", (error) => pageErrors.push(`page error: ${error instanceof Error ? error.message : String(error)}`));
    page.on("console", (message) => {
      if (message.type() === "error") pageErrors.push(`console error: ${message.text()}`);
    });
  }, 120_000);

  afterAll(async () => {
    await consumer?.disconnect().catch(() => {});
    await producer?.disconnect().catch(() => {});
    await browser?.close();
    await broker?.stop();
    if (screenshotDirectory) await rm(screenshotDirectory, { recursive: true, force: true });
  });

  const textsOf = (selector: string) => page.$$eval(selector, (elements) => elements.map((element) => element.textContent ?? ""));

  it("creates a topic from the topics view", async () => {
    await page.goto(`${http}/#/topics`);
    await page.waitForSelector("#create-topic");
    await page.type("#new-topic-name", TOPIC);
    await page.$eval("#new-topic-partitions", (input) => {
      (input as unknown as { value: string }).value = "2";
    });
    await page.click("#create-topic button[type=submit]");
    await page.waitForSelector(`#topics-table tr[data-topic="${TOPIC}"]`, { timeout: WAIT_MS });
    const row = await textsOf(`#topics-table tr[data-topic="${TOPIC}"] td`);
    expect(row.slice(0, 2)).toEqual([TOPIC, "2"]);
    const admin = kafka.admin();
    await admin.connect();
    expect(await admin.listTopics()).toContain(TOPIC);
    await admin.disconnect();
  });

  it("shows records produced with kafkajs in the live tail", async () => {
    await page.goto(`${http}/#/tail?topic=${TOPIC}`);
    await page.waitForSelector("#tail-status.live", { timeout: WAIT_MS });
    expect(await page.$eval("#tail-status", (element) => element.textContent)).toBe(`live on ${TOPIC} (0@0, 1@0)`);
    const clicks = [
      { partition: 0, key: "ada", value: { user: "ada", page: "/pricing", ms: 132 } },
      { partition: 1, key: "grace", value: { user: "grace", page: "/docs/consumer-groups", ms: 87 } },
      { partition: 0, key: "linus", value: { user: "linus", page: "/signup", ms: 241 } },
    ];
    await producer.send({
      topic: TOPIC,
      messages: clicks.map((click) => ({
        partition: click.partition,
        key: click.key,
        value: JSON.stringify(click.value),
        headers: { "content-type": "application/json" },
      })),
    });
    await page.waitForFunction('document.querySelectorAll("#tail-table tbody tr[data-offset]").length === 3', { timeout: WAIT_MS });
    expect(await page.$eval("#tail-count", (element) => element.textContent)).toBe("3");
    const values = await textsOf("#tail-table tbody tr[data-offset] td.record-value");
    expect(values.sort()).toEqual(clicks.map((click) => JSON.stringify(click.value)).sort());
    // Partition and offset of each row: partition 0 has offsets 0 and 1, partition 1 offset 0.
    const positions = await page.$$eval("#tail-table tbody tr[data-offset]", (rows) =>
      rows.map((row) => `${row.getAttribute("data-partition")}/${row.getAttribute("data-offset")}`),
    );
    expect(positions.sort()).toEqual(["0/0", "0/1", "1/0"]);
    const path = process.env.SLUICE_UPDATE_SCREENSHOT === "1" ? join(repository, "docs", "console.png") : join(screenshotDirectory, "console.png");
    await page.screenshot({ path });
    expect(statSync(path).size).toBeGreaterThan(10_000);
  });

  it("reads the records back in the message browser, keys and headers included", async () => {
    await page.goto(`${http}/#/messages?topic=${TOPIC}&partition=0`);
    await page.waitForSelector("#messages-table tbody tr[data-offset]", { timeout: WAIT_MS });
    const rows = await page.$$eval("#messages-table tbody tr[data-offset]", (elements) =>
      elements.map((row) => [...row.querySelectorAll("td")].map((cell) => cell.textContent ?? "")),
    );
    expect(rows.map((cells) => [cells[1], cells[3], cells[5]])).toEqual([
      ["0", "ada", "content-type: application/json"],
      ["1", "linus", "content-type: application/json"],
    ]);
  });

  it("updates a group's lag in the groups view as records wait", async () => {
    consumer = kafka.consumer({ groupId: GROUP, sessionTimeout: 10_000, heartbeatInterval: 500 });
    await consumer.connect();
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    await consumer.run({ autoCommitInterval: 100, eachMessage: async () => {} });
    await page.goto(`${http}/#/groups`);
    const lagCell = `#groups-table tr[data-group="${GROUP}"] td.lag`;
    await page.waitForSelector(lagCell, { timeout: WAIT_MS });
    // Caught up: every record of both partitions committed, the group stable.
    await page.waitForSelector(`#groups-table tr[data-group="${GROUP}"]:has(.badge.Stable) td.lag[data-lag="0"]`, { timeout: WAIT_MS });
    await waitFor("the group's commits", async () => {
      const admin = kafka.admin();
      await admin.connect();
      const offsets = await admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] });
      await admin.disconnect();
      return offsets[0].partitions.map((p) => Number(p.offset)).reduce((a, b) => a + b, 0) === 3 ? true : null;
    });
    consumer.pause([{ topic: TOPIC }]);
    await producer.send({ topic: TOPIC, messages: [1, 2, 3, 4].map((i) => ({ partition: 1, key: `late-${i}`, value: `{"late":${i}}` })) });
    // The page polls the API: the same cell shows the new lag without a reload.
    await page.waitForSelector(`${lagCell}[data-lag="4"]`, { timeout: WAIT_MS });
    expect(await page.$eval(lagCell, (element) => element.textContent)).toBe("4");
    await page.goto(`${http}/#/groups/${GROUP}`);
    await page.waitForSelector(`#offsets-table tr[data-partition="1"] td.lag[data-lag="4"]`, { timeout: WAIT_MS });
    const members = await textsOf("#members-table tbody td");
    expect(members).toContain("console-test");
    expect(members).toContain(`${TOPIC} [0, 1]`);
  });

  it("loaded every view without a script error or a CSP violation", async () => {
    for (const view of ["brokers", "throughput"]) {
      await page.goto(`${http}/#/${view}`);
      await page.waitForSelector(view === "brokers" ? "#brokers-table" : "#charts canvas", { timeout: WAIT_MS });
    }
    expect(await page.$eval("#connection", (element) => element.textContent)).toBe("connected");
    expect(pageErrors).toEqual([]);
  });
});
