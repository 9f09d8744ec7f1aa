// The Jobs view: submit a batch, watch it progress, download its files.

import { call, filenameOf, getJson } from "./api.js";
import { icon } from "./icons.js";
import { bus, config, fillVoiceSelect, voiceField } from "./store.js";
import {
  $,
  ago,
  clearError,
  downloadBlob,
  formatBytes,
  h,
  iconButton,
  sentence,
  showError,
  toast,
} from "./ui.js";

const ACTIVE = new Set(["queued", "running"]);
const POLL_MS = 1000;
const STATE_LABELS = {
  queued: ["Queued", ""],
  running: ["Running", "accent"],
  succeeded: ["Done", "ok"],
  completed_with_errors: ["Done with errors", "warn"],
  failed: ["Failed", "bad"],
  cancelled: ["Cancelled", ""],
};

const jobs = new Map(); // id → the job as last fetched (with items once polled)
const open = new Set(); // ids whose item list is unfolded, kept across redraws
let visible = false;
let timer = null;

export function init() {
  const text = $("#job-text");
  text.addEventListener("input", summarize);
  for (const radio of document.querySelectorAll('input[name="job-split"]'))
    radio.addEventListener("change", summarize);
  $("#job-speed").addEventListener("input", () => {
    $("#job-speed-value").textContent = `${Number($("#job-speed").value).toFixed(2)}×`;
  });
  $("#job-file").addEventListener("change", loadFile);
  $("#job-form").addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  $("#jobs-refresh").addEventListener("click", refresh);
  bus.addEventListener("voices", () => fillVoiceSelect($("#job-voice")));
  summarize();
}

export function show() {
  visible = true;
  refresh();
}

export function hide() {
  visible = false;
  clearTimeout(timer);
  timer = null;
}

function split() {
  return document.querySelector('input[name="job-split"]:checked').value;
}

/** The texts the form would submit: one per non-empty line, or the whole text as one. */
function items() {
  const text = $("#job-text").value;
  if (split() === "whole") return text.trim() ? [text.trim()] : [];
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);
}

function summarize() {
  const texts = items();
  const characters = texts.reduce((sum, t) => sum + t.length, 0);
  const summary = $("#job-summary");
  summary.textContent = texts.length
    ? `${texts.length} file${texts.length === 1 ? "" : "s"}, ${characters.toLocaleString()} characters.`
    : "Nothing to submit yet.";
  summary.classList.toggle("over", texts.length > config.maxJobItems);
}

async function loadFile(event) {
  const file = event.target.files?.[0];
  event.target.value = "";
  if (!file) return;
  $("#job-text").value = await file.text();
  $("#job-file-name").textContent = file.name;
  summarize();
}

async function submit() {
  const errors = $("#jobs-error");
  clearError(errors);
  const texts = items();
  if (!texts.length) {
    showError(errors, {
      message: "there is nothing to speak",
      suggestion: "paste some lines or load a text file",
    });
    return;
  }
  const voice = voiceField($("#job-voice").value) || undefined;
  const body = {
    items: texts.map((input) => ({
      input,
      model: "tts-1",
      voice,
      response_format: $("#job-format").value,
      speed: Number($("#job-speed").value),
    })),
  };
  const button = $("#job-submit");
  button.disabled = true;
  try {
    const job = await getJson("/v1/tts/batch", { method: "POST", json: body });
    jobs.set(job.id, job);
    open.add(job.id);
    toast(`Job submitted: ${job.item_count} file${job.item_count === 1 ? "" : "s"}.`);
    render();
    schedule();
  } catch (error) {
    showError(errors, error, { title: "The job was not accepted" });
  } finally {
    button.disabled = false;
  }
}

/** The newest jobs, then the details of the ones still working. */
async function refresh() {
  const errors = $("#jobs-error");
  try {
    const page = await getJson("/v1/jobs?limit=20");
    for (const job of page.data) jobs.set(job.id, { ...jobs.get(job.id), ...job });
    clearError(errors);
    await poll();
  } catch (error) {
    showError(errors, error, { title: "The jobs could not be listed" });
  }
}

async function poll() {
  timer = null;
  const active = [...jobs.values()].filter(
    (job) => ACTIVE.has(job.state) || (open.has(job.id) && !job.items),
  );
  try {
    const fresh = await Promise.all(active.map((job) => getJson(`/v1/jobs/${encodeURIComponent(job.id)}`)));
    for (const job of fresh) jobs.set(job.id, job);
  } catch (error) {
    showError($("#jobs-error"), error, { title: "Progress could not be read" });
  }
  render();
  schedule();
}

