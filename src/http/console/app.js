// Sluice's web console: plain JavaScript, no framework and nothing loaded from elsewhere (the
// page's Content-Security-Policy allows only this origin). Views are chosen by the URL's hash
// (#/topics, #/groups/ID, #/tail?topic=T…); each view renders into <main> and registers what to
// stop (timers, WebSockets) when another view replaces it. Data comes from the admin REST API
// (/api/…) and the live WebSockets (/ws/tail, /ws/throughput); DOM nodes are built with h(), and
// every text from the broker goes in as text, never as HTML.

const view = document.getElementById("view");
/** Functions that stop the current view's timers and sockets. */
let stops = [];
/** How keys, values and header values are shown: auto, text, json or hex. */
let payloadFormat = localStorage.getItem("sluice.payloadFormat") ?? "auto";

// ---------------------------------------------------------------------------------------------
// Helpers

function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") element.className = value;
    else if (key === "text") element.textContent = value;
    else if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key === "value") element.value = value;
    else element.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(data.message ? `${data.error}: ${data.message}` : (data.error ?? `HTTP ${response.status}`));
    error.status = response.status;
    throw error;
  }
  return data;
}

function toast(message, isError = false) {
  const item = h("div", { class: isError ? "message error" : "message", text: message });
  document.getElementById("toast").append(item);
  setTimeout(() => item.remove(), isError ? 8000 : 4000);
}

const numberFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
const formatNumber = (value) => numberFormat.format(value);

function formatBytes(bytes) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

