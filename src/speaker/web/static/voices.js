// The Voices view: search and filter the library, preview, edit, delete, export and import.

import { call, filenameOf, getJson, query } from "./api.js";
import { icon } from "./icons.js";
import { bus, loadVoices, store } from "./store.js";
import {
  $,
  clearError,
  confirmAction,
  debounce,
  downloadBlob,
  fillSelect,
  h,
  iconButton,
  showError,
  toast,
} from "./ui.js";

let onUse = () => {};
let shown = []; // the voices the filters let through, as last listed
let preview = null; // {id, audio, url}: the preview playing now
let loaded = false;

export function init({ useVoice }) {
  onUse = useVoice;
  const refresh = debounce(list, 200);
  $("#voice-q").addEventListener("input", refresh);
  for (const id of ["#voice-language", "#voice-tag", "#voice-engine", "#voice-type"]) {
    $(id).addEventListener("change", list);
  }
  $("#voices-export").addEventListener("click", exportVoices);
  $("#voices-import-button").addEventListener("click", () => $("#voices-import").click());
  $("#voices-import").addEventListener("change", importVoices);
  $("#edit-cancel").addEventListener("click", () => $("#edit-dialog").close());
  bus.addEventListener("voices", () => {
    loaded = true;
    fillFacets();
    list();
  });
}

/** Fresh on every visit: voices may have been added elsewhere (the API, another tab). */
export function show() {
  if (!loaded) return; // the start-up load is still on its way
  loadVoices().catch((error) =>
    showError($("#voices-error"), error, { title: "The voices could not be listed" }),
  );
}

/** The filter choices come from the voices there are, so no choice ever lists nothing. */
function fillFacets() {
  const languages = new Set();
  const tags = new Set();
  const engines = new Set();
  for (const voice of store.voices) {
    if (voice.language) languages.add(voice.language.split(/[-_]/)[0].toLowerCase());
    for (const tag of voice.tags || []) tags.add(tag);
    for (const engine of voice.engines || []) engines.add(engine);
  }
  const options = (values) => [
    { value: "", label: "Any" },
    ...[...values].sort().map((v) => ({ value: v, label: v })),
  ];
  fillSelect($("#voice-language"), options(languages));
  fillSelect($("#voice-tag"), options(tags));
  fillSelect($("#voice-engine"), options(engines));
  $("#voices-export").disabled = !store.voices.some((v) => v.type === "cloned");
}

function filters() {
  return {
    q: $("#voice-q").value.trim(),
    language: $("#voice-language").value,
    tag: $("#voice-tag").value,
    engine: $("#voice-engine").value,
    type: $("#voice-type").value,
  };
}

/** List voices through the API's own filters (the same ones a script would use). */
async function list() {
  const wanted = filters();
  const errors = $("#voices-error");
  try {
    const answer = await getJson(`/v1/voices${query(wanted)}`);
    if (JSON.stringify(wanted) !== JSON.stringify(filters())) return; // a newer search is on its way
    clearError(errors);
    shown = answer.data;
    render(wanted);
  } catch (error) {
    showError(errors, error, { title: "The voices could not be listed" });
  }
}

function render(wanted) {
  const grid = $("#voice-list");
  const empty = $("#voices-empty");
  const filtered = Object.values(wanted).some(Boolean);
  const count = shown.length;
  $("#voices-count").textContent = filtered
    ? `${count} of ${store.voices.length} voices match.`
    : `${count} voice${count === 1 ? "" : "s"}.`;
  grid.replaceChildren(...shown.map(card));
  const hasCloned = store.voices.some((v) => v.type === "cloned");
  empty.hidden = count > 0 && (hasCloned || filtered);
  if (count === 0 && filtered) {
    empty.replaceChildren(
      h("span", { class: "empty-icon" }, icon("search")),
      h("p", { class: "empty-title" }, "No voices match"),
      h("p", {}, "Try fewer filters or another word."),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "button", onclick: clearFilters }, "Clear filters"),
      ),
    );
  } else if (!hasCloned && !filtered) {
    // Built-in voices are listed, but the library of one's own voices is empty: say how to start.
    empty.replaceChildren(
      h("span", { class: "empty-icon" }, icon("mic")),
      h("p", { class: "empty-title" }, "No voices of your own yet"),
      h("p", {}, "Record ten seconds of speech, or upload a recording, and Speaker can speak in that voice."),
      h(
        "div",
        { class: "actions" },
        h("a", { class: "button primary", href: "#clone" }, icon("plus"), h("span", {}, "Clone a voice")),
      ),
    );
  }
}

