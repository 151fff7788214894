// Movie page: player, timeline, scene list, sensitivity, annotation mode, skip mode, deep links.
import {
  api, apiAll, el, toast, showError, formatTime, formatDuration, progressBlock, isBusy, sceneTypeSlug, icon,
} from "./api.js";
import { aggregateProbabilities } from "./aggregate.js";
import { Timeline, TYPE_COLOURS } from "./timeline.js";

const root = document.getElementById("movie-root");
const movieId = Number(root.dataset.movieId);
const video = document.getElementById("player");
const $ = (id) => document.getElementById(id);
const isStaff = document.body.dataset.staff === "1";

const state = {
  movie: null,
  sceneTypes: [],
  selected: null,
  segments: {}, // slug -> server segments
  scores: {}, // slug -> number[] | null
  settings: {}, // slug -> {cut, min_frames, threshold} as the controls show them
  annotations: [],
  skip: {}, // slug -> "show" | "ask" | "skip"
  selection: null,
  annotating: false,
  editingAnnotation: null,
  allowed: null, // a scene the person jumped into on purpose: skip mode leaves it alone
  lastCurrentKey: "",
};

const timeline = new Timeline($("timeline"), {
  duration,
  onSeek: (t) => seek(t),
  onSelect: (span) => setSelection(span),
});

function duration() {
  return Number.isFinite(video.duration) && video.duration > 0 ? video.duration : Number(root.dataset.duration) || 0;
}

function typeBySlug(slug) {
  return state.sceneTypes.find((t) => t.slug === slug);
}

function colourFor(slug) {
  const i = state.sceneTypes.findIndex((t) => t.slug === slug);
  return TYPE_COLOURS[(i < 0 ? 0 : i) % TYPE_COLOURS.length];
}

function savedSettings(type) {
  return { cut: type.cut ?? 0.5, min_frames: type.min_frames ?? 10, threshold: type.threshold ?? 0.7 };
}

function isDirty(slug) {
  const type = typeBySlug(slug);
  if (!type) return false;
  const a = state.settings[slug];
  const b = savedSettings(type);
  return Math.abs(a.cut - b.cut) > 1e-9 || a.min_frames !== b.min_frames || Math.abs(a.threshold - b.threshold) > 1e-9;
}

function normalizeSegment(raw, slug) {
  return {
    id: raw.id,
    slug: sceneTypeSlug(raw.scene_type) || slug,
    start_s: Number(raw.start_s),
    end_s: Number(raw.end_s),
    confidence: raw.confidence === undefined || raw.confidence === null ? null : Number(raw.confidence),
    source: raw.source || "detected",
    thumbnail_url: raw.thumbnail_url,
  };
}

/** The scenes shown for one scene type: manual ones plus the detected ones, re-derived from the scores when present. */
function displayed(slug) {
  const server = state.segments[slug] || [];
  const manual = server.filter((s) => s.source === "manual");
  const detected = server.filter((s) => s.source !== "manual");
  const scores = state.scores[slug];
  let shown = detected;
  if (scores && scores.length && state.settings[slug]) {
    const { cut, min_frames, threshold } = state.settings[slug];
    const end = duration();
    shown = aggregateProbabilities(scores, { cut, minFrames: min_frames, threshold }).map((seg) => {
      const clipped = end > 0 ? Math.min(seg.end_s, end) : seg.end_s;
      const twin = detected.find((d) => Math.abs(d.start_s - seg.start_s) < 0.05 && Math.abs(d.end_s - clipped) < 1.01);
      return twin
        ? { ...twin, confidence: twin.confidence ?? seg.confidence }
        : { id: null, slug, start_s: seg.start_s, end_s: clipped, confidence: seg.confidence, source: "preview" };
    });
  }
  return [...shown, ...manual].sort((a, b) => a.start_s - b.start_s);
}

function reviewOf(seg) {
  if (!seg.id) return null;
  return state.annotations.find((a) => a.segment === seg.id)
    || state.annotations.find((a) => sceneTypeSlug(a.scene_type) === seg.slug
      && Math.abs(a.start_s - seg.start_s) < 0.05 && Math.abs(a.end_s - seg.end_s) < 0.05 && a.segment !== undefined && a.segment !== null);
}

// ---------- loading ----------

async function loadMovie() {
  state.movie = await api(`/api/movies/${movieId}/`);
  renderHead();
}