function formatTime(ms) {
  const date = new Date(ms);
  const pad = (n, width = 2) => String(n).padStart(width, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

function formatDuration(seconds) {
  if (seconds < 0) return "?";
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3600) return `${(seconds / 60).toFixed(1)} min`;
  if (seconds < 86400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

function every(ms, task) {
  const timer = setInterval(task, ms);
  stops.push(() => clearInterval(timer));
}

function table(headers, rows, attributes = {}) {
  const head = h(
    "tr",
    {},
    headers.map((header) => (typeof header === "string" ? h("th", { text: header }) : h("th", { class: header.class, text: header.text }))),
  );
  const body = h("tbody", {}, rows);
  if (rows.length === 0) body.append(h("tr", {}, h("td", { class: "empty", colspan: headers.length, text: "Nothing here yet." })));
  return h("table", attributes, h("thead", {}, head), body);
}

function badge(state) {
  return h("span", { class: `badge ${state}`, text: state });
}

function link(href, text) {
  return h("a", { href, text });
}

function pageTitle(text, ...extra) {
  return h("h1", {}, text, ...extra);
}

function topicOptions(topics, selected) {
  return topics.map((topic) => h("option", { value: topic.name, selected: topic.name === selected, text: topic.name }));
}

// ---------------------------------------------------------------------------------------------
// Payloads: base64 from the API, shown as text, JSON or hex

function bytesOf(base64) {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function hexDump(bytes) {
  const lines = [];
  for (let offset = 0; offset < bytes.length; offset += 16) {
    const row = bytes.subarray(offset, offset + 16);
    const hex = Array.from(row, (byte) => byte.toString(16).padStart(2, "0")).join(" ");
    const ascii = Array.from(row, (byte) => (byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : ".")).join("");
    lines.push(`${offset.toString(16).padStart(6, "0")}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return lines.join("\n");
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const lenientUtf8 = new TextDecoder("utf-8");

/** The text to show for a key, value or header value in `format`. */
function renderPayload(base64, size, format = payloadFormat) {
  if (base64 === null) return h("span", { class: "null", text: "null" });
  const bytes = bytesOf(base64);
  let text;
  if (format === "hex") {
    text = hexDump(bytes);
  } else if (format === "text") {
    text = lenientUtf8.decode(bytes);
  } else if (format === "json") {
    const decoded = lenientUtf8.decode(bytes);
    try {
      text = JSON.stringify(JSON.parse(decoded), null, 2);
    } catch {
      text = `${decoded}  (not JSON)`;
    }
  } else {
    try {
      const decoded = strictUtf8.decode(bytes);
      try {
        const parsed = JSON.parse(decoded);
        text = typeof parsed === "object" && parsed !== null ? JSON.stringify(parsed) : decoded;
      } catch {
        text = decoded;
      }
    } catch {
      text = hexDump(bytes);
    }
  }
  if (size !== undefined && size > bytes.length) text += `\n… (${formatBytes(size)} in all)`;
  return text;
}

function formatSelect(onChange) {
  return h(
    "label",
    { class: "field" },
    "Show payloads as",
    h(
      "select",
      {
        id: "payload-format",
        onchange: (event) => {
          payloadFormat = event.target.value;
          localStorage.setItem("sluice.payloadFormat", payloadFormat);
          onChange();
        },
      },
      ["auto", "text", "json", "hex"].map((format) => h("option", { value: format, selected: format === payloadFormat, text: format })),
    ),
  );
}

function recordRow(record, fresh = false) {
  const headers = record.headers.length === 0 ? "" : record.headers.map((header) => `${header.key}: ${renderPayloadText(header.value)}`).join("\n");
  return h(
    "tr",
    { class: fresh ? "fresh" : undefined, "data-offset": record.offset, "data-partition": record.partition },
    h("td", { class: "num", text: record.partition }),
    h("td", { class: "num mono", text: record.offset }),
    h("td", { class: "mono time", text: formatTime(record.timestamp), title: `${record.timestampType} ${record.timestamp}` }),
    h("td", { class: "payload record-key" }, renderPayload(record.key, record.keySize)),
    h("td", { class: "payload record-value" }, renderPayload(record.value, record.valueSize)),
    h("td", { class: "payload", text: headers }),
  );
}

function renderPayloadText(base64) {
  const rendered = renderPayload(base64);
  return typeof rendered === "string" ? rendered : "null";
}

const RECORD_HEADERS = [{ text: "Partition", class: "num" }, { text: "Offset", class: "num" }, "Timestamp", "Key", "Value", "Headers"];

// ---------------------------------------------------------------------------------------------
// Brokers

async function brokersView() {
  view.append(pageTitle("Brokers"));
  const cards = h("div", { class: "cards" });
  const brokersTable = h("div");
  view.append(cards, brokersTable);
  const refresh = async () => {
    const [cluster, { brokers }] = await Promise.all([api("GET", "/api/cluster"), api("GET", "/api/brokers")]);
    const card = (label, value, small = false) =>
      h("div", { class: "card" }, h("div", { class: "label", text: label }), h("div", { class: small ? "value small" : "value", text: value }));
    cards.replaceChildren(
      card("Cluster id", cluster.clusterId, true),
      card("Controller", cluster.controllerId),
      card("Brokers", cluster.brokers),
      card("Topics", cluster.topics),
      card("Partitions", cluster.partitions),
      card("Groups", cluster.groups),
      card("Uptime", formatDuration(cluster.uptimeSeconds)),
    );
    brokersTable.replaceChildren(
      table(
        ["Node", "Endpoints", "Rack", "Role", { text: "Partitions", class: "num" }, { text: "Size", class: "num" }, "Log directory"],
        brokers.map((broker) =>
          h(
            "tr",
            {},
            h("td", { class: "num", text: broker.nodeId }),
            h("td", { class: "mono", text: broker.endpoints.map((e) => `${e.listener}://${e.host}:${e.port}`).join("\n") }),
            h("td", { text: broker.rack ?? "–" }),
            h("td", {}, broker.controller ? badge("controller") : "", broker.self ? " this broker" : ""),
            h("td", { class: "num", text: broker.partitions === undefined ? "–" : formatNumber(broker.partitions) }),
            h("td", { class: "num", text: broker.sizeBytes === undefined ? "–" : formatBytes(broker.sizeBytes) }),
            h("td", { class: "mono", text: broker.logDir ?? "–" }),
          ),
        ),
        { id: "brokers-table" },
      ),
    );
  };
  await refresh();
  every(5000, () => refresh().catch(() => {}));
}

// ---------------------------------------------------------------------------------------------
// Topics

function parseConfigs(text) {
  const configs = {};
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const equals = trimmed.indexOf("=");
    if (equals <= 0) throw new Error(`"${trimmed}" is not name=value`);
    configs[trimmed.slice(0, equals).trim()] = trimmed.slice(equals + 1).trim();
  }
  return configs;
}

