// Library page: movie grid with filters, sorting, pages, and live analysis progress.
import {
  api, apiAll, el, showError, formatDuration, progressBlock, isBusy, readQuery, writeQuery, debounce,
  renderPagination, icon, scrollBehavior,
} from "./api.js";

const PAGE_SIZE = 24;
const POLL_MS = 3000;
const FIELDS = ["search", "scene_type", "min_segments", "ordering"];

const form = document.getElementById("filters");
const results = document.getElementById("library-results");
const summary = document.getElementById("summary");
const pagination = document.getElementById("pagination");
const sceneTypeSelect = document.getElementById("f-scene-type");
const minSelect = document.getElementById("f-min");

let state = { ...readQuery([...FIELDS, "page"]) };
state.page = Number(state.page) || 1;
let pollTimer = null;
let inFlight = null;
let sceneTypes = [];

function filtersActive() {
  return Boolean(state.search || state.scene_type || state.min_segments);
}

function fillForm() {
  for (const name of FIELDS) {
    const field = form.elements[name];
    if (field && state[name]) field.value = state[name];
  }
  minSelect.disabled = !sceneTypeSelect.value;
}

function readForm() {
  for (const name of FIELDS) state[name] = form.elements[name].value.trim();
  if (state.ordering === "-created_at") state.ordering = "";
  if (!state.scene_type) state.min_segments = "";
  minSelect.disabled = !state.scene_type;
}

function syncUrl() {
  writeQuery({ ...Object.fromEntries(FIELDS.map((f) => [f, state[f]])), page: state.page > 1 ? state.page : "" });
}

function badgeFor(type, movie) {
  if (!type.has_model && !type.segment_count) {
    return el("span", { class: "badge", title: `No ${type.name.toLowerCase()} model yet, so these scenes are not searched for` }, `${type.name}: no model`);
  }
  if (movie.status !== "ready" && !type.segment_count) return null;
  const count = type.segment_count || 0;
  const text = `${type.name}: ${count} ${count === 1 ? "scene" : "scenes"}`;
  const title = count ? `${formatDuration(type.scene_seconds || 0)} in total` : `No ${type.name.toLowerCase()} scenes found`;
  return el("span", { class: `badge${count ? " hot" : ""}`, title, dataset: { sceneType: type.slug, count: String(count) } }, text);
}

function movieUrl(movie) {
  return movie.page_url || `/movies/${movie.id}/`;
}

function statusLine(movie) {
  if (movie.status === "failed") {
    const what = movie.duration_s === null ? "Download failed" : "Analysis failed";
    return el("div", { class: "status-line failed", role: "note" }, `${what}: ${movie.error || "no reason was given."}`);
  }
  if (isBusy(movie)) return progressBlock(movie);
  return null;
}

function card(movie) {
  const cover = el("a", { class: "cover", href: movieUrl(movie), "aria-label": `Play ${movie.title}`, tabindex: "-1" });
  cover.append(el("div", { class: "cover-placeholder", "aria-hidden": "true" }, icon("film")));
  // No poster stored (yet): a frame from the first part of the film stands in once the file is accepted.
  const poster = movie.poster_url || (movie.duration_s
    ? `/api/movies/${movie.id}/thumbnail/?t=${(movie.duration_s * 0.1).toFixed(1)}` : null);
  if (poster) {
    const img = el("img", { src: poster, alt: "", loading: "lazy", decoding: "async" });
    img.addEventListener("error", () => img.remove());
    cover.append(img);
  }
  if (movie.duration_s) cover.append(el("span", { class: "duration-chip" }, formatDuration(movie.duration_s)));
  const meta = [movie.year, movie.width && movie.height ? `${movie.width}×${movie.height}` : null].filter(Boolean).join(" · ");
  const badges = el("div", { class: "badges" }, (movie.scene_types || []).map((t) => badgeFor(t, movie)));
  return el("article", { class: "card movie-card", dataset: { movieId: String(movie.id), status: movie.status } },
    cover,
    el("div", { class: "body" },
      el("h3", {}, el("a", { href: movieUrl(movie) }, movie.title)),
      meta ? el("div", { class: "meta" }, meta) : null,
      badges,
      statusLine(movie)));
}

