// Record from the microphone with a countdown, a level meter and a time limit.
// Used twice in the cloning wizard: the voice sample and the consent statement.

import { h } from "./ui.js";

const MIME_TYPES = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm", "audio/mp4"];
const FLOOR_DB = -60;
const CLIP_LEVEL = 0.99;

function extensionOf(type) {
  if (type.includes("ogg")) return "ogg";
  if (type.includes("mp4")) return "m4a";
  return "webm";
}

/**
 * A recorder widget inside `root`. Emits "recorded" with `{blob, seconds, filename}`.
 * `data-state` on its element (idle, starting, countdown, recording) and `data-seconds` say
 * where it is, for styles and tests.
 */
export class Recorder extends EventTarget {
  constructor(root, { maxSeconds = 30, minSeconds = 3, countdownSeconds = 3, label = "Record" } = {}) {
    super();
    this.maxSeconds = maxSeconds;
    this.minSeconds = minSeconds;
    this.countdownSeconds = countdownSeconds;
    this.label = label;
    this.state = "idle";

    this.buttonLabel = h("span", {}, label);
    this.button = h(
      "button",
      { type: "button", class: "button record-button", onclick: () => this.toggle() },
      h("span", { class: "dot", "aria-hidden": "true" }),
      this.buttonLabel,
    );
    this.status = h(
      "span",
      { class: "recorder-status", role: "status", "aria-live": "polite" },
      `Up to ${maxSeconds} s; at least ${minSeconds} s of speech.`,
    );
    this.fill = h("div", { class: "meter-fill" });
    this.meter = h(
      "div",
      {
        class: "meter",
        role: "meter",
        "aria-label": "Microphone level",
        "aria-valuemin": FLOOR_DB,
        "aria-valuemax": 0,
        "aria-valuenow": FLOOR_DB,
      },
      this.fill,
    );
    this.levelText = h("span", { class: "level" }, "Level: —");
    this.clipText = h("span", { class: "clip", hidden: true }, "Too loud: move back a little");
    this.element = h(
      "div",
      { class: "recorder", dataset: { state: "idle", seconds: "0" } },
      h("div", { class: "recorder-main" }, this.button, this.status),
      this.meter,
      h("div", { class: "meter-label" }, this.levelText, this.clipText),
    );
    root.replaceChildren(this.element);
  }

  setState(state) {
    this.state = state;
    this.element.dataset.state = state;
    this.buttonLabel.textContent = {
      idle: this.label,
      starting: "Cancel",
      countdown: "Cancel",
      recording: "Stop",
    }[state];
  }

  toggle() {
    if (this.state === "idle") this.start();
    else if (this.state === "recording") this.stop();
    else this.cancel();
  }

  async start() {
    this.setState("starting");
    this.status.textContent = "Asking for the microphone…";
    try {
      // Raw audio: echo cancellation and noise suppression change the voice being cloned.
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false, channelCount: 1 },
      });
    } catch (error) {
      this.setState("idle");
      this.status.textContent =
        error.name === "NotAllowedError"
          ? "The browser was not allowed to use the microphone: allow it in the address bar, or upload a file instead."
          : `No microphone could be opened (${error.message || error.name}); upload a file instead.`;
      this.element.dataset.error = error.name;
      return;
    }
    if (this.state !== "starting") return this.release();
    this.watchLevel();
    // A countdown lets the speaker breathe in before the first word, and keeps the click of the
    // button out of the recording.
    this.setState("countdown");
    for (let n = this.countdownSeconds; n > 0; n -= 1) {
      this.status.replaceChildren(h("span", { class: "countdown" }, String(n)), " Get ready…");
      await new Promise((resolve) => {
        this.countdownTimer = setTimeout(resolve, 1000);
      });
      if (this.state !== "countdown") return;
    }
    this.record();
  }

  record() {
    const type = MIME_TYPES.find((t) => window.MediaRecorder?.isTypeSupported(t)) || "";
    this.recorder = new MediaRecorder(this.stream, type ? { mimeType: type } : {});
    const parts = [];
    this.recorder.addEventListener("dataavailable", (event) => {
      if (event.data.size) parts.push(event.data);
    });
    this.recorder.addEventListener("stop", () => {
      const seconds = (performance.now() - this.startedAt) / 1000;
      const blobType = this.recorder.mimeType || type || "audio/webm";
      const blob = new Blob(parts, { type: blobType });
      this.release();
      this.setState("idle");
      this.status.textContent = `Recorded ${seconds.toFixed(1)} s. Record again to replace it.`;
      this.dispatchEvent(
        new CustomEvent("recorded", {
          detail: { blob, seconds, filename: `recording.${extensionOf(blobType)}` },
        }),
      );
    });
    this.recorder.start(250);
    this.startedAt = performance.now();
    this.setState("recording");
    this.tick();
  }

  tick() {
    if (this.state !== "recording") return;
    const seconds = (performance.now() - this.startedAt) / 1000;
    this.element.dataset.seconds = seconds.toFixed(1);
    this.status.textContent = `Recording ${seconds.toFixed(0)} s of ${this.maxSeconds} s`;
    if (seconds >= this.maxSeconds) {
      this.stop();
      return;
    }
    this.tickTimer = setTimeout(() => this.tick(), 200);
  }

  stop() {
    clearTimeout(this.tickTimer);
    if (this.recorder && this.recorder.state !== "inactive") this.recorder.stop();
  }

  cancel() {
    clearTimeout(this.countdownTimer);
    this.setState("idle");
    this.status.textContent = "Cancelled.";
    this.release();
  }

  watchLevel() {
    this.audio = new AudioContext();
    const analyser = this.audio.createAnalyser();
    analyser.fftSize = 2048;
    this.audio.createMediaStreamSource(this.stream).connect(analyser);
    const data = new Float32Array(analyser.fftSize);
    let clipUntil = 0;
    const frame = () => {
      if (!this.audio) return;
      analyser.getFloatTimeDomainData(data);
      let sum = 0;
      let peak = 0;
      for (const value of data) {
        sum += value * value;
        peak = Math.max(peak, Math.abs(value));
      }
      const rms = Math.sqrt(sum / data.length);
      const db = Math.max(FLOOR_DB, 20 * Math.log10(rms || 1e-6));
      this.fill.style.width = `${((db - FLOOR_DB) / -FLOOR_DB) * 100}%`;
      this.meter.setAttribute("aria-valuenow", String(Math.round(db)));
      this.levelText.textContent = `Level: ${Math.round(db)} dBFS`;
      const now = performance.now();
      if (peak >= CLIP_LEVEL) clipUntil = now + 1500;
      this.clipText.hidden = now > clipUntil;
      this.fill.classList.toggle("hot", db > -12);
      this.fill.classList.toggle("clip", now <= clipUntil);
      this.levelFrame = requestAnimationFrame(frame);
    };
    frame();
  }

  release() {
    cancelAnimationFrame(this.levelFrame);
    this.stream?.getTracks().forEach((track) => track.stop());
    this.stream = null;
    this.audio?.close();
    this.audio = null;
    this.fill.style.width = "0";
    this.levelText.textContent = "Level: —";
    this.clipText.hidden = true;
  }
}