async function topicsView() {
  const showInternal = h("input", { type: "checkbox", id: "show-internal" });
  const list = h("div");
  const name = h("input", { id: "new-topic-name", placeholder: "orders", required: true });
  const partitions = h("input", { id: "new-topic-partitions", type: "number", min: 1, value: "1" });
  const configs = h("textarea", { id: "new-topic-configs", rows: 1, cols: 34, placeholder: "retention.ms=86400000" });
  const form = h(
    "form",
    {
      class: "inline panel",
      id: "create-topic",
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          const created = await api("POST", "/api/topics", {
            name: name.value.trim(),
            partitions: Number(partitions.value),
            configs: parseConfigs(configs.value),
          });
          toast(`Created topic ${created.name} with ${created.partitions} partition(s)`);
          name.value = "";
          configs.value = "";
          await refresh();
        } catch (error) {
          toast(error.message, true);
        }
      },
    },
    h("label", { class: "field" }, "Name", name),
    h("label", { class: "field" }, "Partitions", partitions),
    h("label", { class: "field" }, "Configs (name=value per line)", configs),
    h("button", { class: "primary", type: "submit", text: "Create topic" }),
  );
  view.append(pageTitle("Topics"), form, h("div", { class: "toolbar" }, h("label", {}, showInternal, " show internal topics")), list);
  const refresh = async () => {
    const { topics } = await api("GET", "/api/topics");
    const shown = topics.filter((topic) => showInternal.checked || !topic.internal);
    list.replaceChildren(
      table(
        [
          "Topic",
          { text: "Partitions", class: "num" },
          { text: "Replication", class: "num" },
          { text: "Records", class: "num" },
          { text: "Size", class: "num" },
          "",
        ],
        shown.map((topic) =>
          h(
            "tr",
            { "data-topic": topic.name },
            h("td", {}, link(`#/topics/${encodeURIComponent(topic.name)}`, topic.name), topic.internal ? h("span", { class: "muted", text: " internal" }) : ""),
            h("td", { class: "num", text: topic.partitions }),
            h("td", { class: "num", text: topic.replicationFactor }),
            h("td", { class: "num", text: formatNumber(topic.records) }),
            h("td", { class: "num", text: formatBytes(topic.sizeBytes) }),
            h(
              "td",
              {},
              link(`#/messages?topic=${encodeURIComponent(topic.name)}`, "browse"),
              " · ",
              link(`#/tail?topic=${encodeURIComponent(topic.name)}`, "tail"),
            ),
          ),
        ),
        { id: "topics-table" },
      ),
    );
  };
  showInternal.addEventListener("change", () => refresh());
  await refresh();
  every(5000, () => refresh().catch(() => {}));
}

async function topicView(name) {
  const topic = await api("GET", `/api/topics/${encodeURIComponent(name)}`);
  const remove = h("button", {
    class: "danger",
    id: "delete-topic",
    text: "Delete topic",
    onclick: async () => {
      if (!confirm(`Delete topic ${name} and all its records?`)) return;
      try {
        await api("DELETE", `/api/topics/${encodeURIComponent(name)}`);
        toast(`Deleted topic ${name}`);
        location.hash = "#/topics";
      } catch (error) {
        toast(error.message, true);
      }
    },
  });
  view.append(
    pageTitle(
      topic.name,
      topic.internal ? badge("internal") : "",
      h("a", { class: "title-link", href: `#/messages?topic=${encodeURIComponent(name)}`, text: "browse" }),
      h("a", { class: "title-link", href: `#/tail?topic=${encodeURIComponent(name)}`, text: "tail" }),
    ),
    h("p", { class: "muted mono", text: `id ${topic.id}` }),
    h("h2", { text: "Partitions" }),
    table(
      [
        { text: "Partition", class: "num" },
        { text: "Leader", class: "num" },
        "Replicas",
        "ISR",
        { text: "Log start", class: "num" },
        { text: "High watermark", class: "num" },
        { text: "Records", class: "num" },
        { text: "Size", class: "num" },
        { text: "Segments", class: "num" },
      ],
      topic.partitions.map((partition) =>
        h(
          "tr",
          {},
          h("td", { class: "num" }, link(`#/messages?topic=${encodeURIComponent(name)}&partition=${partition.partition}`, String(partition.partition))),
          h("td", { class: "num", text: partition.leader }),
          h("td", { text: partition.replicas.join(", ") }),
          h("td", { text: partition.isr.join(", ") }),
          h("td", { class: "num", text: partition.hosted ? partition.logStartOffset : "–" }),
          h("td", { class: "num", text: partition.hosted ? partition.highWatermark : "–" }),
          h("td", { class: "num", text: partition.hosted ? formatNumber(partition.highWatermark - partition.logStartOffset) : "–" }),
          h("td", { class: "num", text: partition.hosted ? formatBytes(partition.sizeBytes) : "–" }),
          h("td", {
            class: "num",
            text: partition.hosted ? partition.segments : "–",
            title: partition.hosted ? `base offsets ${partition.segmentBaseOffsets.join(", ")}` : undefined,
          }),
        ),
      ),
      { id: "partitions-table" },
    ),
    h("h2", { text: "Configs" }),
    table(
      ["Name", "Value", "Source"],
      topic.configs.map((config) =>
        h(
          "tr",
          { title: config.documentation ?? "" },
          h("td", { class: "mono", text: config.name }),
          h("td", { class: "mono", text: config.sensitive ? "(sensitive)" : (config.value ?? "null") }),
          h("td", {}, config.isDefault ? h("span", { class: "muted", text: config.source }) : h("strong", { text: config.source })),
        ),
      ),
    ),
    h("h2", { text: "Danger zone" }),
    remove,
  );
}

