// The Clone view: a recording (made here or uploaded), consent, the server's quality report and
// transcript, a test sentence, save.
//
// The server checks and stores a voice in one step (POST /v1/voices), so "Create voice" already
// makes it; the review step then corrects it (PATCH) and "Discard" deletes it again.

import { call, getJson } from "./api.js";
import { StreamPlayer, Waveform } from "./player.js";
import { Recorder } from "./recorder.js";
import { bus, cloningEngines, config, loadVoices } from "./store.js";
import { $, clearError, confirmAction, dropTarget, h, sentence, showError, toast } from "./ui.js";

const STEPS = ["sample", "consent", "review"];
const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;

const state = {
  sample: null, // {blob, filename, label}
  consent: null, // {blob, filename, label}
  consentId: null,
  voice: null, // the created voice, as the API answered
};

let onUse = () => {};
const player = new StreamPlayer();

export function init({ useVoice }) {
  onUse = useVoice;
  const sampleRecorder = new Recorder($("#sample-recorder"), { label: "Record" });
  sampleRecorder.addEventListener("recorded", (event) => chooseSample(event.detail));
  const consentRecorder = new Recorder($("#consent-recorder"), { label: "Record consent", minSeconds: 2 });
  consentRecorder.addEventListener("recorded", (event) => chooseConsent(event.detail));

  $("#clone-file").addEventListener("change", (event) => {
    const file = event.target.files?.[0];
    event.target.value = "";
    if (file) chooseSample(fileChoice(file));
  });
  dropTarget($("#clone-drop"), (file) => chooseSample(fileChoice(file)));
  $("#consent-file").addEventListener("change", (event) => {
    const file = event.target.files?.[0];
    event.target.value = "";
    if (file) chooseConsent(fileChoice(file));
  });
  dropTarget($("#consent-drop"), (file) => chooseConsent(fileChoice(file)));

  $("#clone-name").addEventListener("input", () => {
    updateNext();
    updateConsentScript();
  });
  $("#sample-next").addEventListener("click", () => go("consent"));
  $("#consent-back").addEventListener("click", () => go("sample"));
  $("#consent-next").addEventListener("click", create);
  $("#clone-test").addEventListener("click", testSentence);
  $("#clone-test-text").addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      testSentence();
    }
  });
  $("#clone-save").addEventListener("click", save);
  $("#clone-discard").addEventListener("click", discard);
  $("#clone-again").addEventListener("click", restart);
  $("#clone-use").addEventListener("click", () => state.voice && onUse(state.voice.id));

  new Waveform($("#clone-waveform"), player);
  player.addEventListener("state", (event) => {
    $("#view-clone").dataset.playerState = event.detail;
  });
  bus.addEventListener("status", showEngineNote);
  updateConsentNote();
  updateConsentScript();
}

function fileChoice(file) {
  return { blob: file, filename: file.name, label: `${file.name} · ${(file.size / 1024).toFixed(0)} KiB` };
}

function chooseSample(choice) {
  const errors = $("#clone-error");
  clearError(errors);
  if (choice.blob.size > MAX_UPLOAD_BYTES) {
    showError(errors, {
      message: `${choice.filename} is larger than 10 MiB`,
      suggestion: "upload a shorter recording: 10 to 20 s of speech is plenty",
    });
    return;
  }
  state.sample = choice;
  $("#sample-chosen").hidden = false;
  $("#sample-chosen-name").textContent = choice.seconds
    ? `Recording · ${choice.seconds.toFixed(1)} s`
    : choice.label;
  const audio = $("#sample-chosen-audio");
  if (audio.src) URL.revokeObjectURL(audio.src);
  audio.src = URL.createObjectURL(choice.blob);
  if (!$("#clone-name").value.trim() && choice.filename && !choice.seconds) {
    // A file's name is a fair first guess at the voice's name.
    $("#clone-name").value = choice.filename
      .replace(/\.[^.]+$/, "")
      .replace(/[_-]+/g, " ")
      .slice(0, 256);
    updateConsentScript();
  }
  updateNext();
}

function chooseConsent(choice) {
  state.consent = choice;
  state.consentId = null;
  $("#consent-chosen").hidden = false;
  $("#consent-chosen-name").textContent = choice.seconds
    ? `Consent recording · ${choice.seconds.toFixed(1)} s`
    : choice.label;
  updateConsentNote();
}

