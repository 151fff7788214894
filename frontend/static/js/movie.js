// Movie page: player, timeline, scene list, sensitivity; see movie_state.js, movie_playback.js, movie_annotate.js.
import { api, apiAll, el, toast, showError, formatTime, formatDuration, progressBlock, isBusy, icon, sceneTypeSlug } from "./api.js";
import { Timeline } from "./timeline.js";
import { passingRuns } from "./aggregate.js";
import {
  $, video, movieId, canTune, state, ui, duration, typeBySlug, colourFor, savedSettings, isDirty, displayed,
  reviewOf, currentSceneOf, loadMovie, loadSegments, loadScores, loadAnnotations, loadPreferences,
} from "./movie_state.js";
import { startExport, showExports } from "./exports.js";
import { watchPlayback } from "./playback.js";
import { seek, playScene, jumpScene, skipScene, checkSkip, renderSkipSettings, toggleFullscreen } from "./movie_playback.js";
import {
  renderAnnotations, reviewSegment, deleteSegment, setSelection, setAnnotating, markPoint, saveAnnotation, clearForm,
  wireAnnotation,
} from "./movie_annotate.js";

const timeline = new Timeline($("timeline"), {
  duration,
  onSeek: (t) => seek(t),
  onSelect: (span) => setSelection(span),
});

async function loadSceneData() {
  const results = await Promise.allSettled([loadSegments(), loadScores(), loadAnnotations()]);
  for (const r of results) if (r.status === "rejected") showError(r.reason, "Part of this movie's data could not be loaded:");
  renderAll();
}

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
      el("p", {}, m.status === "downloading"
        ? "Kissweb is downloading this movie. It can be played once the download is done; then it is analysed."
        : "Kissweb is still analysing this movie. You can watch it already; scenes appear here when the analysis is done."),
      progressBlock(m)));
  } else if (m.status === "failed") {
    box.replaceChildren(el("div", { class: "alert error", role: "alert" },
      el("strong", {}, m.duration_s === null ? "The download failed. " : "The analysis failed. "), m.error || "No reason was given.",
      m.can_edit ? " Use “Analyse again” to retry." : ""));
  } else {
    // a ready movie whose re-scoring failed keeps the scenes of before; the reason shows as a warning
    box.replaceChildren(...[
      m.status === "ready" && m.error ? el("div", { class: "alert warn", role: "status", dataset: { testid: "rescore-warning" } },
        el("strong", {}, "Re-scoring failed. "), m.error, " The scenes shown are those of the analysis before it.") : null,
      m.audio_warning ? el("div", { class: "alert warn", role: "status", dataset: { testid: "audio-warning" } },
        el("strong", {}, "Analysed without sound. "), m.audio_warning,
        " The scenes were found from the picture alone there, so they may be less accurate.") : null,
    ].filter(Boolean));
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
      ". An administrator can also import a ready-made model there.",
      manualCount(type.slug) ? ` The ${manualCount(type.slug)} scene(s) added by hand are listed below.` : ""));
}

function manualCount(slug) {
  return (state.segments[slug] || []).filter((s) => s.source === "manual").length;
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
  const preset = state.presets.find((p) => sameSettings(p, s));
  $("scene-preset").value = preset ? preset.name : "custom";
  const dirty = isDirty(slug);
  $("sensitivity-reset").hidden = !dirty;
  $("sensitivity-save").hidden = !(dirty && canTune);
  $("sensitivity-note").textContent = state.staleScores[slug]
    ? "These scores come from an earlier model; the library is being re-scored with the active one."
    : dirty
    ? (canTune ? "Preview: not saved yet." : "Preview only: an administrator can save it for everyone.")
    : "Same setting as the library.";
}

function sameSettings(a, b) {
  return Math.abs(a.cut - b.cut) < 1e-9 && a.min_frames === b.min_frames && Math.abs(a.threshold - b.threshold) < 1e-9;
}

function renderPresets() {
  const select = $("scene-preset");
  select.replaceChildren(
    ...state.presets.map((p) => el("option", { value: p.name, title: p.description }, p.label)),
    el("option", { value: "custom", disabled: true }, "Custom"),
  );
}

/** Opens "Fine-tune" and puts the cursor in one of its fields: the control that can bring the missing scenes. */
function fineTuneButton(field, label) {
  return el("button", {
    type: "button", class: "small ghost", id: `advice-${field}`,
    onclick: () => { $("fine-tune").open = true; $(field).focus(); },
  }, label);
}