// ---------------------------------------------------------------------------------------------
// Consumer groups

async function groupsView() {
  const list = h("div");
  view.append(pageTitle("Consumer groups"), list);
  const refresh = async () => {
    const { groups } = await api("GET", "/api/groups");
    list.replaceChildren(
      table(
        ["Group", "State", "Type", { text: "Members", class: "num" }, "Topics", { text: "Lag", class: "num" }],
        groups.map((group) =>
          h(
            "tr",
            { "data-group": group.groupId },
            h("td", {}, link(`#/groups/${encodeURIComponent(group.groupId)}`, group.groupId)),
            h("td", {}, badge(group.state)),
            h("td", { text: group.type }),
            h("td", { class: "num", text: group.members }),
            h("td", { text: group.topics.join(", ") }),
            h("td", { class: group.lag > 0 ? "num lag lag-positive" : "num lag", "data-lag": group.lag, text: formatNumber(group.lag) }),
          ),
        ),
        { id: "groups-table" },
      ),
    );
  };
  await refresh();
  every(2000, () => refresh().catch(() => {}));
}

async function groupView(groupId) {
  const header = h("div");
  const members = h("div");
  const offsets = h("div");
  const topicSelect = h("select", { id: "reset-topic" });
  const partitionsInput = h("input", { id: "reset-partitions", placeholder: "all", size: 10 });
  const valueInput = h("input", { id: "reset-value", placeholder: "offset or shift", size: 16 });
  const timeInput = h("input", { id: "reset-time", type: "datetime-local", step: 1 });
  const toSelect = h(
    "select",
    { id: "reset-to" },
    ["earliest", "latest", "offset", "timestamp", "shift"].map((to) => h("option", { value: to, text: to })),
  );
  const resetForm = h(
    "form",
    {
      class: "inline panel",
      id: "reset-offsets",
      onsubmit: async (event) => {
        event.preventDefault();
        const body = { topic: topicSelect.value, to: toSelect.value };
        if (partitionsInput.value.trim() !== "") body.partitions = partitionsInput.value.split(",").map((p) => Number(p.trim()));
        if (toSelect.value === "timestamp") body.value = new Date(timeInput.value).getTime();
        else if (toSelect.value === "offset" || toSelect.value === "shift") body.value = Number(valueInput.value);
        try {
          const result = await api("POST", `/api/groups/${encodeURIComponent(groupId)}/reset-offsets`, body);
          toast(`Reset ${result.topic}: ${result.offsets.map((o) => `${o.partition}→${o.offset}`).join(", ")}`);
          await refresh();
        } catch (error) {
          toast(error.message, true);
        }
      },
    },
    h("label", { class: "field" }, "Topic", topicSelect),
    h("label", { class: "field" }, "Partitions (comma list)", partitionsInput),
    h("label", { class: "field" }, "Reset to", toSelect),
    h("label", { class: "field" }, "Offset / shift", valueInput),
    h("label", { class: "field" }, "Time", timeInput),
    h("button", { class: "primary", type: "submit", text: "Reset offsets" }),
  );
  const remove = h("button", {
    class: "danger",
    id: "delete-group",
    text: "Delete group",
    onclick: async () => {
      if (!confirm(`Delete group ${groupId} and its committed offsets?`)) return;
      try {
        await api("DELETE", `/api/groups/${encodeURIComponent(groupId)}`);
        toast(`Deleted group ${groupId}`);
        location.hash = "#/groups";
      } catch (error) {
        toast(error.message, true);
      }
    },
  });
  view.append(
    pageTitle(groupId),
    header,
    h("h2", { text: "Members" }),
    members,
    h("h2", { text: "Offsets and lag" }),
    offsets,
    h("h2", { text: "Reset offsets" }),
    h("p", { class: "muted", text: "Kafka resets offsets only while the group has no members (stop its consumers first)." }),
    resetForm,
    remove,
  );
  const { topics } = await api("GET", "/api/topics");
  topicSelect.replaceChildren(...topicOptions(topics.filter((topic) => !topic.internal)));
  let topicChosen = false;
  const refresh = async () => {
    const group = await api("GET", `/api/groups/${encodeURIComponent(groupId)}`);
    if (!topicChosen && group.offsets.length > 0) {
      topicSelect.value = group.offsets[0].topic;
      topicChosen = true;
    }
    header.replaceChildren(
      h(
        "div",
        { class: "cards" },
        h("div", { class: "card" }, h("div", { class: "label", text: "State" }), h("div", { class: "value" }, badge(group.state))),
        h("div", { class: "card" }, h("div", { class: "label", text: "Type" }), h("div", { class: "value", text: group.type })),
        h(
          "div",
          { class: "card" },
          h("div", { class: "label", text: "Protocol" }),
          h("div", { class: "value small", text: `${group.protocolType || "–"} ${group.protocol || ""}` }),
        ),
        h("div", { class: "card" }, h("div", { class: "label", text: "Members" }), h("div", { class: "value", text: group.members.length })),
        h(
          "div",
          { class: "card" },
          h("div", { class: "label", text: "Total lag" }),
          h("div", { class: "value", id: "group-total-lag", text: formatNumber(group.offsets.reduce((sum, row) => sum + Math.max(0, row.lag), 0)) }),
        ),
      ),
    );
    members.replaceChildren(
      table(
        ["Member", "Client id", "Host", "Assignment"],
        group.members.map((member) =>
          h(
            "tr",
            {},
            h("td", { class: "mono", text: member.memberId }),
            h("td", { text: member.clientId }),
            h("td", { class: "mono", text: member.host }),
            h("td", { text: member.assignment.map((a) => `${a.topic} [${a.partitions.join(", ")}]`).join("; ") || "–" }),
          ),
        ),
        { id: "members-table" },
      ),
    );
    offsets.replaceChildren(
      table(
        [
          "Topic",
          { text: "Partition", class: "num" },
          { text: "Committed", class: "num" },
          { text: "End", class: "num" },
          { text: "Lag", class: "num" },
          { text: "Lag (time)", class: "num" },
          "Committed at",
        ],
        group.offsets.map((row) =>
          h(
            "tr",
            { "data-topic": row.topic, "data-partition": row.partition },
            h("td", { text: row.topic }),
            h("td", { class: "num", text: row.partition }),
            h("td", { class: "num", text: row.committedOffset }),
            h("td", { class: "num", text: row.endOffset }),
            h("td", { class: row.lag > 0 ? "num lag lag-positive" : "num lag", "data-lag": row.lag, text: formatNumber(row.lag) }),
            h("td", { class: "num", text: formatDuration(row.lagSeconds) }),
            h("td", { class: "mono", text: formatTime(row.commitTimestampMs) }),
          ),
        ),
        { id: "offsets-table" },
      ),
    );
  };
  await refresh();
  every(2000, () => refresh().catch(() => {}));
}