function clearFilters() {
  $("#voice-q").value = "";
  for (const id of ["#voice-language", "#voice-tag", "#voice-engine", "#voice-type"]) $(id).value = "";
  list();
}

function quality(voice) {
  const q = voice.quality;
  if (!q) return null;
  const warnings = q.warnings?.length || 0;
  return h(
    "p",
    { class: "voice-quality" },
    `${q.duration_s.toFixed(1)} s of speech · SNR ${Math.round(q.snr_db)} dB`,
    warnings ? ` · ${warnings} warning${warnings === 1 ? "" : "s"}` : " · clean",
  );
}

function card(voice) {
  const cloned = voice.type === "cloned";
  const meta = [voice.language, voice.gender, (voice.engines || []).join(", ") || "no engine loaded"].filter(
    Boolean,
  );
  const actions = [
    iconButton("play", "Preview", {
      class: "button small",
      "aria-label": `Preview ${voice.name}`,
      onclick: (e) => togglePreview(voice, e.currentTarget),
    }),
    iconButton("speak", "Use", {
      class: "button small",
      "aria-label": `Speak with ${voice.name}`,
      onclick: () => onUse(voice.id),
    }),
  ];
  if (cloned) {
    actions.push(
      iconButton("edit", "Edit", {
        class: "button small",
        "aria-label": `Edit ${voice.name}`,
        onclick: () => edit(voice),
      }),
      h(
        "button",
        {
          type: "button",
          class: "button small danger-ghost icon-only push",
          "aria-label": `Delete ${voice.name}`,
          title: "Delete",
          onclick: () => remove(voice),
        },
        icon("trash"),
      ),
    );
  }
  return h(
    "li",
    { class: "card voice-card", dataset: { voiceId: voice.id, type: voice.type } },
    h(
      "div",
      { class: "voice-top" },
      h("h3", { class: "voice-name" }, voice.name),
      h(
        "span",
        { class: cloned ? "badge accent" : "badge" },
        cloned ? (voice.shared ? "Cloned · shared" : "Cloned") : "Built-in",
      ),
    ),
    h("p", { class: "voice-meta" }, meta.join(" · ")),
    voice.description ? h("p", { class: "voice-desc" }, voice.description) : null,
    voice.tags?.length
      ? h("ul", { class: "tags", "aria-label": "Tags" }, ...voice.tags.map((t) => h("li", {}, t)))
      : null,
    quality(voice),
    h("div", { class: "card-actions" }, ...actions),
  );
}

function stopPreview() {
  if (!preview) return;
  preview.audio.pause();
  URL.revokeObjectURL(preview.url);
  preview.button.setAttribute("aria-pressed", "false");
  preview = null;
}

/** Play a voice's preview; the server synthesizes it once and keeps it. */
async function togglePreview(voice, button) {
  const wasThis = preview?.id === voice.id;
  stopPreview();
  if (wasThis) return;
  const errors = $("#voices-error");
  button.disabled = true;
  try {
    const response = await call(`/v1/voices/${encodeURIComponent(voice.id)}/preview?format=mp3`);
    const kind = response.headers.get("x-speaker-preview");
    const url = URL.createObjectURL(await response.blob());
    const audio = new Audio(url);
    preview = { id: voice.id, audio, url, button };
    button.setAttribute("aria-pressed", "true");
    audio.addEventListener("ended", stopPreview);
    if (kind === "reference") {
      toast(`No engine here can speak “${voice.name}” yet: this is its own recording.`);
    }
    await audio.play();
  } catch (error) {
    stopPreview();
    showError(errors, error, { title: `No preview of “${voice.name}”` });
  } finally {
    button.disabled = false;
  }
}