async function loadSegments() {
  const all = await Promise.all(state.sceneTypes.map(async (t) => {
    const items = await apiAll(`/api/movies/${movieId}/segments/`, { params: { scene_type: t.slug } });
    return [t.slug, items.map((raw) => normalizeSegment(raw, t.slug)).filter((s) => s.slug === t.slug)];
  }));
  state.segments = Object.fromEntries(all);
}

async function loadScores() {
  const all = await Promise.all(state.sceneTypes.map(async (t) => {
    // Scores exist once an analysis finished with a model; asking earlier only earns a 404.
    if (!t.active_model || state.movie?.status !== "ready") return [t.slug, null];
    try {
      const data = await api(`/api/movies/${movieId}/scores/`, { params: { scene_type: t.slug } });
      return [t.slug, data && Array.isArray(data.scores) && data.scores.length ? data.scores.map(Number) : null];
    } catch (err) {
      if (err.status === 404 || err.status === 409) return [t.slug, null];
      throw err;
    }
  }));
  state.scores = Object.fromEntries(all);
}

async function loadAnnotations() {
  state.annotations = (await apiAll(`/api/movies/${movieId}/annotations/`)).map((a) => ({
    ...a, start_s: Number(a.start_s), end_s: Number(a.end_s),
  }));
}

async function loadPreferences() {
  try {
    const data = await api("/api/me/preferences/");
    state.skip = data.skip || {};
  } catch (err) {
    showError(err, "Your player settings could not be loaded:");
  }
}

async function loadSceneData() {
  const results = await Promise.allSettled([loadSegments(), loadScores(), loadAnnotations()]);
  for (const r of results) if (r.status === "rejected") showError(r.reason, "Part of this movie's data could not be loaded:");
  renderAll();
}

// ---------- rendering ----------

function renderHead() {
  const m = state.movie;
  $("movie-title").textContent = m.title;
  document.title = `${m.title} · Kissweb`;
  const bits = [m.year, formatDuration(m.duration_s), m.width && m.height ? `${m.width}×${m.height}` : null].filter(Boolean);
  $("movie-meta").textContent = bits.join(" · ");
  $("movie-actions").hidden = !m.can_edit;
  if (m.poster_url && !video.getAttribute("poster")) video.setAttribute("poster", m.poster_url);
  const box = $("movie-status");
  if (isBusy(m)) {
    box.replaceChildren(el("div", { class: "alert" },
      el("p", {}, "Kissweb is still analysing this movie. You can watch it already; scenes appear here when the analysis is done."),
      progressBlock(m)));
  } else if (m.status === "failed") {
    box.replaceChildren(el("div", { class: "alert error", role: "alert" },
      el("strong", {}, "The analysis failed. "), m.error || "No reason was given.",
      m.can_edit ? " Use “Analyse again” to retry." : ""));
  } else {
    box.replaceChildren();
  }
}

function renderTabs() {
  const tabs = $("type-tabs");
  tabs.replaceChildren(...state.sceneTypes.map((t) => {
    const n = displayed(t.slug).length;
    const button = el("button", {
      type: "button", role: "tab", class: "small", "aria-selected": String(t.slug === state.selected),
      dataset: { sceneType: t.slug },
    }, `${t.name} (${n})`);
    button.addEventListener("click", () => { state.selected = t.slug; renderAll(); });
    return button;
  }));
  const annType = $("ann-type");
  if (annType.options.length !== state.sceneTypes.length) {
    annType.replaceChildren(...state.sceneTypes.map((t) => el("option", { value: t.slug }, t.name)));
  }
  if (!state.editingAnnotation) annType.value = state.selected;
}

function renderNoModel() {
  const type = typeBySlug(state.selected);
  const box = $("no-model");
  if (!type || type.active_model) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  box.className = "alert no-model";
  box.replaceChildren(
    el("strong", {}, `No ${type.name.toLowerCase()} model yet.`),
    el("p", { class: "small", style: "margin:0.4rem 0 0" },
      `Kissweb finds scenes with a model trained for each scene type, and there is none for “${type.name}” yet, so this movie has not been searched for them. `,
      "To get one: switch on ", el("strong", {}, "Annotate"), " and label a few spans in your movies as being or not being this scene type, then train a model on the ",
      el("a", { href: `/scene-types/${type.slug}/` }, "scene type’s page"),
      ". An administrator can also import a ready-made model there. Scenes you add by hand are listed below meanwhile."));
}

