// Annotation mode: mark a span (drag on the timeline, or I / O), label it, edit and delete labels, add manual
// scenes, and confirm or reject detected ones. The labels are what scene-type models are trained on.
import { api, el, toast, showError, formatTime, sceneTypeSlug, scrollBehavior } from "./api.js";
import { $, video, movieId, state, duration, typeBySlug, loadSegments, loadAnnotations, ui } from "./movie_state.js";
import { seek } from "./movie_playback.js";

export function renderAnnotations() {
  const list = $("annotation-list");
  if (!state.annotations.length) {
    list.replaceChildren(el("li", { class: "muted" }, "No labels yet. Mark a span above, or confirm or reject a detected scene."));
    return;
  }
  list.replaceChildren(...state.annotations.map((a) => {
    const type = typeBySlug(sceneTypeSlug(a.scene_type));
    const jump = el("button", { type: "button", class: "small ghost t" }, `${formatTime(a.start_s)}–${formatTime(a.end_s)}`);
    jump.addEventListener("click", () => seek(a.start_s));
    const edit = el("button", { type: "button", class: "small ghost", "data-action": "edit" }, "Edit");
    edit.addEventListener("click", () => editAnnotation(a));
    const del = el("button", { type: "button", class: "small ghost danger", "data-action": "delete" }, "Delete");
    del.addEventListener("click", () => deleteAnnotation(a));
    return el("li", { dataset: { annotationId: String(a.id), label: a.label, start: String(a.start_s), end: String(a.end_s) } },
      el("span", { class: `badge ${a.label === "positive" ? "ok" : "bad"}` }, a.label === "positive" ? "yes" : "no"),
      el("span", {}, type?.name || sceneTypeSlug(a.scene_type)), jump, el("span", { class: "spacer" }), edit, del);
  }));
}

export async function reviewSegment(seg, verdict) {
  try {
    await api(`/api/segments/${seg.id}/review/`, { method: "POST", body: { verdict } });
    toast(verdict === "confirm" ? "Confirmed: saved as a positive label." : "Rejected: saved as a negative label.", "ok", { timeoutMs: 3000 });
    await loadAnnotations();
    ui.renderAll();
  } catch (err) {
    showError(err, "The review was not saved:");
  }
}

export async function deleteSegment(seg) {
  try {
    await api(`/api/segments/${seg.id}/`, { method: "DELETE" });
    await loadSegments();
    ui.renderAll();
    toast("Scene deleted.", "ok", { timeoutMs: 3000 });
  } catch (err) {
    showError(err, "The scene was not deleted:");
  }
}

export function setSelection(span) {
  state.selection = span;
  if (span) {
    $("ann-start").value = span.start === null || span.start === undefined ? "" : String(span.start);
    $("ann-end").value = span.end === null || span.end === undefined ? "" : String(span.end);
  }
  ui.timeline.setSelection(span && span.end > span.start ? span : null);
}

export function setAnnotating(on) {
  state.annotating = on;
  $("annotate-toggle").setAttribute("aria-pressed", String(on));
  $("annotate-toggle").classList.toggle("active", on);
  $("annotate-panel").hidden = !on;
  if (on) $("annotate-panel").scrollIntoView({ block: "nearest", behavior: scrollBehavior() });
  ui.timeline.setAnnotating(on);
  ui.renderTimeline();
}

export function markPoint(which) {
  if (!state.annotating) setAnnotating(true);
  const t = Math.round(video.currentTime * 10) / 10;
  const span = { start: state.selection?.start ?? null, end: state.selection?.end ?? null };
  span[which] = t;
  if (span.start !== null && span.end !== null && span.end < span.start) [span.start, span.end] = [span.end, span.start];
  setSelection(span);
  toast(`${which === "start" ? "In" : "Out"} point set at ${formatTime(t)}.`, "info", { timeoutMs: 1500 });
}

export function formSpan() {
  const start = Number($("ann-start").value);
  const end = Number($("ann-end").value);
  if ($("ann-start").value === "" || $("ann-end").value === "" || !Number.isFinite(start) || !Number.isFinite(end)) {
    throw new Error("Mark a span first: drag across the timeline, or press I and O at the start and end.");
  }
  if (end <= start) throw new Error("The out point must come after the in point.");
  if (start < 0 || end > duration() + 0.01) throw new Error(`The span must lie within the movie (0:00 to ${formatTime(duration())}).`);
  return { start_s: start, end_s: Math.min(end, duration()) };
}

export async function saveAnnotation(event) {
  event?.preventDefault();
  let span;
  try { span = formSpan(); } catch (err) { toast(err.message, "error"); return; }
  const label = document.querySelector('input[name="ann-label"]:checked').value;
  const body = { scene_type: $("ann-type").value, ...span, label };
  try {
    if (state.editingAnnotation) {
      await api(`/api/annotations/${state.editingAnnotation}/`, { method: "PATCH", body });
      toast("Label updated.", "ok", { timeoutMs: 3000 });
    } else {
      await api(`/api/movies/${movieId}/annotations/`, { method: "POST", body });
      toast(`Saved: ${formatTime(span.start_s)}–${formatTime(span.end_s)} labelled “${label === "positive" ? "is" : "is not"} ${typeBySlug(body.scene_type)?.name.toLowerCase()}”.`, "ok", { timeoutMs: 3000 });
    }
    clearForm();
    await loadAnnotations();
    ui.renderAll();
  } catch (err) {
    showError(err, "The label was not saved:");
  }
}

export async function addManualScene() {
  let span;
  try { span = formSpan(); } catch (err) { toast(err.message, "error"); return; }
  try {
    await api(`/api/movies/${movieId}/segments/`, { method: "POST", body: { scene_type: $("ann-type").value, ...span } });
    toast("Scene added.", "ok", { timeoutMs: 3000 });
    state.selected = $("ann-type").value;
    clearForm();
    await loadSegments();
    ui.renderAll();
  } catch (err) {
    showError(err, "The scene was not added:");
  }
}

export function clearForm() {
  state.editingAnnotation = null;
  $("ann-save").textContent = "Save label";
  $("ann-start").value = "";
  $("ann-end").value = "";
  setSelection(null);
}

export function editAnnotation(a) {
  if (!state.annotating) setAnnotating(true);
  state.editingAnnotation = a.id;
  $("ann-type").value = sceneTypeSlug(a.scene_type);
  document.querySelector(`input[name="ann-label"][value="${a.label}"]`).checked = true;
  setSelection({ start: a.start_s, end: a.end_s });
  $("ann-save").textContent = "Update label";
  $("ann-start").focus();
}

export async function deleteAnnotation(a) {
  try {
    await api(`/api/annotations/${a.id}/`, { method: "DELETE" });
    if (state.editingAnnotation === a.id) clearForm();
    await loadAnnotations();
    ui.renderAll();
    toast("Label deleted.", "ok", { timeoutMs: 3000 });
  } catch (err) {
    showError(err, "The label was not deleted:");
  }
}

export function wireAnnotation() {
  $("annotate-toggle").addEventListener("click", () => setAnnotating(!state.annotating));
  $("annotation-form").addEventListener("submit", saveAnnotation);
  $("ann-add-scene").addEventListener("click", addManualScene);
  $("ann-cancel").addEventListener("click", clearForm);
  for (const id of ["ann-start", "ann-end"]) {
    $(id).addEventListener("input", () => {
      const s = Number($("ann-start").value), e = Number($("ann-end").value);
      state.selection = { start: s, end: e };
      ui.timeline.setSelection($("ann-start").value && $("ann-end").value && e > s ? state.selection : null);
    });
  }
}