// ---------------------------------------------------------------------------------------------
// Message browser

async function messagesView(params) {
  const { topics } = await api("GET", "/api/topics");
  const topicSelect = h("select", { id: "browse-topic" }, topicOptions(topics, params.get("topic") ?? topics.find((t) => !t.internal)?.name));
  const partitionSelect = h("select", { id: "browse-partition" });
  const modeSelect = h(
    "select",
    { id: "browse-mode" },
    h("option", { value: "start", text: "from the log start" }),
    h("option", { value: "offset", text: "from offset" }),
    h("option", { value: "timestamp", text: "from time" }),
    h("option", { value: "end", text: "the newest" }),
  );
  const offsetInput = h("input", { id: "browse-offset", type: "number", min: 0, value: "0", size: 10 });
  const timeInput = h("input", { id: "browse-time", type: "datetime-local", step: 1 });
  const limitInput = h("input", { id: "browse-limit", type: "number", min: 1, max: 500, value: "50", size: 5 });
  const summary = h("p", { class: "muted", id: "browse-summary" });
  const results = h("div");
  let lastPage = null;
  let nextOffset = null;

  const fillPartitions = () => {
    const topic = topics.find((t) => t.name === topicSelect.value);
    const wanted = params.get("partition") ?? "0";
    partitionSelect.replaceChildren(
      ...Array.from({ length: topic?.partitions ?? 0 }, (_, i) => h("option", { value: i, selected: String(i) === wanted, text: `partition ${i}` })),
    );
  };
  const render = () => {
    if (lastPage === null) return;
    results.replaceChildren(
      table(
        RECORD_HEADERS,
        lastPage.records.map((record) => recordRow(record)),
        { id: "messages-table" },
      ),
    );
  };
  const load = async (fromOffset) => {
    const query = new URLSearchParams({ partition: partitionSelect.value, limit: limitInput.value });
    if (fromOffset !== undefined) query.set("offset", String(fromOffset));
    else if (modeSelect.value === "offset") query.set("offset", offsetInput.value);
    else if (modeSelect.value === "timestamp") query.set("timestamp", String(new Date(timeInput.value).getTime()));
    try {
      if (modeSelect.value === "end" && fromOffset === undefined) {
        const first = await api(
          "GET",
          `/api/topics/${encodeURIComponent(topicSelect.value)}/messages?${new URLSearchParams({ partition: partitionSelect.value, limit: "1" })}`,
        );
        query.set("offset", String(Math.max(first.logStartOffset, first.highWatermark - Number(limitInput.value))));
      }
      lastPage = await api("GET", `/api/topics/${encodeURIComponent(topicSelect.value)}/messages?${query}`);
      nextOffset = lastPage.nextOffset;
      summary.textContent = `${lastPage.records.length} record(s) from offset ${lastPage.from} · log start ${lastPage.logStartOffset} · high watermark ${lastPage.highWatermark}`;
      render();
    } catch (error) {
      toast(error.message, true);
    }
  };
  topicSelect.addEventListener("change", () => {
    params.delete("partition");
    fillPartitions();
  });
  fillPartitions();
  view.append(
    pageTitle("Messages"),
    h(
      "form",
      {
        class: "inline panel",
        id: "browse",
        onsubmit: (event) => {
          event.preventDefault();
          load();
        },
      },
      h("label", { class: "field" }, "Topic", topicSelect),
      h("label", { class: "field" }, "Partition", partitionSelect),
      h("label", { class: "field" }, "Read", modeSelect),
      h("label", { class: "field" }, "Offset", offsetInput),
      h("label", { class: "field" }, "Time", timeInput),
      h("label", { class: "field" }, "Limit", limitInput),
      h("button", { class: "primary", type: "submit", text: "Read" }),
      h("button", { type: "button", id: "browse-next", text: "Next page →", onclick: () => nextOffset !== null && load(nextOffset) }),
      formatSelect(render),
    ),
    summary,
    results,
  );
  if (topicSelect.value !== "") await load();
}