function renderSensitivity() {
  const slug = state.selected;
  const box = $("sensitivity");
  const scores = state.scores[slug];
  box.hidden = !(scores && scores.length);
  if (box.hidden) return;
  const s = state.settings[slug];
  const range = $("sensitivity-range");
  range.value = String(Math.round((1 - s.cut) * 100));
  $("sensitivity-value").textContent = range.value;
  $("min-frames").value = String(s.min_frames);
  $("threshold").value = String(s.threshold);
  const dirty = isDirty(slug);
  $("sensitivity-reset").hidden = !dirty;
  $("sensitivity-save").hidden = !(dirty && isStaff);
  $("sensitivity-note").textContent = dirty
    ? (isStaff ? "Preview: not saved yet." : "Preview only: an administrator can save it for everyone.")
    : "Same setting as the library.";
}

function sceneThumb(seg) {
  const t = seg.start_s + Math.min(2, (seg.end_s - seg.start_s) / 2);
  return seg.thumbnail_url || `/api/movies/${movieId}/thumbnail/?t=${t.toFixed(1)}`;
}

function sceneLink(seg) {
  return `${location.origin}/movies/${movieId}/?t=${+seg.start_s.toFixed(1)}`;
}

async function copyLink(seg) {
  const link = sceneLink(seg);
  try {
    await navigator.clipboard.writeText(link);
    toast("Link to this scene copied.", "ok", { timeoutMs: 3000 });
  } catch {
    window.prompt("Copy this link to the scene:", link);
  }
}

function renderList() {
  const slug = state.selected;
  const type = typeBySlug(slug);
  const list = $("scene-list");
  const items = displayed(slug);
  const summary = $("scene-summary");
  if (!type) { list.replaceChildren(); summary.textContent = ""; return; }
  const total = items.reduce((acc, s) => acc + (s.end_s - s.start_s), 0);
  if (isBusy(state.movie) && !items.length) {
    summary.textContent = "Scenes appear here when the analysis is done.";
  } else if (!items.length) {
    summary.textContent = type.active_model
      ? `No ${type.name.toLowerCase()} scenes found${isDirty(slug) ? " at this sensitivity" : ""}. Raise the sensitivity to see less certain ones, or mark one yourself in annotation mode.`
      : "";
  } else {
    summary.textContent = `${items.length} ${items.length === 1 ? "scene" : "scenes"}, ${formatDuration(total)} in total. Click one to play it.`;
  }
  list.replaceChildren(...items.map((seg, i) => sceneItem(seg, i)));
  state.lastCurrentKey = "";
  updateCurrent();
}

function sceneItem(seg, index) {
  const length = seg.end_s - seg.start_s;
  const img = el("img", { src: sceneThumb(seg), alt: "", loading: "lazy", decoding: "async" });
  img.addEventListener("error", () => img.remove());
  const thumb = el("button", { type: "button", class: "thumb", "aria-label": `Play scene ${index + 1} from ${formatTime(seg.start_s)}` },
    img, el("span", { class: "play", "aria-hidden": "true" }, "▶"));
  thumb.addEventListener("click", () => playScene(seg));
  const when = el("button", { type: "button", class: "when", "data-action": "play" }, `${formatTime(seg.start_s)} – ${formatTime(seg.end_s)}`);
  when.addEventListener("click", () => playScene(seg));
  const facts = el("div", { class: "facts" }, el("span", {}, formatDuration(length)));
  if (seg.confidence !== null && seg.source !== "manual") {
    const pct = Math.round(seg.confidence * 100);
    facts.append(el("span", { title: "Mean model score over the scene" },
      el("span", { class: "confidence-bar", "aria-hidden": "true" }, el("span", { style: `width:${pct}%` })), ` ${pct}% sure`));
  }
  if (seg.source === "manual") facts.append(el("span", { class: "badge manual" }, "added by a person"));
  if (seg.source === "preview") facts.append(el("span", { class: "badge warn", title: "Found at this sensitivity; save the setting to keep it" }, "preview"));
  const review = reviewOf(seg);
  if (review) {
    facts.append(el("span", { class: `badge ${review.label === "positive" ? "ok" : "bad"}` }, review.label === "positive" ? "✓ confirmed" : "✗ rejected"));
  }
  const actions = el("div", { class: "actions" });
  const copy = el("button", { type: "button", class: "small ghost", "data-action": "copy-link", title: "Copy a link that opens the player here" }, icon("link"), "Link");
  copy.addEventListener("click", () => copyLink(seg));
  actions.append(copy);
  if (seg.source === "detected" && seg.id) {
    const yes = el("button", { type: "button", class: "small", "data-action": "confirm", title: "Yes, this is the scene type: counts as a positive label", disabled: review?.label === "positive" }, "✓ Right");
    const no = el("button", { type: "button", class: "small", "data-action": "reject", title: "No, the model was wrong: counts as a negative label", disabled: review?.label === "negative" }, "✗ Wrong");
    yes.addEventListener("click", () => reviewSegment(seg, "confirm"));
    no.addEventListener("click", () => reviewSegment(seg, "reject"));
    actions.append(yes, no);
  }
  if (seg.source === "manual" && seg.id && state.movie?.can_edit) {
    const del = el("button", { type: "button", class: "small ghost danger", "data-action": "delete" }, "Delete");
    del.addEventListener("click", () => deleteSegment(seg));
    actions.append(del);
  }
  return el("li", {
    class: "scene-item",
    dataset: { segmentStart: String(seg.start_s), segmentEnd: String(seg.end_s), source: seg.source, segmentId: seg.id ? String(seg.id) : "" },
  }, thumb, el("div", { class: "info" }, when, facts, actions));
}