function updateNext() {
  $("#sample-next").disabled = !(state.sample && $("#clone-name").value.trim());
}

function updateConsentScript() {
  const name = $("#clone-name").value.trim() || "[your name]";
  $("#consent-script").textContent =
    `I, ${name}, agree that this recording of my voice may be used to create a synthetic voice that speaks text I did not say.`;
}

function updateConsentNote() {
  const note = $("#consent-required-note");
  const button = $("#consent-next");
  if (config.requireConsent) {
    note.textContent = "This server requires a consent recording for every cloned voice.";
    button.disabled = !state.consent;
  } else {
    note.textContent = "Optional on this server, and good practice: keep a record that the speaker agreed.";
    button.disabled = false;
  }
  button.textContent = state.consent || config.requireConsent ? "Create voice" : "Skip and create voice";
}

/** Tell people before they start when nothing loaded here can speak a cloned voice. */
function showEngineNote() {
  const note = $("#clone-engine-note");
  const engines = cloningEngines();
  if (engines === null || engines.length) {
    note.hidden = true;
    return;
  }
  note.replaceChildren(
    h("strong", {}, "The engines running here cannot clone voices."),
    "You can still record and store a voice now; speaking with it needs a cloning engine: ",
    h("code", {}, 'pip install "speaker-tts[csm]"'),
    " and start the server with ",
    h("code", {}, "SPEAKER_ENGINES=csm"),
    ".",
  );
  note.hidden = false;
}

function go(step) {
  const index = STEPS.indexOf(step);
  for (const item of document.querySelectorAll("#clone-steps li")) {
    const at = STEPS.indexOf(item.dataset.step);
    if (at === index) item.setAttribute("aria-current", "step");
    else item.removeAttribute("aria-current");
    item.classList.toggle("done", at < index);
  }
  for (const name of STEPS) $(`#step-${name}`).hidden = name !== step;
  $("#step-done").hidden = true;
  $(`#step-${step} h2`).focus();
  $("#view-clone").dataset.step = step;
}

/** Upload the consent (if any) and the sample: the server checks, trims and transcribes it. */
async function create() {
  const errors = $("#clone-error");
  clearError(errors);
  const button = $("#consent-next");
  button.disabled = true;
  button.textContent = "Checking the recording…";
  const name = $("#clone-name").value.trim();
  const language = $("#clone-language").value.trim() || "en";
  try {
    if (state.consent && !state.consentId) {
      const form = new FormData();
      form.append("recording", state.consent.blob, state.consent.filename);
      form.append("name", name);
      form.append("language", language);
      state.consentId = (await getJson("/v1/audio/voice_consents", { method: "POST", form })).id;
    }
    const form = new FormData();
    form.append("audio", state.sample.blob, state.sample.filename);
    form.append("name", name);
    form.append("language", language);
    const tags = $("#clone-tags").value.trim();
    if (tags) form.append("tags", tags);
    if (state.consentId) form.append("consent", state.consentId);
    state.voice = await getJson("/v1/voices", { method: "POST", form });
    review(state.voice);
    go("review");
    loadVoices().catch(() => {});
  } catch (error) {
    // A refused recording (too short, silent, unreadable) is fixed in the first step.
    const sampleProblem = error.param === "audio" || error.status === 415 || error.status === 413;
    showError(errors, error, {
      title: sampleProblem ? "This recording cannot be used" : "The voice was not created",
    });
    if (sampleProblem) go("sample");
  } finally {
    updateConsentNote();
  }
}

function metric(label, value, good, verdict) {
  return h(
    "div",
    { class: `metric ${good ? "good" : "warn"}` },
    h("span", { class: "metric-label" }, label),
    h("span", { class: "metric-value" }, value),
    h("span", { class: "metric-verdict" }, `${good ? "✓" : "!"} ${verdict}`),
  );
}

