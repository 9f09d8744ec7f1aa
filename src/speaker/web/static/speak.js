// The Speak view: text in, audio out as it is synthesized, a download of what was spoken.

import { call, filenameOf } from "./api.js";
import { StreamPlayer, Waveform, wavBlob } from "./player.js";
import { bus, config, fillVoiceSelect, modelOptions, store, voiceField } from "./store.js";
import { $, clearError, downloadBlob, fillSelect, formatSeconds, showError, toast } from "./ui.js";
import { recall, remember } from "./storage.js";

const FORMAT_NAMES = { mp3: "MP3", opus: "Opus", aac: "AAC", flac: "FLAC", wav: "WAV", pcm: "PCM" };

export const player = new StreamPlayer();

let view;
let controller = null;
let spoken = null; // {body, engine, cache}: the last request that played, for the download
const downloads = new Map(); // format → Blob of `spoken`, so a second click costs nothing

export function init() {
  view = $("#view-speak");
  const text = $("#speak-text");
  const voice = $("#speak-voice");
  const model = $("#speak-model");
  const format = $("#speak-format");
  const speed = $("#speak-speed");

  text.value = recall("speaker.text") || "";
  format.value = recall("speaker.format") || "mp3";
  speed.value = recall("speaker.speed") || "1";
  updateCount();
  updateSpeed();
  updateDownloadLabel();

  text.addEventListener("input", () => {
    updateCount();
    remember("speaker.text", text.value);
  });
  speed.addEventListener("input", () => {
    updateSpeed();
    remember("speaker.speed", speed.value);
  });
  format.addEventListener("change", () => {
    remember("speaker.format", format.value);
    updateDownloadLabel();
  });
  voice.addEventListener("change", () => remember("speaker.voice", voice.value));
  model.addEventListener("change", () => remember("speaker.model", model.value));

  $("#speak-form").addEventListener("submit", (event) => {
    event.preventDefault();
    speak();
  });
  $("#stop-button").addEventListener("click", stop);
  $("#download-button").addEventListener("click", download);

  bus.addEventListener("voices", () => fillVoiceSelect(voice, { remember: "speaker.voice" }));
  const fillModels = () => {
    fillSelect(model, modelOptions(), { keep: true });
    const saved = recall("speaker.model");
    if (saved && store.models.includes(saved)) model.value = saved;
  };
  bus.addEventListener("models", fillModels);
  bus.addEventListener("status", fillModels);

  player.addEventListener("state", (event) => {
    view.dataset.state = event.detail;
    const busy = event.detail === "loading" || event.detail === "playing";
    $("#stop-button").disabled = !busy;
  });
  new Waveform($("#waveform"), player, { onFrame: updateProgress });
}

/** Keyboard: Ctrl/Cmd+Enter speaks, Esc stops (the app routes keys here on the Speak view). */
export function onKey(event) {
  if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
    event.preventDefault();
    speak();
    return true;
  }
  if (event.key === "Escape" && (player.state === "loading" || player.state === "playing")) {
    event.preventDefault();
    stop();
    return true;
  }
  return false;
}

function updateCount() {
  const length = $("#speak-text").value.length;
  const count = $("#speak-count");
  const limit = config.maxInputChars;
  count.textContent = `${length.toLocaleString()} / ${limit.toLocaleString()} characters`;
  count.classList.toggle("over", length > limit);
}

function updateSpeed() {
  $("#speak-speed-value").textContent = `${Number($("#speak-speed").value).toFixed(2)}×`;
}

function updateDownloadLabel() {
  $("#download-label").textContent = `Download ${FORMAT_NAMES[$("#speak-format").value] || ""}`.trim();
}

function setStatus(message) {
  $("#speak-status").textContent = message;
}

function updateProgress() {
  const played = player.playedSeconds();
  const total = player.scheduledSeconds;
  $("#speak-time").textContent = `${formatSeconds(played)} / ${formatSeconds(total)}`;
  const percent = total ? Math.round((played / total) * 100) : 0;
  $("#speak-progress-bar").style.width = `${percent}%`;
  $("#speak-progress").setAttribute("aria-valuenow", String(percent));
}