function renderTimeline() {
  const lanes = [];
  const ordered = [...state.sceneTypes].sort((a, b) => (a.slug === state.selected ? -1 : b.slug === state.selected ? 1 : 0));
  for (const t of ordered) {
    const items = displayed(t.slug);
    if (!items.length && t.slug !== state.selected) continue;
    lanes.push({
      key: t.slug, label: t.name, colour: colourFor(t.slug),
      items: items.map((s) => ({
        start_s: s.start_s, end_s: s.end_s,
        className: `seg ${s.source}`,
        title: `${t.name} ${formatTime(s.start_s)}–${formatTime(s.end_s)} (${s.source === "manual" ? "added by a person" : s.source === "preview" ? "preview" : "detected"})`,
        dataset: { start: String(s.start_s), end: String(s.end_s), lane: t.slug },
      })),
    });
  }
  if (state.annotations.length || state.annotating) {
    lanes.push({
      key: "labels", label: "Labels",
      items: state.annotations.map((a) => ({
        start_s: a.start_s, end_s: a.end_s, className: `ann ${a.label}`,
        title: `${typeBySlug(sceneTypeSlug(a.scene_type))?.name || ""} ${a.label === "positive" ? "yes" : "no"} ${formatTime(a.start_s)}–${formatTime(a.end_s)}`,
      })),
    });
  }
  timeline.setLanes(lanes);
  const type = typeBySlug(state.selected);
  const scores = state.scores[state.selected];
  let note = "";
  if (type && !type.active_model) note = `No ${type.name.toLowerCase()} model yet, so no scores to show`;
  else if (isBusy(state.movie)) note = "Scores appear when the analysis is done";
  else if (!scores) note = "No per-second scores for this movie yet";
  timeline.setScores(scores, { cut: state.settings[state.selected]?.cut ?? 0.5, note });
  timeline.setSelection(state.selection);
  timeline.setPlayhead(video.currentTime || 0);
}