function schedule() {
  clearTimeout(timer);
  timer = null;
  if (visible && [...jobs.values()].some((job) => ACTIVE.has(job.state))) timer = setTimeout(poll, POLL_MS);
}

function render() {
  const list = $("#job-list");
  const sorted = [...jobs.values()].sort((a, b) => b.created_at - a.created_at);
  $("#jobs-empty").hidden = sorted.length > 0;
  list.replaceChildren(...sorted.map(card));
}

function card(job) {
  const [label, tone] = STATE_LABELS[job.state] || [job.state, ""];
  const done = job.counts.succeeded + job.counts.failed + job.counts.cancelled;
  const percent = job.item_count ? Math.round((done / job.item_count) * 100) : 0;
  const parts = [`${job.counts.succeeded} of ${job.item_count} done`];
  if (job.counts.running) parts.push(`${job.counts.running} running`);
  if (job.counts.failed) parts.push(`${job.counts.failed} failed`);
  if (job.counts.cancelled) parts.push(`${job.counts.cancelled} cancelled`);
  const actions = [
    iconButton("download", "All files (.zip)", {
      class: "button small",
      disabled: job.counts.succeeded === 0,
      onclick: () => fetchFile(job.results_url, `${job.id}.zip`),
    }),
  ];
  if (ACTIVE.has(job.state)) {
    actions.push(
      iconButton("x", "Cancel", { class: "button small danger-ghost", onclick: () => cancel(job) }),
    );
  }
  const details = h(
    "details",
    { open: open.has(job.id) },
    h("summary", {}, `Files (${job.item_count})`),
    job.items
      ? h("ul", { class: "job-items" }, ...job.items.map((item) => itemRow(job, item)))
      : h("p", { class: "muted" }, "Loading…"),
  );
  details.addEventListener("toggle", () => {
    if (details.open) {
      open.add(job.id);
      if (!job.items) poll();
    } else open.delete(job.id);
  });
  const bar = h("div", { class: "progress-bar" });
  bar.style.width = `${percent}%`; // CSSOM, not a style attribute: the page's CSP forbids those
  return h(
    "li",
    { class: "card job", dataset: { jobId: job.id, state: job.state } },
    h(
      "div",
      { class: "job-top" },
      h("span", { class: `badge ${tone}` }, label),
      h("span", { class: "job-id" }, job.id),
      h("span", { class: "job-when" }, ago(job.created_at)),
    ),
    h(
      "div",
      {
        class: "progress",
        role: "progressbar",
        "aria-label": `Job ${job.id}`,
        "aria-valuemin": 0,
        "aria-valuemax": 100,
        "aria-valuenow": percent,
      },
      bar,
    ),
    h("p", { class: "job-progress-text" }, parts.join(" · ")),
    h("div", { class: "card-actions" }, ...actions),
    details,
  );
}

function itemRow(job, item) {
  const [label, tone] = STATE_LABELS[item.state] || [item.state, ""];
  const facts = [`${item.characters} characters`];
  if (item.audio_seconds) facts.push(`${item.audio_seconds.toFixed(1)} s`);
  if (item.bytes) facts.push(formatBytes(item.bytes));
  return h(
    "li",
    { class: "job-item", dataset: { n: item.n, state: item.state } },
    h("span", { class: `badge ${tone}` }, label),
    h("span", { class: "grow" }, `#${item.n + 1} · ${facts.join(" · ")}`),
    item.error
      ? h(
          "span",
          { class: "grow alert-title" },
          sentence(item.error.message),
          item.error.suggestion ? ` Try: ${item.error.suggestion}` : "",
        )
      : null,
    item.url
      ? h(
          "button",
          {
            type: "button",
            class: "button small",
            "aria-label": `Download file ${item.n + 1}`,
            onclick: () =>
              fetchFile(item.url, `${job.id}-${String(item.n).padStart(5, "0")}.${item.response_format}`),
          },
          icon("download"),
          h("span", {}, item.response_format.toUpperCase()),
        )
      : null,
  );
}

async function fetchFile(url, fallback) {
  try {
    const response = await call(url);
    downloadBlob(await response.blob(), filenameOf(response, fallback));
  } catch (error) {
    showError($("#jobs-error"), error, { title: "The download failed" });
  }
}

async function cancel(job) {
  try {
    jobs.set(job.id, await getJson(`/v1/jobs/${encodeURIComponent(job.id)}`, { method: "DELETE" }));
    toast(`Cancelled ${job.id}.`);
    render();
  } catch (error) {
    showError($("#jobs-error"), error, { title: "The job was not cancelled" });
  }
}