// ---------------------------------------------------------------------------------------------
// Live tail

const TAIL_ROWS_MAX = 500;

async function tailView(params) {
  const { topics } = await api("GET", "/api/topics");
  const topicSelect = h("select", { id: "tail-topic" }, topicOptions(topics, params.get("topic") ?? topics.find((t) => !t.internal)?.name));
  const partitionSelect = h("select", { id: "tail-partition" });
  const fromSelect = h(
    "select",
    { id: "tail-from" },
    h("option", { value: "end", text: "new records" }),
    h("option", { value: "beginning", text: "from the beginning" }),
  );
  const status = h("span", { id: "tail-status", class: "muted", text: "stopped" });
  const count = h("span", { id: "tail-count", text: "0" });
  const body = h("tbody");
  const rows = [];
  let socket = null;
  let received = 0;

  const fillPartitions = () => {
    const topic = topics.find((t) => t.name === topicSelect.value);
    partitionSelect.replaceChildren(
      h("option", { value: "", text: "all partitions" }),
      ...Array.from({ length: topic?.partitions ?? 0 }, (_, i) => h("option", { value: i, text: `partition ${i}` })),
    );
  };
  const stop = () => {
    if (socket !== null) socket.close();
    socket = null;
    status.textContent = "stopped";
    toggle.textContent = "Start";
  };
  const start = () => {
    stop();
    received = 0;
    count.textContent = "0";
    body.replaceChildren();
    rows.length = 0;
    const query = new URLSearchParams({ topic: topicSelect.value, from: fromSelect.value });
    if (partitionSelect.value !== "") query.set("partition", partitionSelect.value);
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const opened = new WebSocket(`${scheme}://${location.host}/ws/tail?${query}`);
    socket = opened;
    status.textContent = "connecting…";
    toggle.textContent = "Stop";
    opened.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "subscribed") {
        status.textContent = `live on ${message.topic} (${message.partitions.map((p) => `${p.partition}@${p.offset}`).join(", ")})`;
        status.className = "live";
      } else if (message.type === "records") {
        received += message.records.length;
        count.textContent = String(received);
        for (const record of message.records) {
          const row = recordRow(record, true);
          rows.unshift({ record, row });
          body.prepend(row);
        }
        while (rows.length > TAIL_ROWS_MAX) rows.pop().row.remove();
      } else if (message.type === "skipped") {
        body.prepend(
          h(
            "tr",
            {},
            h("td", { colspan: 6, class: "muted", text: `partition ${message.partition}: skipped offsets ${message.from}–${message.to - 1} to keep up` }),
          ),
        );
      } else if (message.type === "error") {
        toast(message.message, true);
      }
    });
    opened.addEventListener("close", () => {
      if (socket === opened) {
        socket = null;
        status.textContent = "closed";
        status.className = "muted";
        toggle.textContent = "Start";
      }
    });
  };
  const rerender = () => {
    for (const entry of rows) {
      const row = recordRow(entry.record);
      entry.row.replaceWith(row);
      entry.row = row;
    }
  };
  const toggle = h("button", { class: "primary", id: "tail-toggle", type: "button", text: "Start", onclick: () => (socket === null ? start() : stop()) });
  topicSelect.addEventListener("change", fillPartitions);
  fillPartitions();
  stops.push(stop);
  view.append(
    pageTitle("Live tail"),
    h(
      "div",
      { class: "toolbar panel" },
      h("label", { class: "field" }, "Topic", topicSelect),
      h("label", { class: "field" }, "Partition", partitionSelect),
      h("label", { class: "field" }, "Start with", fromSelect),
      toggle,
      formatSelect(rerender),
    ),
    h("p", {}, status, " · ", count, " record(s) received (the newest first; the last ", String(TAIL_ROWS_MAX), " kept)"),
    h(
      "div",
      { class: "tail-list" },
      h(
        "table",
        { id: "tail-table" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            RECORD_HEADERS.map((x) => h("th", { class: x.class, text: x.text ?? x })),
          ),
        ),
        body,
      ),
    ),
  );
  if (params.get("topic") !== null) start();
}