function renderAnnotations() {
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

function renderSkipSettings() {
  const box = $("skip-settings");
  box.replaceChildren(...state.sceneTypes.map((t) => {
    const id = `skip-${t.slug}`;
    const select = el("select", { id, dataset: { sceneType: t.slug } },
      el("option", { value: "show" }, "Show"),
      el("option", { value: "ask" }, "Ask to skip"),
      el("option", { value: "skip" }, "Skip"));
    select.value = state.skip[t.slug] || "show";
    select.addEventListener("change", () => saveSkip(t, select));
    return el("div", { class: "row" }, el("label", { for: id }, `${t.name} scenes`), select);
  }));
}

function renderAll() {
  renderTabs();
  renderNoModel();
  renderSensitivity();
  renderList();
  renderTimeline();
  renderAnnotations();
}

// ---------- playback ----------

function seek(t) {
  const d = duration();
  video.currentTime = Math.max(0, d > 0 ? Math.min(t, d - 0.05) : t);
  timeline.setPlayhead(video.currentTime);
}

function playScene(seg) {
  state.allowed = seg;
  seek(seg.start_s);
  video.play().catch(() => {});
}

function jumpScene(direction) {
  const items = displayed(state.selected);
  const t = video.currentTime;
  const target = direction > 0
    ? items.find((s) => s.start_s > t + 0.5)
    : [...items].reverse().find((s) => s.start_s < t - 1.5);
  if (!target) {
    const name = typeBySlug(state.selected)?.name.toLowerCase() || "";
    toast(direction > 0 ? `No later ${name} scene.` : `No earlier ${name} scene.`, "info", { timeoutMs: 2500 });
    return;
  }
  playScene(target);
}

function currentSceneOf(slug, t) {
  return displayed(slug).find((s) => t >= s.start_s && t < s.end_s);
}

function skipScene(seg, { automatic = false } = {}) {
  state.allowed = null;
  seek(seg.end_s);
  const name = typeBySlug(seg.slug)?.name.toLowerCase() || "";
  const flash = $("scene-flash");
  flash.textContent = automatic ? `Skipped a ${name} scene (${formatTime(seg.start_s)}–${formatTime(seg.end_s)})` : `Skipped to ${formatTime(seg.end_s)}`;
  flash.hidden = false;
  clearTimeout(skipScene.timer);
  skipScene.timer = setTimeout(() => { flash.hidden = true; }, 2500);
}

function checkSkip() {
  const t = video.currentTime;
  if (state.allowed && !(t >= state.allowed.start_s && t < state.allowed.end_s)) state.allowed = null;
  let ask = null;
  for (const type of state.sceneTypes) {
    const mode = state.skip[type.slug] || "show";
    if (mode === "show") continue;
    const seg = currentSceneOf(type.slug, t);
    if (!seg || seg.end_s - t < 0.3) continue;
    if (state.allowed && state.allowed.start_s === seg.start_s && state.allowed.slug === seg.slug) continue;
    if (mode === "skip") { skipScene(seg, { automatic: true }); return; }
    ask = ask || seg;
  }
  const button = $("skip-button");
  if (ask) {
    button.hidden = false;
    button.textContent = `Skip ${typeBySlug(ask.slug)?.name.toLowerCase() || ""} scene ›`;
    button.onclick = () => { skipScene(ask); button.hidden = true; };
  } else {
    button.hidden = true;
  }
}

function updateCurrent() {
  const t = video.currentTime || 0;
  const seg = currentSceneOf(state.selected, t);
  const key = seg ? `${seg.start_s}` : "";
  if (key !== state.lastCurrentKey) {
    state.lastCurrentKey = key;
    for (const li of $("scene-list").children) {
      li.classList.toggle("current", Boolean(seg) && Number(li.dataset.segmentStart) === seg.start_s);
    }
  }
  timeline.markCurrent((start, end) => t >= start && t < end);
}

function onTime() {
  const t = video.currentTime || 0;
  $("timecode").textContent = `${formatTime(t)} / ${formatTime(duration())}`;
  timeline.setPlayhead(t);
  updateCurrent();
  checkSkip();
}

let frame = 0;
function tick() {
  onTime();
  frame = video.paused ? 0 : requestAnimationFrame(tick);
}

// ---------- actions ----------

async function reviewSegment(seg, verdict) {
  try {
    await api(`/api/segments/${seg.id}/review/`, { method: "POST", body: { verdict } });
    toast(verdict === "confirm" ? "Confirmed: saved as a positive label." : "Rejected: saved as a negative label.", "ok", { timeoutMs: 3000 });
    await loadAnnotations();
    renderAll();
  } catch (err) {
    showError(err, "The review was not saved:");
  }
}

async function deleteSegment(seg) {
  try {
    await api(`/api/segments/${seg.id}/`, { method: "DELETE" });
    await loadSegments();
    renderAll();
    toast("Scene deleted.", "ok", { timeoutMs: 3000 });
  } catch (err) {
    showError(err, "The scene was not deleted:");
  }
}

function setSelection(span) {
  state.selection = span;
  if (span) {
    $("ann-start").value = span.start === null || span.start === undefined ? "" : String(span.start);
    $("ann-end").value = span.end === null || span.end === undefined ? "" : String(span.end);
  }
  timeline.setSelection(span && span.end > span.start ? span : null);
}

function setAnnotating(on) {
  state.annotating = on;
  $("annotate-toggle").setAttribute("aria-pressed", String(on));
  $("annotate-toggle").classList.toggle("active", on);
  $("annotate-panel").hidden = !on;
  timeline.setAnnotating(on);
  renderTimeline();
}

function markPoint(which) {
  if (!state.annotating) setAnnotating(true);
  const t = Math.round(video.currentTime * 10) / 10;
  const span = { start: state.selection?.start ?? null, end: state.selection?.end ?? null };
  span[which] = t;
  if (span.start !== null && span.end !== null && span.end < span.start) [span.start, span.end] = [span.end, span.start];
  setSelection(span);
  toast(`${which === "start" ? "In" : "Out"} point set at ${formatTime(t)}.`, "info", { timeoutMs: 1500 });
}

function formSpan() {
  const start = Number($("ann-start").value);
  const end = Number($("ann-end").value);
  if ($("ann-start").value === "" || $("ann-end").value === "" || !Number.isFinite(start) || !Number.isFinite(end)) {
    throw new Error("Mark a span first: drag across the timeline, or press I and O at the start and end.");
  }
  if (end <= start) throw new Error("The out point must come after the in point.");
  if (start < 0 || end > duration() + 0.01) throw new Error(`The span must lie within the movie (0:00 to ${formatTime(duration())}).`);
  return { start_s: start, end_s: Math.min(end, duration()) };
}

async function saveAnnotation(event) {
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
    renderAll();
  } catch (err) {
    showError(err, "The label was not saved:");
  }
}

