// The one place that talks to the server: API key, error shapes, retries after a key prompt.

import { recall, remember } from "./storage.js";

const KEY_STORAGE = "speaker.apiKey";
const AUTH_CODES = new Set(["missing_api_key", "invalid_api_key"]);

/** An error the API answered with (`{"error": {message, code, param, suggestion}}`). */
export class ApiError extends Error {
  constructor(status, detail = {}) {
    super(detail.message || `the server answered ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = detail.code || "unknown_error";
    this.param = detail.param ?? null;
    this.suggestion = detail.suggestion ?? null;
    this.type = detail.type ?? null;
  }
}

// Kept in memory too: with storage off, the key still works until the page closes.
let memoryKey = "";

export function getKey() {
  return recall(KEY_STORAGE) || memoryKey;
}

export function setKey(key) {
  remember(KEY_STORAGE, key);
  memoryKey = key;
}

let authPrompt = null; // async (ApiError) => boolean: true when a new key was entered
let pendingPrompt = null;

/** Register the dialog that asks for a key when the server wants one. */
export function onAuthRequired(handler) {
  authPrompt = handler;
}

async function errorOf(response) {
  let detail = null;
  try {
    const body = await response.json();
    detail = body && typeof body === "object" ? body.error : null;
  } catch {
    // Not JSON (a proxy's HTML page, say): say what we know.
  }
  return new ApiError(
    response.status,
    detail || { message: `the server answered ${response.status} ${response.statusText}`.trim() },
  );
}

// Several requests may be refused at once (the page loads voices, models and status together):
// they all wait for the same prompt instead of opening one dialog each.
function askForKey(error) {
  if (!pendingPrompt) {
    pendingPrompt = Promise.resolve(authPrompt(error)).finally(() => {
      pendingPrompt = null;
    });
  }
  return pendingPrompt;
}

/**
 * fetch() a path of this server: adds the key, turns error answers into ApiError, and after a
 * 401 for a missing or wrong key asks for one and tries again.
 * Options: method, json (a body sent as JSON), form (FormData), signal, headers.
 */
export async function call(path, { method = "GET", json, form, signal, headers = {} } = {}) {
  for (;;) {
    const init = { method, signal, headers: { ...headers } };
    const key = getKey();
    if (key) init.headers.Authorization = `Bearer ${key}`;
    if (json !== undefined) {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(json);
    } else if (form) {
      init.body = form;
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new ApiError(0, {
        message: "the server cannot be reached",
        code: "network_error",
        suggestion: "check that `speaker serve` is running and reachable, then try again",
      });
    }
    if (response.ok) return response;
    const error = await errorOf(response);
    if (response.status === 401 && AUTH_CODES.has(error.code) && authPrompt) {
      if (await askForKey(error)) continue;
    }
    throw error;
  }
}

/** call() and parse the JSON answer. */
export async function getJson(path, options) {
  const response = await call(path, options);
  return response.json();
}

/** A query string of the set values only. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** The filename a response suggests (content-disposition), or `fallback`. */
export function filenameOf(response, fallback) {
  const header = response.headers.get("content-disposition") || "";
  const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(header);
  return match ? decodeURIComponent(match[1]) : fallback;
}
