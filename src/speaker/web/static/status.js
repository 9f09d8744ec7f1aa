// The Status view: the server's own numbers from GET /status, refreshed while the view is open.

import { loadStatus, store } from "./store.js";
import { $, clearError, formatBytes, h, showError } from "./ui.js";

const REFRESH_MS = 5000;
let timer = null;
let visible = false;

export function init() {
  $("#status-refresh").addEventListener("click", refresh);
}

export function show() {
  visible = true;
  refresh();
}

export function hide() {
  visible = false;
  clearTimeout(timer);
}

async function refresh() {
  clearTimeout(timer);
  try {
    await loadStatus();
    clearError($("#status-error"));
    render(store.status);
    $("#status-updated").textContent =
      `The server's own numbers, updated ${new Date().toLocaleTimeString()}.`;
  } catch (error) {
    showError($("#status-error"), error, { title: "The status could not be read" });
  }
  if (visible) timer = setTimeout(refresh, REFRESH_MS);
}

const dash = "—";
const num = (value, digits = 0) =>
  value === null || value === undefined ? dash : Number(value).toFixed(digits);

function duration(seconds) {
  if (seconds === null || seconds === undefined) return dash;
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}

function list(pairs) {
  return h(
    "dl",
    { class: "stat-list" },
    ...pairs.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]),
  );
}

function statCard(title, big, unit, pairs, attrs = {}, note = null) {
  return h(
    "section",
    { class: "card stat-card", "aria-label": title, ...attrs },
    h("h2", {}, title),
    big !== null
      ? h("p", { class: "stat-big" }, big, unit ? h("span", { class: "stat-unit" }, unit) : null)
      : null,
    note ? h("p", { class: "hint stat-note" }, note) : null,
    pairs ? list(pairs) : null,
  );
}

function engineRow(engine) {
  const caps = engine.capabilities || {};
  return h(
    "div",
    { class: "engine-row" },
    h("span", { class: "engine-name" }, engine.name),
    h("span", { class: "muted" }, engine.model || ""),
    h("span", { class: "badge" }, engine.device || "cpu"),
    caps.cloning ? h("span", { class: "badge accent" }, "clones voices") : null,
    caps.instructions ? h("span", { class: "badge" }, "follows instructions") : null,
    h("span", { class: "muted" }, `loaded in ${num(engine.load_seconds, 1)} s`),
  );
}

function render(status) {
  const recent = status.recent || {};
  const queue = status.queue || {};
  const cache = status.cache;
  const cloned = store.voices.filter((v) => v.type === "cloned").length;
  const cards = [
    statCard("Server", status.status === "ready" ? "Ready" : status.status, null, [
      ["Version", status.version],
      ["Up for", duration(status.uptime_seconds)],
      ["Ready after", status.ready_seconds === null ? dash : `${num(status.ready_seconds, 1)} s`],
      ["Memory", formatBytes(status.memory?.rss_bytes)],
    ]),
    statCard(
      "Time to first audio",
      num(recent.ttfa_ms_p50),
      "ms",
      [
        [
          "Median (p50)",
          recent.ttfa_ms_p50 === null || recent.ttfa_ms_p50 === undefined
            ? dash
            : `${num(recent.ttfa_ms_p50)} ms`,
        ],
        [
          "p95",
          recent.ttfa_ms_p95 === null || recent.ttfa_ms_p95 === undefined
            ? dash
            : `${num(recent.ttfa_ms_p95)} ms`,
        ],
        ["Recent requests", num(recent.requests)],
      ],
      { id: "status-ttfa" },
    ),
    statCard(
      "Real-time factor",
      num(recent.realtime_factor, 3),
      null,
      [["Speed", recent.realtime_factor ? `${num(1 / recent.realtime_factor, 0)}× real time` : dash]],
      { id: "status-rtf" },
      "Seconds of computing per second of audio, recently: lower is faster.",
    ),
    statCard("Queue", num(queue.queued), "waiting", [
      ["Workers busy", `${num(queue.busy)} of ${num(queue.workers)}`],
      ["Streams now", num(queue.active_streams)],
      ["Capacity", `${num(queue.realtime_capacity, 1)}×`],
      ["Chunks done", num(queue.completed)],
      ["Failed", num(queue.failed)],
    ]),
    statCard("Voices", String((status.voices || []).length + cloned), null, [
      ["Built-in", num((status.voices || []).length)],
      ["Cloned", num(cloned)],
      ["Default", status.default_voice],
    ]),
    cache
      ? statCard("Audio cache", num(cache.hits), "hits", [
          ["Misses", num(cache.misses)],
          ["Entries", num(cache.entries)],
          ["Size", formatBytes(cache.bytes)],
          ["Backend", cache.backend],
        ])
      : null,
  ];
  const engines = h(
    "section",
    { class: "card stat-card wide", "aria-label": "Engines" },
    h("h2", {}, "Engines"),
    ...(status.engines || []).map(engineRow),
    h("p", { class: "muted" }, `Default engine: ${status.default_engine}`),
  );
  $("#status-grid").replaceChildren(engines, ...cards.filter(Boolean));
}