async function addManualScene() {
  let span;
  try { span = formSpan(); } catch (err) { toast(err.message, "error"); return; }
  try {
    await api(`/api/movies/${movieId}/segments/`, { method: "POST", body: { scene_type: $("ann-type").value, ...span } });
    toast("Scene added.", "ok", { timeoutMs: 3000 });
    state.selected = $("ann-type").value;
    clearForm();
    await loadSegments();
    renderAll();
  } catch (err) {
    showError(err, "The scene was not added:");
  }
}

function clearForm() {
  state.editingAnnotation = null;
  $("ann-save").textContent = "Save label";
  $("ann-start").value = "";
  $("ann-end").value = "";
  setSelection(null);
}

function editAnnotation(a) {
  if (!state.annotating) setAnnotating(true);
  state.editingAnnotation = a.id;
  $("ann-type").value = sceneTypeSlug(a.scene_type);
  document.querySelector(`input[name="ann-label"][value="${a.label}"]`).checked = true;
  setSelection({ start: a.start_s, end: a.end_s });
  $("ann-save").textContent = "Update label";
  $("ann-start").focus();
}

async function deleteAnnotation(a) {
  try {
    await api(`/api/annotations/${a.id}/`, { method: "DELETE" });
    if (state.editingAnnotation === a.id) clearForm();
    await loadAnnotations();
    renderAll();
    toast("Label deleted.", "ok", { timeoutMs: 3000 });
  } catch (err) {
    showError(err, "The label was not deleted:");
  }
}

async function saveSkip(type, select) {
  const previous = state.skip[type.slug] || "show";
  state.skip[type.slug] = select.value;
  try {
    const data = await api("/api/me/preferences/", { method: "PUT", body: { skip: { [type.slug]: select.value } } });
    state.skip = data.skip || state.skip;
    const words = { show: "will be shown", ask: "will offer a skip button", skip: "will be skipped" };
    toast(`${type.name} scenes ${words[select.value]}.`, "ok", { timeoutMs: 2500 });
    checkSkip();
  } catch (err) {
    state.skip[type.slug] = previous;
    select.value = previous;
    showError(err, "Your setting was not saved:");
  }
}

async function saveSensitivity() {
  const slug = state.selected;
  const s = state.settings[slug];
  try {
    const updated = await api(`/api/scene-types/${slug}/`, { method: "PATCH", body: { cut: s.cut, min_frames: s.min_frames, threshold: s.threshold } });
    const i = state.sceneTypes.findIndex((t) => t.slug === slug);
    state.sceneTypes[i] = { ...state.sceneTypes[i], ...(updated || {}), ...s };
    toast(`Saved: ${state.sceneTypes[i].name} scenes are now found at sensitivity ${Math.round((1 - s.cut) * 100)} across the library.`, "ok");
    renderAll();
    loadSegments().then(renderAll, () => {});
  } catch (err) {
    showError(err, "The sensitivity was not saved:");
  }
}