// ---------------------------------------------------------------------------------------------
// Throughput charts (canvas, drawn by hand)

const CHART_WINDOW_MS = 5 * 60 * 1000;

function drawChart(canvas, samples, pick, color, format) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const context = canvas.getContext("2d");
  context.scale(ratio, ratio);
  context.clearRect(0, 0, width, height);
  const left = 64;
  const right = 8;
  const top = 8;
  const bottom = 20;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const now = samples.length > 0 ? samples[samples.length - 1].timeMs : Date.now();
  const startMs = now - CHART_WINDOW_MS;
  const values = samples.map(pick);
  const maxValue = Math.max(1, ...values);
  const niceMax = niceCeiling(maxValue);
  context.font = "11px system-ui, sans-serif";
  context.fillStyle = "#656d76";
  context.strokeStyle = "#eaeef2";
  context.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = top + plotHeight - (plotHeight * i) / 4;
    context.beginPath();
    context.moveTo(left, Math.round(y) + 0.5);
    context.lineTo(left + plotWidth, Math.round(y) + 0.5);
    context.stroke();
    context.textAlign = "right";
    context.textBaseline = "middle";
    context.fillText(format((niceMax * i) / 4), left - 6, y);
  }
  context.textAlign = "center";
  context.textBaseline = "top";
  for (let minutes = 5; minutes >= 0; minutes--) {
    const x = left + plotWidth - (plotWidth * minutes * 60_000) / CHART_WINDOW_MS;
    context.fillText(minutes === 0 ? "now" : `-${minutes}m`, Math.min(x, left + plotWidth - 12), top + plotHeight + 5);
  }
  const points = samples
    .filter((sample) => sample.timeMs >= startMs)
    .map((sample) => [left + (plotWidth * (sample.timeMs - startMs)) / CHART_WINDOW_MS, top + plotHeight - (plotHeight * pick(sample)) / niceMax]);
  if (points.length === 0) return;
  context.beginPath();
  context.moveTo(points[0][0], top + plotHeight);
  for (const [x, y] of points) context.lineTo(x, y);
  context.lineTo(points[points.length - 1][0], top + plotHeight);
  context.closePath();
  context.fillStyle = `${color}22`;
  context.fill();
  context.beginPath();
  context.moveTo(points[0][0], points[0][1]);
  for (const [x, y] of points.slice(1)) context.lineTo(x, y);
  context.strokeStyle = color;
  context.lineWidth = 1.6;
  context.stroke();
}

