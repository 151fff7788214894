// Scene search: every scene of a type across the library; a click opens the player at the scene.
import {
  api, apiAll, el, showError, formatTime, formatDuration, readQuery, writeQuery, debounce, renderPagination,
  sceneTypeSlug, icon, scrollBehavior,
} from "./api.js";
import { startExport } from "./exports.js";

const PAGE_SIZE = 24;
const FIELDS = ["search", "scene_type", "min_duration", "ordering"];
const form = document.getElementById("filters");
const results = document.getElementById("scene-results");
const summary = document.getElementById("summary");
const pagination = document.getElementById("pagination");
const typeSelect = document.getElementById("f-scene-type");

let state = { ...readQuery([...FIELDS, "page"]) };
state.page = Number(state.page) || 1;
let sceneTypes = [];
let inFlight = null;

function typeName(slug) {
  return sceneTypes.find((t) => t.slug === slug)?.name || slug;
}

function playUrl(scene) {
  return scene.play_url || `/movies/${scene.movie}/?t=${scene.start_s}`;
}

function card(scene) {
  const slug = sceneTypeSlug(scene.scene_type);
  const cover = el("div", { class: "cover" }, el("div", { class: "cover-placeholder", "aria-hidden": "true" }, icon("film")));
  const thumb = scene.thumbnail_url || `/api/movies/${scene.movie}/thumbnail/?t=${(scene.start_s + Math.min(2, (scene.end_s - scene.start_s) / 2)).toFixed(1)}`;
  const img = el("img", { src: thumb, alt: "", loading: "lazy", decoding: "async" });
  img.addEventListener("error", () => img.remove());
  cover.append(img, el("span", { class: "duration-chip" }, formatDuration(scene.duration_s ?? scene.end_s - scene.start_s)));
  const facts = el("div", { class: "facts" },
    el("span", {}, `${formatTime(scene.start_s)} – ${formatTime(scene.end_s)}`),
    el("span", { class: "badge" }, typeName(slug)));
  if (scene.source === "manual") facts.append(el("span", { class: "badge manual" }, "added by a person"));
  else if (scene.confidence !== null && scene.confidence !== undefined) {
    const pct = Math.round(scene.confidence * 100);
    facts.append(el("span", {}, el("span", { class: "confidence-bar", "aria-hidden": "true" }, el("span", { style: `width:${pct}%` })), ` ${pct}% sure`));
  }
  return el("a", {
    class: "card scene-card", href: playUrl(scene),
    "aria-label": `${scene.movie_title}, ${typeName(slug)} scene at ${formatTime(scene.start_s)}`,
    dataset: { segmentStart: String(scene.start_s), segmentEnd: String(scene.end_s), movieId: String(scene.movie) },
  }, cover, el("div", { class: "body" }, el("span", { class: "title" }, scene.movie_title), facts));
}

function emptyState() {
  const filtered = state.search || state.min_duration;
  const clear = el("button", { type: "button", class: "primary" }, "Clear the filters");
  clear.addEventListener("click", clearFilters);
  const withoutModel = state.scene_type && !sceneTypes.find((t) => t.slug === state.scene_type)?.active_model;
  return el("div", { class: "empty" },
    icon("search"),
    el("h2", {}, "No scenes found"),
    el("p", {}, withoutModel
      ? `There is no ${typeName(state.scene_type).toLowerCase()} model yet, so only scenes people added by hand can appear. Label a few spans in a movie’s annotation mode and train a model on the Scene types page.`
      : filtered
        ? "No scene fits these filters. Try a shorter minimum length or another title."
        : "No scenes have been found yet. Upload movies, wait for their analysis, and their scenes show up here."),
    filtered ? clear : el("a", { class: "button primary", href: "/upload/" }, "Upload movies"));
}

async function load() {
  if (inFlight) inFlight.abort();
  const controller = new AbortController();
  inFlight = controller;
  results.setAttribute("aria-busy", "true");
  try {
    const data = await api("/api/segments/", {
      signal: controller.signal,
      params: {
        scene_type: state.scene_type, search: state.search, min_duration: state.min_duration,
        ordering: state.ordering, page: state.page > 1 ? state.page : "",
      },
    });
    const items = Array.isArray(data) ? data : data.results || [];
    const count = Array.isArray(data) ? data.length : data.count ?? items.length;
    summary.textContent = count ? `${count} ${count === 1 ? "scene" : "scenes"}` : "";
    document.getElementById("search-export").hidden = !count;
    results.replaceChildren(items.length ? el("div", { class: "scene-grid" }, items.map(card)) : emptyState());
    renderPagination(pagination, {
      count, page: state.page, pageSize: PAGE_SIZE,
      onPage: (p) => { state.page = p; syncUrl(); load(); window.scrollTo({ top: 0, behavior: scrollBehavior() }); },
    });
  } catch (err) {
    if (err.name === "AbortError") return;
    results.replaceChildren(el("div", { class: "alert error", role: "alert" }, `The scenes could not be loaded. ${err.message}`));
    showError(err, "Scenes:");
  } finally {
    if (inFlight === controller) inFlight = null;
    results.setAttribute("aria-busy", "false");
  }
}

function syncUrl() {
  writeQuery({ ...Object.fromEntries(FIELDS.map((f) => [f, state[f]])), page: state.page > 1 ? state.page : "" });
}

function onChange() {
  for (const name of FIELDS) state[name] = form.elements[name].value.trim();
  state.page = 1;
  syncUrl();
  load();
}

function clearFilters() {
  form.reset();
  for (const name of FIELDS) state[name] = "";
  if (sceneTypes.length === 1) state.scene_type = typeSelect.value = sceneTypes[0].slug;
  state.page = 1;
  syncUrl();
  load();
}

async function init() {
  try {
    sceneTypes = await apiAll("/api/scene-types/");
    for (const t of sceneTypes) typeSelect.append(el("option", { value: t.slug }, t.name));
  } catch (err) {
    showError(err, "Scene types could not be loaded:");
  }
  for (const name of FIELDS) if (state[name]) form.elements[name].value = state[name];
  form.addEventListener("submit", (e) => { e.preventDefault(); onChange(); });
  form.addEventListener("change", (e) => { if (e.target.name !== "search") onChange(); });
  form.elements.search.addEventListener("input", debounce(onChange, 300));
  document.getElementById("f-clear").addEventListener("click", clearFilters);
  document.getElementById("search-supercut").addEventListener("click", () => {
    const body = { kind: "supercut", title_cards: document.getElementById("search-title-cards").checked };
    for (const name of ["scene_type", "search", "min_duration", "ordering"]) if (state[name]) body[name] = state[name];
    const what = state.scene_type ? `${typeName(state.scene_type).toLowerCase()} scenes` : "scenes";
    startExport(document.getElementById("search-export-list"), "/api/exports/", body, `Supercut of the ${what}${state.search ? ` in “${state.search}”` : ""}`);
  });
  load();
}

init();