function updateSetting(patch) {
  const slug = state.selected;
  state.settings[slug] = { ...state.settings[slug], ...patch };
  renderSensitivity();
  renderTabs();
  renderList();
  renderTimeline();
}

/** The player's frame goes full screen (not the bare video) so the skip button stays visible. */
function toggleFullscreen() {
  if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
  else $("player-wrap").requestFullscreen?.().catch(() => toast("This browser did not allow full screen.", "error"));
}

// ---------- keyboard ----------

function onKey(e) {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const target = e.target;
  const typing = target.closest && target.closest("input, textarea, select, [contenteditable]");
  if (typing) {
    if (e.key === "Enter" && target.closest("#annotation-form")) return; // the form submits itself
    return;
  }
  const onButton = target.tagName === "BUTTON" || target.tagName === "A" || target.tagName === "SUMMARY";
  const onVideo = target === video;
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  const actions = {
    " ": () => { if (onButton || onVideo) return false; video.paused ? video.play().catch(() => {}) : video.pause(); },
    k: () => { video.paused ? video.play().catch(() => {}) : video.pause(); },
    ArrowLeft: () => { if (onVideo) return false; seek(video.currentTime - (e.shiftKey ? 1 : 5)); },
    ArrowRight: () => { if (onVideo) return false; seek(video.currentTime + (e.shiftKey ? 1 : 5)); },
    n: () => jumpScene(1),
    p: () => jumpScene(-1),
    s: () => {
      const seg = state.sceneTypes.map((t) => currentSceneOf(t.slug, video.currentTime)).find(Boolean);
      if (seg) skipScene(seg); else toast("No scene is playing right now.", "info", { timeoutMs: 2000 });
    },
    a: () => setAnnotating(!state.annotating),
    i: () => markPoint("start"),
    o: () => markPoint("end"),
    Enter: () => { if (!state.annotating || onButton) return false; saveAnnotation(); },
    Escape: () => { if (!state.selection) return false; clearForm(); },
    f: () => toggleFullscreen(),
    "?": () => { const d = $("shortcuts-panel"); d.open = true; d.scrollIntoView({ block: "nearest" }); },
  };
  const action = actions[key];
  if (!action) return;
  if (action() === false) return;
  e.preventDefault();
}

// ---------- movie actions ----------

function wireMovieActions() {
  const dialog = $("edit-dialog");
  $("edit-movie").addEventListener("click", () => {
    $("edit-title-input").value = state.movie.title;
    $("edit-year-input").value = state.movie.year || "";
    dialog.showModal();
  });
  $("edit-cancel").addEventListener("click", () => dialog.close());
  $("edit-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const year = $("edit-year-input").value;
    try {
      state.movie = await api(`/api/movies/${movieId}/`, {
        method: "PATCH", body: { title: $("edit-title-input").value.trim(), year: year ? Number(year) : null },
      });
      renderHead();
      dialog.close();
      toast("Details saved.", "ok", { timeoutMs: 2500 });
    } catch (err) {
      showError(err, "The details were not saved:");
    }
  });
  $("reanalyze").addEventListener("click", async () => {
    try {
      await api(`/api/movies/${movieId}/analyze/`, { method: "POST" });
      toast("Analysis queued. Your own scenes and labels are kept.", "ok");
      await loadMovie();
      pollMovie();
    } catch (err) {
      showError(err, "The analysis was not started:");
    }
  });
  $("delete-movie").addEventListener("click", async () => {
    if (!window.confirm(`Delete “${state.movie.title}”? The file, its scenes and its labels are removed for everyone. This cannot be undone.`)) return;
    try {
      await api(`/api/movies/${movieId}/`, { method: "DELETE" });
      location.href = "/";
    } catch (err) {
      showError(err, "The movie was not deleted:");
    }
  });
}

let pollTimer = null;
function pollMovie() {
  clearTimeout(pollTimer);
  if (!isBusy(state.movie)) return;
  pollTimer = setTimeout(async () => {
    try {
      const wasBusy = isBusy(state.movie);
      await loadMovie();
      if (wasBusy && !isBusy(state.movie)) {
        const types = await apiAll("/api/scene-types/");
        setSceneTypes(types);
        await loadSceneData();
        if (state.movie.status === "ready") toast("Analysis finished.", "ok");
      }
    } catch (err) {
      if (err.status === 404) { toast("This movie was deleted.", "error"); return; }
    }
    pollMovie();
  }, 3000);
}

