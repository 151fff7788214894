// The one way pages talk to the server: fetch with the session cookie and CSRF token, errors turned into sentences.

export class ApiError extends Error {
  constructor(message, { status = 0, data = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.data = data;
  }
}

export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

const STATUS_WORDS = {
  400: "The server could not accept that request.",
  401: "You are signed out. Sign in again to continue.",
  403: "Your account is not allowed to do that.",
  404: "That was not found; it may have been deleted.",
  409: "That conflicts with something that already exists or is still running.",
  413: "That file is larger than this server accepts.",
  415: "That file type is not supported.",
  422: "The server could not use what was sent.",
  429: "Too many requests at once; wait a moment and try again.",
  500: "The server hit an error. Try again; if it keeps happening, the details are in the server log.",
  502: "The server is not answering (bad gateway). Is Kissweb still running?",
  503: "The server is busy or starting up; try again in a moment.",
};

export function messageFor(status, data) {
  if (data && typeof data === "object") {
    if (typeof data.detail === "string" && data.detail) return data.detail;
    for (const [key, value] of Object.entries(data)) {
      const text = Array.isArray(value) ? value.join(" ") : typeof value === "string" ? value : "";
      if (text) return key === "non_field_errors" ? text : `${key}: ${text}`;
    }
  }
  return STATUS_WORDS[status] || `The server answered with an error (HTTP ${status}).`;
}

/** Call the API. Returns the parsed JSON (or null for 204). Throws ApiError with a sentence a person can act on. */
export async function api(path, { method = "GET", body, params, signal, headers = {} } = {}) {
  let url = path;
  if (params) {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value !== undefined && value !== null && value !== "") query.set(key, value);
    }
    const qs = query.toString();
    if (qs) url += (url.includes("?") ? "&" : "?") + qs;
  }
  const init = { method, signal, credentials: "same-origin", headers: { Accept: "application/json", ...headers } };
  if (method !== "GET" && method !== "HEAD") init.headers["X-CSRFToken"] = csrfToken();
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError("Cannot reach the Kissweb server. Check that it is running and your network is up.", { status: 0 });
  }
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  let data = null;
  if (type.includes("json")) {
    try { data = await response.json(); } catch { data = null; }
  }
  if (!response.ok) {
    if (response.status === 401 || (response.status === 403 && data && /credentials/i.test(data.detail || ""))) {
      throw new ApiError("You are signed out. Reload the page to sign in again.", { status: response.status, data });
    }
    throw new ApiError(messageFor(response.status, data), { status: response.status, data });
  }
  return data;
}

/** All items of a list endpoint, whether it answers with a plain array or DRF pages ({count, next, results}). */
export async function apiAll(path, options = {}) {
  const first = await api(path, options);
  if (Array.isArray(first)) return first;
  if (!first || !Array.isArray(first.results)) return [];
  const items = [...first.results];
  let next = first.next;
  let guard = 0;
  while (next && guard++ < 200) {
    const url = new URL(next, location.origin);
    const page = await api(url.pathname + url.search, { signal: options.signal });
    items.push(...page.results);
    next = page.next;
  }
  return items;
}

// ---- small shared helpers ----

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "text") node.textContent = value;
    // Through the CSSOM: the Content-Security-Policy refuses style attributes, not styles set from a script.
    else if (key === "style") node.style.cssText = value;
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function toast(message, kind = "info", { timeoutMs = 6000 } = {}) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const close = el("button", { type: "button", class: "ghost small", "aria-label": "Dismiss" }, "✕");
  const item = el("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, el("p", {}, message), close);
  close.addEventListener("click", () => item.remove());
  box.append(item);
  while (box.children.length > 3) box.firstElementChild.remove();
  if (timeoutMs) setTimeout(() => item.remove(), kind === "error" ? timeoutMs * 2 : timeoutMs);
}

export function showError(err, prefix = "") {
  if (err && err.name === "AbortError") return;
  const text = err instanceof ApiError ? err.message : (err && err.message) || String(err);
  toast(prefix ? `${prefix} ${text}` : text, "error");
}

/** 75.4 -> "1:15", 3725 -> "1:02:05". */
export function formatTime(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) seconds = 0;
  const total = Math.floor(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = h ? String(m).padStart(2, "0") : String(m);
  return `${h ? h + ":" : ""}${mm}:${String(s).padStart(2, "0")}`;
}

/** A length in words: 42 -> "42 s", 135 -> "2 min 15 s", 7260 -> "2 h 1 min". */
export function formatDuration(seconds) {
  if (!Number.isFinite(seconds) || seconds <= 0) return "0 s";
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h) return m ? `${h} h ${m} min` : `${h} h`;
  if (m) return s ? `${m} min ${s} s` : `${m} min`;
  return `${s} s`;
}

export function formatEta(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "estimating time left…";
  if (seconds < 5) return "almost done";
  return `about ${formatDuration(seconds)} left`;
}

export function formatBytes(bytes) {
  if (!Number.isFinite(bytes)) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i++; }
  return `${bytes.toFixed(i && bytes < 10 ? 1 : 0)} ${units[i]}`;
}

export const STATUS_WORDS_MOVIE = {
  downloading: "Downloading",
  uploaded: "Uploaded, waiting to be queued",
  queued: "Waiting for the analyser",
  analyzing: "Analysing",
  ready: "Ready",
  failed: "Analysis failed",
};

export function isBusy(movie) {
  return movie && ["downloading", "queued", "analyzing", "uploaded"].includes(movie.status);
}

