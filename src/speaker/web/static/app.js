// The studio's entry point: tabs, theme, the API key dialog, and start-up.

import { ApiError, getKey, onAuthRequired, setKey } from "./api.js";
import * as clone from "./clone.js";
import { hydrateIcons, icon } from "./icons.js";
import * as jobs from "./jobs.js";
import * as speak from "./speak.js";
import * as status from "./status.js";
import { recall, remember } from "./storage.js";
import { loadModels, loadStatus, loadVoices } from "./store.js";
import { $, clearError, showError } from "./ui.js";
import * as voices from "./voices.js";

const VIEWS = ["speak", "voices", "clone", "jobs", "status"];
const MODULES = { speak, voices, clone, jobs, status };
let current = null;

// ---------- Tabs ----------

function tabs() {
  return [...document.querySelectorAll('[role="tab"]')];
}

/** Show a view; the URL's hash follows, so views can be linked and Back works. */
function showView(name, { focus = false } = {}) {
  if (!VIEWS.includes(name)) name = "speak";
  if (name === current) return;
  if (current) MODULES[current].hide?.();
  current = name;
  for (const tab of tabs()) {
    const selected = tab.dataset.view === name;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
  }
  for (const view of VIEWS) $(`#view-${view}`).hidden = view !== name;
  if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
  document.title = `${name[0].toUpperCase()}${name.slice(1)} · Speaker studio`;
  MODULES[name].show?.();
  // Reached by a link or a button inside a view, focus would stay on something now hidden.
  if (focus) $("#main").focus({ preventScroll: true });
}

function initTabs() {
  const list = $("#tablist");
  list.addEventListener("click", (event) => {
    const tab = event.target.closest('[role="tab"]');
    if (tab) location.hash = tab.dataset.view;
  });
  // Arrow keys move between tabs (the WAI-ARIA tabs pattern); Tab moves on into the view.
  list.addEventListener("keydown", (event) => {
    const all = tabs();
    const at = all.indexOf(document.activeElement);
    if (at < 0) return;
    const next = {
      ArrowRight: at + 1,
      ArrowDown: at + 1,
      ArrowLeft: at - 1,
      ArrowUp: at - 1,
      Home: 0,
      End: all.length - 1,
    }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    const tab = all[(next + all.length) % all.length];
    tab.focus();
    location.hash = tab.dataset.view;
  });
  window.addEventListener("hashchange", () =>
    showView(location.hash.slice(1), { focus: !list.contains(document.activeElement) }),
  );
  showView(location.hash.slice(1) || "speak");
}

// ---------- Theme ----------

const THEMES = ["system", "light", "dark"];
const THEME_ICONS = { system: "monitor", light: "sun", dark: "moon" };

function applyTheme(theme) {
  const root = document.documentElement;
  if (theme === "system") delete root.dataset.theme;
  else root.dataset.theme = theme;
  const button = $("#theme-button");
  const label = { system: "System", light: "Light", dark: "Dark" }[theme];
  button.replaceChildren(
    icon(THEME_ICONS[theme]),
    Object.assign(document.createElement("span"), { className: "label-wide", textContent: label }),
  );
  button.setAttribute("aria-label", `Theme: ${label}. Change theme`);
  document.dispatchEvent(new Event("themechange"));
}

function initTheme() {
  let theme = recall("speaker.theme") || "system";
  if (!THEMES.includes(theme)) theme = "system";
  applyTheme(theme);
  $("#theme-button").addEventListener("click", () => {
    theme = THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length];
    remember("speaker.theme", theme === "system" ? null : theme);
    applyTheme(theme);
  });
}

// ---------- API key ----------

/**
 * Ask for a key after a 401. Resolves true once a key is entered (the request is retried with
 * it), false if the person cancels (the request's error is then shown where it was made).
 */
