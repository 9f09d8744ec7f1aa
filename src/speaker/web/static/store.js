// What several views share: the page's config, the voice and model lists, the engines' abilities.
// Views listen for "voices" and "status" events rather than calling each other.

import { getJson } from "./api.js";
import { recall } from "./storage.js";
import { fillSelect } from "./ui.js";

function readConfig() {
  const meta = document.querySelector('meta[name="speaker-config"]');
  try {
    return JSON.parse(meta?.content || "{}");
  } catch {
    return {};
  }
}

export const config = {
  maxInputChars: 4096,
  maxLongInputChars: 100000,
  requireConsent: false,
  maxJobItems: 1000,
  ...readConfig(),
};

export const bus = new EventTarget();

export const store = {
  voices: [], // every voice, as GET /v1/voices lists them (cloned first)
  models: [], // model names the speech endpoint accepts
  status: null, // the last GET /status
};

export async function loadVoices() {
  const list = await getJson("/v1/voices");
  store.voices = list.data;
  bus.dispatchEvent(new Event("voices"));
  return store.voices;
}

export async function loadModels() {
  const list = await getJson("/v1/models");
  store.models = list.data.map((m) => m.id);
  bus.dispatchEvent(new Event("models"));
  return store.models;
}

export async function loadStatus() {
  store.status = await getJson("/status");
  bus.dispatchEvent(new Event("status"));
  return store.status;
}

/** Engines that can speak cloned voices, from the last status (null: not known yet). */
export function cloningEngines() {
  if (!store.status) return null;
  return store.status.engines.filter((e) => e.capabilities?.cloning).map((e) => e.name);
}

export function voiceById(id) {
  return store.voices.find((v) => v.id === id) || null;
}

/**
 * The `voice` field of a speech request: cloned voices by `{"id"}` (never confused with a
 * built-in voice or an OpenAI name), built-in ones by their id.
 */
export function voiceField(id) {
  const voice = voiceById(id);
  return voice?.type === "cloned" ? { id } : id;
}

/** Fill a voice <select>: your voices first, then the built-in ones. */
export function fillVoiceSelect(select, { remember } = {}) {
  const cloned = store.voices.filter((v) => v.type === "cloned");
  const builtin = store.voices.filter((v) => v.type !== "cloned");
  // Built-in names often hold their language already (en_US-joe-medium): do not say it twice.
  const option = (v) => ({
    value: v.id,
    label: v.language && !v.name.includes(v.language) ? `${v.name} · ${v.language}` : v.name,
  });
  const groups = [];
  if (cloned.length) groups.push({ group: "Your voices", options: cloned.map(option) });
  if (builtin.length) groups.push({ group: "Built-in", options: builtin.map(option) });
  const previous = select.value || (remember ? recall(remember) : "");
  fillSelect(select, groups, { keep: false });
  if (previous && store.voices.some((v) => v.id === previous)) select.value = previous;
  else if (store.status?.default_voice && builtin.some((v) => v.id === store.status.default_voice)) {
    select.value = store.status.default_voice;
  } else if (builtin.length) select.value = builtin[0].id;
}

/** Model names worth offering: OpenAI's undated names and the engines. */
export function modelOptions() {
  const engines = new Set((store.status?.engines || []).map((e) => e.name));
  const dated = /-\d{4}-\d{2}-\d{2}$/;
  return store.models
    .filter((name) => !dated.test(name))
    .map((name) => {
      if (name === "tts-1") return { value: name, label: "Automatic (tts-1)" };
      if (engines.has(name)) return { value: name, label: `${name} engine` };
      return { value: name, label: name };
    });
}