function edit(voice) {
  const dialog = $("#edit-dialog");
  const form = $("#edit-form");
  clearError($("#edit-error"));
  $("#edit-title").textContent = `Edit “${voice.name}”`;
  $("#edit-name").value = voice.name;
  $("#edit-language").value = voice.language || "";
  $("#edit-gender").value = voice.gender || "";
  $("#edit-tags").value = (voice.tags || []).join(", ");
  $("#edit-description").value = voice.description || "";
  $("#edit-transcript").value = voice.transcript || "";
  $("#edit-shared").checked = Boolean(voice.shared);
  form.onsubmit = async (event) => {
    event.preventDefault();
    const tags = $("#edit-tags")
      .value.split(",")
      .map((t) => t.trim())
      .filter(Boolean);
    const next = {
      name: $("#edit-name").value.trim(),
      language: $("#edit-language").value.trim(),
      gender: $("#edit-gender").value.trim() || null,
      tags,
      description: $("#edit-description").value.trim(),
      transcript: $("#edit-transcript").value.trim() || undefined,
      shared: $("#edit-shared").checked,
    };
    // Send only what changed: a transcript edit recomputes the voice's conditioning.
    const before = { ...voice, gender: voice.gender || null, transcript: voice.transcript || undefined };
    const changes = {};
    for (const [field, value] of Object.entries(next)) {
      if (value !== undefined && JSON.stringify(value) !== JSON.stringify(before[field]))
        changes[field] = value;
    }
    if (!Object.keys(changes).length) {
      dialog.close();
      return;
    }
    const save = $("#edit-save");
    save.disabled = true;
    try {
      await call(`/v1/voices/${encodeURIComponent(voice.id)}`, { method: "PATCH", json: changes });
      dialog.close();
      toast(`Saved “${changes.name || voice.name}”.`);
      await loadVoices();
    } catch (error) {
      showError($("#edit-error"), error, { title: "Not saved" });
    } finally {
      save.disabled = false;
    }
  };
  dialog.showModal();
  $("#edit-name").focus();
}

async function remove(voice) {
  const sure = await confirmAction({
    title: `Delete “${voice.name}”?`,
    message: "Its recording, transcript and everything computed from it are removed. This cannot be undone.",
  });
  if (!sure) return;
  try {
    await call(`/v1/voices/${encodeURIComponent(voice.id)}`, { method: "DELETE" });
    toast(`Deleted “${voice.name}”.`);
    await loadVoices();
  } catch (error) {
    showError($("#voices-error"), error, { title: `“${voice.name}” was not deleted` });
  }
}

/** Export the cloned voices shown (all of them when no filter is set) as one zip. */
async function exportVoices() {
  const cloned = shown.filter((v) => v.type === "cloned").map((v) => v.id);
  const errors = $("#voices-error");
  if (!cloned.length) {
    toast("There are no cloned voices in this list to export.");
    return;
  }
  try {
    const response = await call(`/v1/voices/export${query({ ids: cloned.join(",") })}`);
    downloadBlob(await response.blob(), filenameOf(response, "speaker-voices.zip"));
    toast(`Exported ${cloned.length} voice${cloned.length === 1 ? "" : "s"}.`);
  } catch (error) {
    showError(errors, error, { title: "The export failed" });
  }
}

async function importVoices(event) {
  const input = event.target;
  const file = input.files?.[0];
  input.value = "";
  if (!file) return;
  const errors = $("#voices-error");
  const form = new FormData();
  form.append("file", file, file.name);
  toast(`Importing ${file.name}…`);
  try {
    const answer = await getJson("/v1/voices/import", { method: "POST", form });
    clearError(errors);
    toast(`Imported ${answer.data.length} voice${answer.data.length === 1 ? "" : "s"}.`);
    await loadVoices();
  } catch (error) {
    showError(errors, error, { title: `${file.name} was not imported` });
  }
}