/** The server's quality report, each number with a plain-words verdict (not colour alone). */
function review(voice) {
  const q = voice.quality || {};
  const trimmed = q.original_duration_s - q.duration_s;
  $("#quality").replaceChildren(
    metric(
      "Length",
      `${q.duration_s?.toFixed(1)} s`,
      q.duration_s >= 6,
      q.duration_s >= 6
        ? `of speech${trimmed > 0.3 ? `, ${trimmed.toFixed(1)} s of silence trimmed` : ""}`
        : "short: 10–20 s clone better",
    ),
    metric(
      "Level",
      `${q.rms_dbfs?.toFixed(1)} dBFS`,
      q.rms_dbfs >= -35,
      q.rms_dbfs >= -35 ? "loud enough" : "quiet",
    ),
    metric(
      "Clipping",
      `${((q.clipping_ratio || 0) * 100).toFixed(2)} %`,
      q.clipping_ratio <= 0.001,
      q.clipping_ratio <= 0.001 ? `peak ${q.peak_dbfs?.toFixed(1)} dBFS` : "distorted peaks",
    ),
    metric(
      "Noise",
      `${q.snr_db?.toFixed(0)} dB SNR`,
      q.snr_db >= 20,
      q.snr_db >= 20 ? `floor ${q.noise_dbfs?.toFixed(0)} dBFS` : "noisy background",
    ),
  );
  const warnings = q.warnings || [];
  $("#quality-warnings").replaceChildren(...warnings.map((w) => h("li", {}, sentence(w))));
  $("#clone-transcript").value = voice.transcript || "";
  $("#transcript-source").textContent =
    voice.transcript_source === "automatic" ? "written by Whisper: check it" : "as given";
  $("#clone-test-status").textContent = "";
  $("#step-review h2").textContent = `Check “${voice.name}”`;
}

/** Send a corrected transcript before speaking or saving: the engine reads it with the audio. */
async function saveTranscript() {
  const transcript = $("#clone-transcript").value.trim();
  if (!transcript || transcript === (state.voice.transcript || "")) return;
  state.voice = await getJson(`/v1/voices/${encodeURIComponent(state.voice.id)}`, {
    method: "PATCH",
    json: { transcript },
  });
}

async function testSentence() {
  const errors = $("#clone-error");
  clearError(errors);
  player.prepare();
  const status = $("#clone-test-status");
  status.textContent = "Synthesizing…";
  try {
    await saveTranscript();
    const response = await call("/v1/audio/speech", {
      method: "POST",
      json: {
        model: "tts-1",
        voice: { id: state.voice.id },
        input: $("#clone-test-text").value,
        response_format: "pcm",
      },
    });
    const engine = response.headers.get("x-speaker-engine");
    await player.play(response);
    status.textContent = `Spoken by ${engine}: ${player.scheduledSeconds.toFixed(1)} s.`;
  } catch (error) {
    status.textContent = "";
    showError(errors, error, { title: "The test sentence could not be spoken" });
  }
}

async function save() {
  const errors = $("#clone-error");
  clearError(errors);
  const button = $("#clone-save");
  button.disabled = true;
  try {
    await saveTranscript();
    await loadVoices();
    $("#clone-done-title").textContent = `“${state.voice.name}” is saved`;
    for (const name of STEPS) $(`#step-${name}`).hidden = true;
    for (const item of document.querySelectorAll("#clone-steps li")) {
      item.removeAttribute("aria-current");
      item.classList.add("done");
    }
    $("#step-done").hidden = false;
    $("#step-done h2").focus();
    $("#view-clone").dataset.step = "done";
    toast(`Saved “${state.voice.name}”.`);
  } catch (error) {
    showError(errors, error, { title: "Not saved" });
  } finally {
    button.disabled = false;
  }
}

async function discard() {
  const sure = await confirmAction({
    title: `Discard “${state.voice.name}”?`,
    message: "The voice and its recording are deleted from the server.",
    confirmLabel: "Discard",
  });
  if (!sure) return;
  try {
    player.stop();
    await call(`/v1/voices/${encodeURIComponent(state.voice.id)}`, { method: "DELETE" });
    toast(`Discarded “${state.voice.name}”.`);
    loadVoices().catch(() => {});
    restart();
  } catch (error) {
    showError($("#clone-error"), error, { title: "Not discarded" });
  }
}

function restart() {
  state.sample = null;
  state.consent = null;
  state.consentId = null;
  state.voice = null;
  $("#clone-name").value = "";
  $("#clone-tags").value = "";
  $("#sample-chosen").hidden = true;
  $("#consent-chosen").hidden = true;
  clearError($("#clone-error"));
  updateNext();
  updateConsentNote();
  updateConsentScript();
  go("sample");
}