function emptyState() {
  if (filtersActive()) {
    const clear = el("button", { type: "button", class: "primary" }, "Clear the filters");
    clear.addEventListener("click", clearFilters);
    return el("div", { class: "empty" },
      icon("search"),
      el("h2", {}, "No movies match"),
      el("p", {}, "Nothing in your library fits these filters. Try fewer scenes, another scene type, or a shorter title search."),
      clear);
  }
  return el("div", { class: "empty" },
    icon("film"),
    el("h2", {}, "Your library is empty"),
    el("p", {}, "Upload a movie file (MP4, MKV, MOV, WebM…). Kissweb watches it second by second in the background and marks every scene it finds, so you can search and jump straight to them."),
    el("a", { class: "button primary", href: "/upload/" }, "Upload your first movie"));
}

async function load({ quiet = false } = {}) {
  if (inFlight) inFlight.abort();
  const controller = new AbortController();
  inFlight = controller;
  if (!quiet) results.setAttribute("aria-busy", "true");
  try {
    const data = await api("/api/movies/", {
      signal: controller.signal,
      params: {
        search: state.search, scene_type: state.scene_type,
        min_segments: state.scene_type ? state.min_segments || 1 : "",
        ordering: state.ordering, page: state.page > 1 ? state.page : "",
      },
    });
    render(data);
  } catch (err) {
    if (err.name === "AbortError") return;
    if (err.status === 404 && state.page > 1) {
      state.page = 1;
      syncUrl();
      return load();
    }
    if (!quiet) {
      results.replaceChildren(el("div", { class: "alert error", role: "alert" }, `The library could not be loaded. ${err.message}`));
    }
    showError(err, "Library:");
  } finally {
    if (inFlight === controller) inFlight = null;
    results.setAttribute("aria-busy", "false");
    schedulePoll();
  }
}

let lastMovies = [];
// Cards of the last render by movie id: a poll that changes nothing for a movie keeps its card (and loaded poster).
const cards = new Map();

function cachedCard(movie) {
  const key = JSON.stringify(movie);
  const hit = cards.get(movie.id);
  if (hit && hit.key === key) return hit.node;
  const node = card(movie);
  cards.set(movie.id, { key, node });
  return node;
}

function render(data) {
  lastMovies = data.results || [];
  const count = data.count ?? lastMovies.length;
  const typeName = sceneTypes.find((t) => t.slug === state.scene_type)?.name;
  let text = `${count} ${count === 1 ? "movie" : "movies"}`;
  if (typeName) text += ` with at least ${state.min_segments || 1} ${typeName.toLowerCase()} ${Number(state.min_segments || 1) === 1 ? "scene" : "scenes"}`;
  if (state.search) text += ` matching “${state.search}”`;
  summary.textContent = count || filtersActive() ? text : "";
  // Filters mean nothing to a library with nothing in it yet.
  form.hidden = !count && !filtersActive();
  if (!lastMovies.length) {
    results.replaceChildren(emptyState());
    cards.clear();
  } else {
    results.replaceChildren(el("div", { class: "movie-grid" }, lastMovies.map(cachedCard)));
  }
  renderPagination(pagination, {
    count, page: state.page, pageSize: PAGE_SIZE,
    onPage: (p) => { state.page = p; syncUrl(); load(); window.scrollTo({ top: 0, behavior: scrollBehavior() }); },
  });
}

function schedulePoll() {
  clearTimeout(pollTimer);
  if (lastMovies.some(isBusy)) pollTimer = setTimeout(() => load({ quiet: true }), POLL_MS);
}

function clearFilters() {
  form.reset();
  state = { search: "", scene_type: "", min_segments: "", ordering: "", page: 1 };
  fillForm();
  syncUrl();
  load();
}

function onChange() {
  readForm();
  state.page = 1;
  syncUrl();
  load();
}

async function init() {
  try {
    sceneTypes = await apiAll("/api/scene-types/");
    for (const t of sceneTypes) sceneTypeSelect.append(el("option", { value: t.slug }, t.name));
  } catch (err) {
    showError(err, "Scene types could not be loaded:");
  }
  fillForm();
  form.addEventListener("submit", (e) => { e.preventDefault(); onChange(); });
  form.addEventListener("change", (e) => { if (e.target.name !== "search") onChange(); });
  form.elements.search.addEventListener("input", debounce(onChange, 300));
  document.getElementById("f-clear").addEventListener("click", clearFilters);
  document.addEventListener("visibilitychange", () => { if (!document.hidden && lastMovies.some(isBusy)) load({ quiet: true }); });
  load();
}

init();