function setSceneTypes(types) {
  state.sceneTypes = types;
  for (const t of types) if (!state.settings[t.slug]) state.settings[t.slug] = savedSettings(t);
  if (!typeBySlug(state.selected)) state.selected = types[0]?.slug || null;
}

// ---------- start ----------

async function init() {
  const params = new URLSearchParams(location.search);
  const startAt = Number(params.get("t"));
  if (params.has("t") && Number.isFinite(startAt) && startAt >= 0) {
    const apply = () => seek(startAt);
    if (video.readyState >= 1) apply(); else video.addEventListener("loadedmetadata", apply, { once: true });
  }
  video.addEventListener("timeupdate", onTime);
  video.addEventListener("seeked", onTime);
  video.addEventListener("play", () => { if (!frame) frame = requestAnimationFrame(tick); });
  video.addEventListener("loadedmetadata", () => { renderTimeline(); onTime(); });
  video.addEventListener("error", () => {
    const code = video.error?.code;
    const why = code === 4 ? "the browser cannot play this file's format (try converting it to MP4 with H.264 video)" : "the video stream could not be loaded";
    toast(`The player stopped: ${why}.`, "error");
  });
  document.addEventListener("keydown", onKey);
  $("timeline").addEventListener("keydown", (e) => {
    if (e.key === "Home") { seek(0); e.preventDefault(); }
    if (e.key === "End") { seek(duration()); e.preventDefault(); }
  });
  $("prev-scene").addEventListener("click", () => jumpScene(-1));
  $("fullscreen").addEventListener("click", toggleFullscreen);
  $("next-scene").addEventListener("click", () => jumpScene(1));
  $("annotate-toggle").addEventListener("click", () => setAnnotating(!state.annotating));
  $("annotation-form").addEventListener("submit", saveAnnotation);
  $("ann-add-scene").addEventListener("click", addManualScene);
  $("ann-cancel").addEventListener("click", clearForm);
  for (const id of ["ann-start", "ann-end"]) {
    $(id).addEventListener("input", () => {
      const s = Number($("ann-start").value), e = Number($("ann-end").value);
      state.selection = { start: s, end: e };
      timeline.setSelection($("ann-start").value && $("ann-end").value && e > s ? state.selection : null);
    });
  }
  $("sensitivity-range").addEventListener("input", (e) => updateSetting({ cut: Math.round((100 - Number(e.target.value))) / 100 }));
  $("min-frames").addEventListener("change", (e) => {
    const v = Math.round(Number(e.target.value));
    if (v >= 1) updateSetting({ min_frames: v }); else toast("The shortest scene must be at least 1 second.", "error");
  });
  $("threshold").addEventListener("change", (e) => {
    const v = Number(e.target.value);
    if (v > 0 && v <= 1) updateSetting({ threshold: v }); else toast("The share must be above 0 and at most 1.", "error");
  });
  $("sensitivity-reset").addEventListener("click", () => updateSetting(savedSettings(typeBySlug(state.selected))));
  $("sensitivity-save").addEventListener("click", saveSensitivity);
  wireMovieActions();
  onTime();

  try {
    const [types] = await Promise.all([apiAll("/api/scene-types/"), loadMovie(), loadPreferences()]);
    setSceneTypes(types);
    const wanted = params.get("scene_type");
    if (wanted && typeBySlug(wanted)) state.selected = wanted;
    renderSkipSettings();
    if (params.get("annotate") === "1") setAnnotating(true);
    await loadSceneData();
    if (params.has("end") && params.has("t")) setSelection({ start: startAt, end: Number(params.get("end")) });
    // A link to a scene means "show me this scene": skip mode leaves that one alone.
    if (params.has("t")) state.allowed = state.sceneTypes.map((t) => currentSceneOf(t.slug, startAt)).find(Boolean) || null;
    pollMovie();
  } catch (err) {
    showError(err, "This movie could not be loaded:");
    $("movie-status").replaceChildren(el("div", { class: "alert error", role: "alert" }, `This movie could not be loaded. ${err.message}`));
  }
}

init();
