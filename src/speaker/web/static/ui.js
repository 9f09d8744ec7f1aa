// Small DOM helpers shared by the views: building elements, errors, toasts, dialogs, downloads.

import { icon } from "./icons.js";

export const $ = (selector, root = document) => root.querySelector(selector);

/**
 * Build an element: h("button", {class: "button", onclick}, "Text", child...).
 * Text is always set as text, never parsed as HTML, so names and messages from the server
 * cannot inject markup.
 */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      element.className = value;
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** A button with an icon and a label. */
export function iconButton(name, label, attrs = {}) {
  return h("button", { type: "button", class: "button", ...attrs }, icon(name), h("span", {}, label));
}

/**
 * Show an error in a slot: the server's message, its suggestion, and its code. Always visible
 * and announced (role="alert"); a network failure or a bug reads the same way.
 */
export function showError(slot, error, { title } = {}) {
  if (error?.name === "AbortError") return;
  const message = error?.message || String(error);
  const alert = h(
    "div",
    { class: "alert", role: "alert" },
    icon("alert"),
    h(
      "div",
      { class: "alert-body" },
      title ? h("span", { class: "alert-title" }, title) : null,
      h("span", { class: title ? "alert-message" : "alert-title" }, sentence(message)),
      error?.suggestion ? h("span", { class: "alert-suggestion" }, `Try: ${error.suggestion}`) : null,
      error?.code && error.code !== "unknown_error"
        ? h("code", { class: "alert-code" }, error.status ? `${error.status} · ${error.code}` : error.code)
        : null,
    ),
    h(
      "button",
      {
        type: "button",
        class: "button ghost small alert-close",
        "aria-label": "Dismiss",
        onclick: () => slot.replaceChildren(),
      },
      icon("x"),
    ),
  );
  slot.replaceChildren(alert);
  // A failure that is not the API's answer is a bug or a broken connection: keep its trace.
  if (error instanceof Error && error.name !== "ApiError") console.error(error);
}

export function clearError(slot) {
  slot.replaceChildren();
}

/** The server writes messages in lower case for logs; a person reads sentences. */
export function sentence(text) {
  const value = String(text).trim();
  return value ? value[0].toUpperCase() + value.slice(1) : value;
}

/** A short message at the corner of the screen, read out by screen readers. */
export function toast(message, { error = false, seconds = 5 } = {}) {
  const box = document.getElementById("toasts");
  const item = h("div", { class: error ? "toast error" : "toast" }, message);
  box.append(item);
  setTimeout(() => item.remove(), seconds * 1000);
}

/** Ask before something that cannot be undone; resolves true when confirmed. */
export function confirmAction({ title, message, confirmLabel = "Delete" }) {
  const dialog = document.getElementById("confirm-dialog");
  dialog.querySelector("#confirm-title").textContent = title;
  dialog.querySelector("#confirm-message").textContent = message;
  dialog.querySelector("#confirm-ok").textContent = confirmLabel;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
    dialog.showModal();
    // Focus the safe choice first: Enter on a destructive dialog should not destroy.
    dialog.querySelector("#confirm-cancel").focus();
  });
}

/** Save a blob as a file. */
export function downloadBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  // Give the browser time to start the download before the URL goes.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export function formatSeconds(seconds) {
  const total = Math.max(0, Math.floor(seconds || 0));
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, "0")}`;
}

export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

/** "12 s ago", "3 min ago", or a date. `when` is Unix seconds. */
export function ago(when) {
  const seconds = Math.max(0, Date.now() / 1000 - when);
  if (seconds < 60) return `${Math.round(seconds)} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return new Date(when * 1000).toLocaleDateString();
}

/** Accept files dropped on `zone` (a label for a file input), as if chosen in the input. */
export function dropTarget(zone, onFile) {
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    const file = event.dataTransfer?.files?.[0];
    if (file) onFile(file);
  });
}

/** Run `fn` after the input has been quiet for `ms`. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** Fill a <select> with options, keeping the current value when it still exists. */
export function fillSelect(select, options, { keep = true } = {}) {
  const previous = select.value;
  select.replaceChildren(
    ...options.map((option) =>
      option.group
        ? h(
            "optgroup",
            { label: option.group },
            ...option.options.map((o) => h("option", { value: o.value }, o.label)),
          )
        : h("option", { value: option.value }, option.label),
    ),
  );
  if (keep && [...select.options].some((o) => o.value === previous)) select.value = previous;
}