/** Speak the text box: stream PCM and play it as it arrives. */
export async function speak() {
  const errors = $("#speak-error");
  clearError(errors);
  stop();
  // Inside the gesture that asked for it, or the browser keeps the audio muted.
  player.prepare();
  const body = {
    model: $("#speak-model").value || "tts-1",
    voice: voiceField($("#speak-voice").value) || undefined,
    input: $("#speak-text").value,
    response_format: "pcm",
    speed: Number($("#speak-speed").value),
  };
  controller = new AbortController();
  const mine = controller;
  const requestedAt = performance.now();
  view.dataset.state = "loading";
  setStatus("Synthesizing the first sentence…");
  $("#download-button").disabled = true;
  try {
    const response = await call("/v1/audio/speech", { method: "POST", json: body, signal: mine.signal });
    const engine = response.headers.get("x-speaker-engine");
    const cache = response.headers.get("x-speaker-cache");
    spoken = { body, engine, cache };
    downloads.clear();
    $("#download-button").disabled = false;
    const playing = player.play(response, { requestedAt });
    player.addEventListener(
      "state",
      () => {
        if (player.state === "playing") {
          const from = cache === "hit" ? " (from the cache)" : "";
          setStatus(`First audio in ${Math.round(player.firstAudioMs)} ms${from} · ${engine || "engine"}`);
        }
      },
      { once: true },
    );
    await playing;
    if (player.state === "done") {
      setStatus(
        `Done: ${player.scheduledSeconds.toFixed(1)} s of audio${player.underruns ? `, ${player.underruns} pause(s) waiting for the network` : ""}.`,
      );
    }
  } catch (error) {
    if (error.name === "AbortError" || mine.signal.aborted) return;
    view.dataset.state = "error";
    setStatus("Nothing played.");
    showError(errors, error);
  } finally {
    if (controller === mine) controller = null;
    updateProgress();
  }
}

export function stop() {
  const wasBusy = controller !== null || player.state === "playing" || player.state === "loading";
  controller?.abort();
  controller = null;
  player.stop();
  if (wasBusy) {
    view.dataset.state = "stopped";
    setStatus("Stopped.");
  }
}

/**
 * Save what was spoken in the chosen format. WAV and PCM are built from the samples already
 * received; other formats are asked for again: the audio cache keys responses by format, so the
 * first such download synthesizes once more and repeats of it are served from the cache.
 */
async function download() {
  if (!spoken) return;
  const fmt = $("#speak-format").value;
  const errors = $("#speak-error");
  const name = `speech.${fmt === "opus" ? "ogg" : fmt}`;
  if (fmt === "wav" || fmt === "pcm") {
    if (player.state === "loading" || player.state === "playing") {
      toast("The audio is still arriving: the file will hold what has arrived so far.");
    }
    const samples = player.samples();
    const blob = fmt === "wav" ? wavBlob(samples) : new Blob([samples.buffer], { type: "audio/pcm" });
    downloadBlob(blob, name);
    return;
  }
  if (downloads.has(fmt)) {
    downloadBlob(downloads.get(fmt), name);
    return;
  }
  const button = $("#download-button");
  button.disabled = true;
  setStatus(`Preparing the ${FORMAT_NAMES[fmt]} file…`);
  try {
    const response = await call("/v1/audio/speech", {
      method: "POST",
      json: { ...spoken.body, response_format: fmt },
    });
    const blob = await response.blob();
    downloads.set(fmt, blob);
    downloadBlob(blob, filenameOf(response, name));
    const cache = response.headers.get("x-speaker-cache");
    setStatus(
      cache === "hit"
        ? `${FORMAT_NAMES[fmt]} file served from the cache.`
        : `${FORMAT_NAMES[fmt]} file ready.`,
    );
  } catch (error) {
    showError(errors, error, { title: "The download failed" });
  } finally {
    button.disabled = false;
  }
}

/** Pick a voice in the Speak view (from the library or after cloning) and show the view. */
export function useVoice(id) {
  const select = $("#speak-voice");
  fillVoiceSelect(select, { remember: "speaker.voice" });
  select.value = id;
  remember("speaker.voice", id);
  // A cloned voice needs a cloning engine: "Automatic" routes it to one.
  if (store.voices.find((v) => v.id === id)?.type === "cloned") {
    $("#speak-model").value = "tts-1";
    remember("speaker.model", "tts-1");
  }
}