/** Why no scene shows, from the scores and the settings, and the control that would change it. */
function noScenesAdvice(type, slug) {
  const s = state.settings[slug];
  const scores = state.scores[slug];
  const found = `No ${type.name.toLowerCase()} scenes found${isDirty(slug) ? " with these settings" : ""}`;
  if (!scores || !scores.length) return [`${found}. Mark one yourself in annotation mode.`];
  const { passing, longest } = passingRuns(scores, s.cut);
  if (!passing) {
    return [`${found}: no second reaches this sensitivity. Raise the sensitivity to see less certain ones, or mark one yourself in annotation mode.`];
  }
  if (longest < s.min_frames) {
    return [
      `${found}: ${passing} s reach this sensitivity, but the longest stretch lasts ${longest} s and the shortest scene is ${s.min_frames} s. `,
      fineTuneButton("min-frames", "Lower the shortest scene"), " to see them.",
    ];
  }
  return [
    `${found}: ${passing} s reach this sensitivity, but too few of them close together. `,
    fineTuneButton("threshold", "Lower the share of sure seconds"), " or the shortest scene to see them.",
  ];
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
    summary.replaceChildren(...(type.active_model ? noScenesAdvice(type, slug) : []));
  } else {
    summary.textContent = `${items.length} ${items.length === 1 ? "scene" : "scenes"}, ${formatDuration(total)} in total. Click one to play it.`;
  }
  list.replaceChildren(...items.map((seg, i) => sceneItem(seg, i)));
  $("export-buttons").hidden = !items.some((seg) => seg.id && seg.source !== "preview");
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
  if (seg.id && seg.source !== "preview") {
    const clip = el("button", { type: "button", class: "small ghost", "data-action": "download-clip", title: "Export this scene as an MP4 clip (1 s before and after)" }, "Download clip");
    clip.addEventListener("click", () => startExport($("export-list"), `/api/segments/${seg.id}/export/`, { kind: "clip", padding_s: 1 },
      `Clip ${formatTime(seg.start_s)} – ${formatTime(seg.end_s)}`));
    actions.append(clip);
  }
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
  timeline.setScores(scores, { cut: state.settings[state.selected]?.cut ?? null, note });
  timeline.setSelection(state.selection);
  timeline.setRuler(window.innerWidth < 600 ? 4 : 8);
  timeline.setPlayhead(video.currentTime || 0);
}

function renderAll() {
  renderTabs();
  renderNoModel();
  renderSensitivity();
  renderList();
  renderTimeline();
  renderAnnotations();
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

function exportMovie(kind) {
  const type = typeBySlug(state.selected);
  const body = { kind, scene_type: state.selected, title_cards: kind === "supercut" && $("export-title-cards").checked };
  const what = kind === "supercut" ? "Supercut" : "Contact sheet";
  startExport($("export-list"), `/api/movies/${movieId}/exports/`, body, `${what} of the ${type?.name.toLowerCase() || ""} scenes`);
}

function wireMovieActions() {
  $("export-supercut").addEventListener("click", () => exportMovie("supercut"));
  $("export-contact-sheet").addEventListener("click", () => exportMovie("contact_sheet"));
  showExports($("export-list"), (exp) => exp.movie === movieId);
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
  watchPlayback(video, movieId);  // a film browsers cannot play: its playable copy, once made
  document.addEventListener("keydown", onKey);
  $("timeline").addEventListener("keydown", (e) => {
    if (e.key === "Home") { seek(0); e.preventDefault(); }
    if (e.key === "End") { seek(duration()); e.preventDefault(); }
  });
  $("prev-scene").addEventListener("click", () => jumpScene(-1));
  $("fullscreen").addEventListener("click", toggleFullscreen);
  $("next-scene").addEventListener("click", () => jumpScene(1));
  wireAnnotation();
  $("sensitivity-range").addEventListener("input", (e) => updateSetting({ cut: Math.round((100 - Number(e.target.value))) / 100 }));
  $("min-frames").addEventListener("change", (e) => {
    const v = Math.round(Number(e.target.value));
    if (v >= 1) updateSetting({ min_frames: v }); else toast("The shortest scene must be at least 1 second.", "error");
  });
  $("threshold").addEventListener("change", (e) => {
    const v = Number(e.target.value);
    if (v > 0 && v <= 1) updateSetting({ threshold: v }); else toast("The share must be above 0 and at most 1.", "error");
  });
  $("scene-preset").addEventListener("change", (e) => {
    const preset = state.presets.find((p) => p.name === e.target.value);
    if (preset) updateSetting({ cut: preset.cut, min_frames: preset.min_frames, threshold: preset.threshold });
  });
  $("sensitivity-reset").addEventListener("click", () => updateSetting(savedSettings(typeBySlug(state.selected))));
  $("sensitivity-save").addEventListener("click", saveSensitivity);
  wireMovieActions();
  onTime();

  try {
    const [types, defaults] = await Promise.all([
      apiAll("/api/scene-types/"), api("/api/scene-defaults/"), loadMovie(), loadPreferences(),
    ]);
    state.presets = defaults.presets;
    renderPresets();
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

Object.assign(ui, { timeline, renderAll, renderTimeline, renderHead });
init();