/**
 * The one progress widget of any background run (analysis, re-score, training, re-derivation, export, ...), from
 * the run shape every API gives (`run`, or GET /api/runs/{id}/). A run whose worker went silent says so instead of
 * showing a percentage and a time left that no longer move.
 */
export function runProgress(run, { what = "Working", done = "Done", failed = null } = {}) {
  const pct = Math.round((run.progress || 0) * 100);
  const waiting = Boolean(run.waiting_for_worker);
  const moving = run.status === "running" && !waiting;
  const bar = el("div", {
    class: `progress${!moving || !run.progress ? " indeterminate" : ""}`,
    role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(pct),
    "aria-label": `${what} progress`,
  }, el("span", { style: `width:${run.status === "succeeded" ? 100 : pct}%` }));
  let label;
  if (waiting) {
    label = run.status === "running"
      ? `Waiting for a worker: the one on it stopped answering at ${pct}%`
      : "Waiting for a worker";
  } else if (run.status === "queued") {
    label = run.attempts ? `Queued again (attempt ${run.attempts + 1} of ${run.max_attempts})` : "Queued";
  } else if (run.status === "running") {
    label = `${what}… ${pct}%`;
  } else if (run.status === "succeeded") {
    label = done;
  } else if (run.status === "failed") {
    label = failed || `${what} failed: ${run.error}`;
  } else {
    label = run.status;
  }
  const detail = moving ? [run.stage, formatEta(run.eta_s)].filter(Boolean).join(" · ") : "";
  return el("div", {
    class: "progress-block",
    dataset: { status: run.status, run: run.id, kind: run.kind, waiting: waiting ? "1" : "0" },
  },
  ["failed", "succeeded", "cancelled"].includes(run.status) ? null : bar, // a finished run has no bar to fill
  el("div", { class: "progress-text" }, el("span", { class: "pct" }, label), el("span", {}, detail)));
}

/** A progress bar with percent and ETA for a movie that is still being analysed. */
export function progressBlock(movie) {
  if (movie.run) return runProgress(movie.run, { what: "Analysing" });
  const pct = Math.round((movie.progress || 0) * 100);
  const bar = el("div", {
    class: `progress${!["analyzing", "downloading"].includes(movie.status) || !movie.progress ? " indeterminate" : ""}`,
    role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(pct),
    "aria-label": "Analysis progress",
  }, el("span", { style: `width:${pct}%` }));
  const working = movie.status === "analyzing" || movie.status === "downloading";
  const label = movie.status === "analyzing" ? `Analysing… ${pct}%`
    : movie.status === "downloading" ? `Downloading ${pct} %` : STATUS_WORDS_MOVIE[movie.status] || movie.status;
  const eta = working ? formatEta(movie.eta_s) : "";
  return el("div", { class: "progress-block", dataset: { status: movie.status } },
    bar, el("div", { class: "progress-text" }, el("span", { class: "pct" }, label), el("span", {}, eta)));
}

export function sceneTypeSlug(value) {
  if (value && typeof value === "object") return value.slug;
  return value;
}

/** Keep a filter form and the page's query string in step. */
export function readQuery(names) {
  const query = new URLSearchParams(location.search);
  const out = {};
  for (const name of names) out[name] = query.get(name) || "";
  return out;
}

export function writeQuery(values) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(values)) if (value) query.set(key, value);
  const qs = query.toString();
  history.replaceState(null, "", qs ? `?${qs}` : location.pathname);
}

/** "smooth", or "auto" (instant) for people whose system asks for less motion. */
export function scrollBehavior() {
  return window.matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth";
}

export function debounce(fn, ms) {
  let timer;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

export function renderPagination(nav, { count, page, pageSize, onPage }) {
  nav.replaceChildren();
  const pages = Math.max(1, Math.ceil(count / pageSize));
  if (pages <= 1) return;
  const add = (label, target, { current = false, disabled = false, aria } = {}) => {
    const button = el("button", { type: "button", class: "small", "aria-label": aria, disabled }, label);
    if (current) button.setAttribute("aria-current", "page");
    button.addEventListener("click", () => onPage(target));
    nav.append(button);
  };
  add("‹ Previous", page - 1, { disabled: page <= 1, aria: "Previous page" });
  const shown = new Set([1, pages, page - 1, page, page + 1].filter((p) => p >= 1 && p <= pages));
  let last = 0;
  for (const p of [...shown].sort((a, b) => a - b)) {
    if (p - last > 1) nav.append(el("span", { class: "muted" }, "…"));
    add(String(p), p, { current: p === page, aria: `Page ${p}` });
    last = p;
  }
  add("Next ›", page + 1, { disabled: page >= pages, aria: "Next page" });
}

const ICONS = {
  film: '<rect x="3" y="4" width="18" height="16" rx="2"/><path d="M7 4v16M17 4v16M3 8h4M3 12h4M3 16h4M17 8h4M17 12h4M17 16h4"/>',
  search: '<circle cx="11" cy="11" r="7"/><path d="m20 20-4-4"/>',
  link: '<path d="M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1"/><path d="M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1"/>',
  upload: '<path d="M12 16V4M7 9l5-5 5 5"/><path d="M4 16v3a1 1 0 0 0 1 1h14a1 1 0 0 0 1-1v-3"/>',
  play: '<path d="M8 5v14l11-7z" fill="currentColor"/>',
};

/** A small inline SVG icon (no icon font, no emoji: they are missing on some systems). */
export function icon(name) {
  const wrap = document.createElement("span");
  wrap.className = "icon";
  wrap.setAttribute("aria-hidden", "true");
  wrap.innerHTML = `<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round">${ICONS[name] || ""}</svg>`;
  return wrap;
}