function niceCeiling(value) {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

async function throughputView() {
  const charts = [
    { title: "Messages in / s", pick: (s) => s.messagesIn, color: "#1f6feb", format: (v) => formatNumber(v) },
    { title: "Bytes in / s", pick: (s) => s.bytesIn, color: "#1a7f37", format: (v) => formatBytes(v) },
    { title: "Bytes out / s", pick: (s) => s.bytesOut, color: "#8250df", format: (v) => formatBytes(v) },
  ].map((chart) => ({ ...chart, canvas: h("canvas"), now: h("span", { class: "now", text: "–" }) }));
  const topicsTable = h("div");
  const samples = [];
  view.append(
    pageTitle("Throughput"),
    h(
      "div",
      { class: "charts", id: "charts" },
      charts.map((chart) => h("div", { class: "panel chart" }, h("h3", {}, chart.title, chart.now), chart.canvas)),
    ),
    h("h2", { text: "Busiest topics (last second)" }),
    topicsTable,
  );
  const redraw = () => {
    for (const chart of charts) {
      drawChart(chart.canvas, samples, chart.pick, chart.color, chart.format);
      const last = samples[samples.length - 1];
      chart.now.textContent = last === undefined ? "–" : chart.format(chart.pick(last));
    }
    const last = samples[samples.length - 1];
    topicsTable.replaceChildren(
      table(
        ["Topic", { text: "Messages in / s", class: "num" }, { text: "Bytes in / s", class: "num" }, { text: "Bytes out / s", class: "num" }],
        (last?.topics ?? []).map((topic) =>
          h(
            "tr",
            {},
            h("td", {}, link(`#/topics/${encodeURIComponent(topic.topic)}`, topic.topic)),
            h("td", { class: "num", text: formatNumber(topic.messagesIn) }),
            h("td", { class: "num", text: formatBytes(topic.bytesIn) }),
            h("td", { class: "num", text: formatBytes(topic.bytesOut) }),
          ),
        ),
        { id: "throughput-topics" },
      ),
    );
  };
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/throughput`);
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "history") samples.push(...message.samples);
    else if (message.type === "sample") samples.push(message.sample);
    while (samples.length > 0 && samples[0].timeMs < samples[samples.length - 1].timeMs - CHART_WINDOW_MS) samples.shift();
    redraw();
  });
  const onResize = () => redraw();
  window.addEventListener("resize", onResize);
  stops.push(() => {
    socket.close();
    window.removeEventListener("resize", onResize);
  });
  redraw();
}

// ---------------------------------------------------------------------------------------------
// Navigation

const VIEWS = {
  brokers: () => brokersView(),
  topics: (argument) => (argument === undefined ? topicsView() : topicView(argument)),
  groups: (argument) => (argument === undefined ? groupsView() : groupView(argument)),
  messages: (_argument, params) => messagesView(params),
  tail: (_argument, params) => tailView(params),
  throughput: () => throughputView(),
};

async function navigate() {
  for (const stop of stops) stop();
  stops = [];
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = hash.split("?");
  const [name, ...rest] = path.split("/");
  const viewName = name in VIEWS ? name : "brokers";
  const argument = rest.length > 0 && rest[0] !== "" ? decodeURIComponent(rest.join("/")) : undefined;
  for (const anchor of document.querySelectorAll(".sidebar a")) anchor.classList.toggle("active", anchor.dataset.view === viewName);
  view.replaceChildren();
  view.dataset.view = viewName;
  watchBroker();
  try {
    await VIEWS[viewName](argument, new URLSearchParams(query));
  } catch (error) {
    view.append(h("p", { class: "error", text: error.message }));
  }
}

async function watchBroker() {
  const indicator = document.getElementById("connection");
  const summary = document.getElementById("cluster-summary");
  try {
    const cluster = await api("GET", "/api/cluster");
    indicator.className = "status up";
    indicator.textContent = "connected";
    summary.textContent = `cluster ${cluster.clusterId} · node ${cluster.nodeId} · ${cluster.topics} topics · ${cluster.groups} groups`;
  } catch {
    indicator.className = "status down";
    indicator.textContent = "unreachable";
  }
}

window.addEventListener("hashchange", navigate);
navigate();
watchBroker();
setInterval(watchBroker, 5000);
