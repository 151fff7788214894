// The movie page's shared state: what was loaded, what the controls say, and what follows from it.
import { api, apiAll, showError, sceneTypeSlug } from "./api.js";
import { aggregateProbabilities } from "./aggregate.js";
import { TYPE_COLOURS } from "./timeline.js";

/** Views the page modules call on each other (filled in by movie.js): renderAll, renderTimeline, renderHead, timeline. */
export const ui = {};

export const root = document.getElementById("movie-root");

export const movieId = Number(root.dataset.movieId);

export const video = document.getElementById("player");

export const $ = (id) => document.getElementById(id);

// Whether this person may save a scene type's settings (the server's permission policy, via the page).
export const canTune = document.body.dataset.canTune === "1";

export const state = {
  movie: null,
  sceneTypes: [],
  selected: null,
  segments: {}, // slug -> server segments
  scores: {}, // slug -> number[] | null
  staleScores: {}, // slug -> true while the scores come from an earlier model (a re-score is pending)
  settings: {}, // slug -> {cut, min_frames, threshold} as the controls show them
  presets: [], // named scene settings from /api/scene-defaults/ (detector/aggregate.py's PRESETS)
  annotations: [],
  skip: {}, // slug -> "show" | "ask" | "skip"
  selection: null,
  annotating: false,
  editingAnnotation: null,
  allowed: null, // a scene the person jumped into on purpose: skip mode leaves it alone
  lastCurrentKey: "",
};

export function duration() {
  return Number.isFinite(video.duration) && video.duration > 0 ? video.duration : Number(root.dataset.duration) || 0;
}

export function typeBySlug(slug) {
  return state.sceneTypes.find((t) => t.slug === slug);
}

export function colourFor(slug) {
  const i = state.sceneTypes.findIndex((t) => t.slug === slug);
  return TYPE_COLOURS[(i < 0 ? 0 : i) % TYPE_COLOURS.length];
}

/** The settings saved on a scene type (the API always sends them; their defaults live in detector/aggregate.py). */
export function savedSettings(type) {
  return { cut: type.cut, min_frames: type.min_frames, threshold: type.threshold };
}

export function isDirty(slug) {
  const type = typeBySlug(slug);
  if (!type) return false;
  const a = state.settings[slug];
  const b = savedSettings(type);
  return Math.abs(a.cut - b.cut) > 1e-9 || a.min_frames !== b.min_frames || Math.abs(a.threshold - b.threshold) > 1e-9;
}

export function normalizeSegment(raw, slug) {
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
// displayed() runs on every frame while the film plays; its inputs are replaced, never mutated, so a cache keyed by
// their identity stays right.
const shownCache = new Map();

export function displayed(slug) {
  const inputs = [state.segments[slug], state.scores[slug], state.settings[slug], duration()];
  const hit = shownCache.get(slug);
  if (hit && hit.inputs.every((value, i) => value === inputs[i])) return hit.value;
  const value = deriveDisplayed(slug);
  shownCache.set(slug, { inputs, value });
  return value;
}

function deriveDisplayed(slug) {
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

export function reviewOf(seg) {
  if (!seg.id) return null;
  return state.annotations.find((a) => a.segment === seg.id)
    || state.annotations.find((a) => sceneTypeSlug(a.scene_type) === seg.slug
      && Math.abs(a.start_s - seg.start_s) < 0.05 && Math.abs(a.end_s - seg.end_s) < 0.05 && a.segment !== undefined && a.segment !== null);
}

export function currentSceneOf(slug, t) {
  return displayed(slug).find((s) => t >= s.start_s && t < s.end_s);
}

export async function loadMovie() {
  state.movie = await api(`/api/movies/${movieId}/`);
  ui.renderHead?.();
}

export async function loadSegments() {
  const all = await Promise.all(state.sceneTypes.map(async (t) => {
    const items = await apiAll(`/api/movies/${movieId}/segments/`, { params: { scene_type: t.slug } });
    return [t.slug, items.map((raw) => normalizeSegment(raw, t.slug)).filter((s) => s.slug === t.slug)];
  }));
  state.segments = Object.fromEntries(all);
}

export async function loadScores() {
  const all = await Promise.all(state.sceneTypes.map(async (t) => {
    // Scores exist once an analysis finished with a model; asking earlier only earns a 404.
    if (!t.active_model || state.movie?.status !== "ready") return [t.slug, null];
    try {
      const data = await api(`/api/movies/${movieId}/scores/`, { params: { scene_type: t.slug } });
      state.staleScores[t.slug] = data?.model_is_active === false;
      return [t.slug, data && Array.isArray(data.scores) && data.scores.length ? data.scores.map(Number) : null];
    } catch (err) {
      if (err.status === 404 || err.status === 409) return [t.slug, null];
      throw err;
    }
  }));
  state.scores = Object.fromEntries(all);
}

export async function loadAnnotations() {
  state.annotations = (await apiAll(`/api/movies/${movieId}/annotations/`)).map((a) => ({
    ...a, start_s: Number(a.start_s), end_s: Number(a.end_s),
  }));
}

export async function loadPreferences() {
  try {
    const data = await api("/api/me/preferences/");
    state.skip = data.skip || {};
  } catch (err) {
    showError(err, "Your player settings could not be loaded:");
  }
}