function promptForKey(error) {
  const dialog = $("#key-dialog");
  const input = $("#key-input");
  const errors = $("#key-error");
  $("#key-button").hidden = false;
  if (error.code === "invalid_api_key" && getKey()) {
    showError(errors, error);
  } else {
    clearError(errors);
    $("#key-message").textContent =
      `${error.message[0].toUpperCase()}${error.message.slice(1)}. The key stays in this browser only.`;
  }
  input.value = "";
  return new Promise((resolve) => {
    function onSubmit(event) {
      event.preventDefault();
      const key = input.value.trim();
      if (!key) {
        input.focus();
        return;
      }
      setKey(key);
      dialog.close("saved");
    }
    function onClose() {
      dialog.removeEventListener("close", onClose);
      $("#key-form").removeEventListener("submit", onSubmit);
      resolve(dialog.returnValue === "saved");
    }
    dialog.returnValue = "";
    dialog.addEventListener("close", onClose);
    $("#key-form").addEventListener("submit", onSubmit);
    if (!dialog.open) dialog.showModal();
    input.focus();
  });
}

function initKeyDialog() {
  onAuthRequired(promptForKey);
  const dialog = $("#key-dialog");
  $("#key-cancel").addEventListener("click", () => dialog.close("cancel"));
  $("#key-forget").addEventListener("click", () => {
    setKey("");
    $("#key-input").value = "";
    dialog.close("cancel");
    location.reload();
  });
  // The header button lets a person change the key at any time.
  $("#key-button").hidden = !getKey();
  $("#key-button").addEventListener("click", () => {
    clearError($("#key-error"));
    $("#key-message").textContent = "The key this browser sends. It stays in this browser only.";
    $("#key-input").value = getKey();
    const save = (event) => {
      event.preventDefault();
      setKey($("#key-input").value.trim());
      dialog.close("saved");
      location.reload();
    };
    $("#key-form").addEventListener("submit", save, { once: true });
    dialog.addEventListener("close", () => $("#key-form").removeEventListener("submit", save), {
      once: true,
    });
    dialog.showModal();
  });
}

// ---------- Start-up ----------

function setPill(text, tone, detail = "") {
  const pill = $("#server-pill");
  // The detail (which engines) gives way on a phone; the state itself always shows.
  pill.replaceChildren(
    text,
    ...(detail
      ? [
          Object.assign(document.createElement("span"), {
            className: "label-wide",
            textContent: ` · ${detail}`,
          }),
        ]
      : []),
  );
  pill.className = `pill ${tone}`;
}

/** Wait for /ready (public), so a server still loading its engines is not reported as broken. */
async function waitReady() {
  for (let attempt = 0; ; attempt += 1) {
    try {
      const response = await fetch("/ready");
      if (response.ok) return;
      const body = await response.json().catch(() => ({}));
      setPill(
        body.status === "failed" ? "Start-up failed" : "Starting…",
        body.status === "failed" ? "bad" : "warn",
      );
      if (body.status === "failed") return;
    } catch {
      setPill("Offline", "bad");
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 500 * (attempt + 1))));
  }
}

async function start() {
  await waitReady();
  const results = await Promise.allSettled([loadStatus(), loadModels(), loadVoices()]);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) {
    const error = failed.reason;
    setPill(error instanceof ApiError && error.status === 401 ? "Needs a key" : "Error", "bad");
    showError($(`#${current}-error`) || $("#speak-error"), error, {
      title: "The studio could not load its data",
    });
    return;
  }
  const engine = results[0].value.engines?.map((e) => e.name).join(" + ");
  setPill("Ready", "ok", engine);
  if (getKey()) $("#key-button").hidden = false;
}

function initKeys() {
  document.addEventListener("keydown", (event) => {
    if (document.querySelector("dialog[open]")) return; // dialogs handle their own keys
    if (current === "speak") speak.onKey(event);
  });
}

// A file dropped beside a drop zone would make the browser leave the page to show it.
function guardDrops() {
  for (const type of ["dragover", "drop"]) {
    window.addEventListener(type, (event) => {
      if (!event.target.closest?.(".dropzone")) event.preventDefault();
    });
  }
}

function main() {
  hydrateIcons();
  guardDrops();
  initTheme();
  initKeyDialog();
  speak.init();
  voices.init({
    useVoice: (id) => {
      speak.useVoice(id);
      location.hash = "speak";
    },
  });
  clone.init({
    useVoice: (id) => {
      speak.useVoice(id);
      location.hash = "speak";
    },
  });
  jobs.init();
  status.init();
  initTabs();
  initKeys();
  // A small, read-only hook for the browser tests: numbers, not live objects.
  window.__speaker = { player: () => speak.player.snapshot() };
  start();
}

main();
