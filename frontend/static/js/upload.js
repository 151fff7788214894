// Upload page: several files, drag-and-drop, a progress bar per file while bytes go up, then analysis progress.
import { api, csrfToken, el, formatBytes, formatEta, messageFor, isBusy, STATUS_WORDS_MOVIE, toast } from "./api.js";

const dropzone = document.getElementById("dropzone");
const input = document.getElementById("file-input");
const list = document.getElementById("upload-list");
const PARALLEL = 2;
const POLL_MS = 2500;
const queue = [];
let running = 0;

function titleFromName(name) {
  const base = name.replace(/\.[^.]+$/, "").replace(/[._]+/g, " ").replace(/\s+/g, " ").trim();
  return base || name;
}

function looksLikeVideo(file) {
  if (file.type.startsWith("video/")) return true;
  return /\.(mp4|m4v|mkv|mov|avi|webm|mpg|mpeg|ts|wmv|flv|ogv|3gp)$/i.test(file.name);
}

function makeRow(file) {
  const bar = el("span", { style: "width:0%" });
  const progress = el("div", { class: "progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": "0", "aria-label": `Upload of ${file.name}` }, bar);
  const state = el("span", { class: "state" }, "Waiting…");
  const pct = el("span", {}, "");
  const extra = el("span", {}, "");
  const message = el("div", { class: "message" });
  const cancel = el("button", { type: "button", class: "ghost small" }, "Cancel");
  const row = el("li", { class: "card upload-item", dataset: { file: file.name } },
    el("div", { class: "top" }, el("span", { class: "name" }, file.name), el("span", { class: "muted small" }, formatBytes(file.size)), state, cancel),
    progress,
    el("div", { class: "progress-text" }, pct, extra),
    message);
  list.prepend(row);
  return { row, bar, progress, state, pct, extra, message, cancel };
}

function setProgress(ui, fraction, { indeterminate = false } = {}) {
  const value = Math.max(0, Math.min(100, Math.round(fraction * 100)));
  ui.bar.style.width = `${value}%`;
  ui.progress.setAttribute("aria-valuenow", String(value));
  ui.progress.classList.toggle("indeterminate", indeterminate);
}

function fail(ui, text) {
  ui.row.classList.add("error");
  ui.row.classList.remove("done");
  ui.state.textContent = "Not accepted";
  ui.message.textContent = text;
  ui.pct.textContent = "";
  ui.extra.textContent = "";
  ui.cancel.hidden = true;
  setProgress(ui, 0);
}

function uploadMessage(status, data, file) {
  if (status === 0) return "The upload stopped: the server could not be reached. Check that Kissweb is running and try again.";
  const detail = data && typeof data.detail === "string" ? data.detail : "";
  if (detail) return detail.includes(file.name) ? detail : `“${file.name}”: ${detail}`;
  if (status === 413) return `“${file.name}” (${formatBytes(file.size)}) is larger than this server accepts.`;
  if (status === 415) return `“${file.name}” is not a video Kissweb can read. Upload a movie file such as MP4, MKV or MOV.`;
  return `“${file.name}”: ${messageFor(status, data)}`;
}

function upload(file) {
  const ui = makeRow(file);
  if (!looksLikeVideo(file)) {
    fail(ui, `“${file.name}” does not look like a video file (${file.type || "unknown type"}). Choose a movie file such as MP4, MKV or MOV.`);
    return;
  }
  queue.push({ file, ui });
  pump();
}

function pump() {
  while (running < PARALLEL && queue.length) {
    const job = queue.shift();
    if (job.cancelled) continue;
    running++;
    send(job).finally(() => { running--; pump(); });
  }
}

function send({ file, ui }) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    const form = new FormData();
    form.append("file", file);
    form.append("title", titleFromName(file.name));
    xhr.open("POST", "/api/movies/");
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.responseType = "json";
    const started = performance.now();
    ui.state.textContent = "Uploading…";
    ui.cancel.onclick = () => xhr.abort();
    xhr.upload.addEventListener("progress", (event) => {
      if (!event.lengthComputable) return;
      const fraction = event.loaded / event.total;
      setProgress(ui, fraction);
      ui.pct.textContent = `Uploading… ${Math.round(fraction * 100)}% (${formatBytes(event.loaded)} of ${formatBytes(event.total)})`;
      const elapsed = (performance.now() - started) / 1000;
      if (fraction > 0.02 && elapsed > 1) ui.extra.textContent = formatEta((elapsed / fraction) * (1 - fraction));
    });
    xhr.upload.addEventListener("load", () => {
      ui.pct.textContent = "Checking the file…";
      ui.extra.textContent = "";
      setProgress(ui, 1, { indeterminate: true });
    });
    xhr.addEventListener("load", () => {
      const data = xhr.response;
      if (xhr.status === 201 || xhr.status === 200) {
        accepted(ui, data);
      } else if (xhr.status === 409) {
        fail(ui, data?.detail || "This exact file is already in the library.");
        ui.state.textContent = "Already in the library";
        const existing = data?.movie?.page_url || (data?.movie?.id ? `/movies/${data.movie.id}/` : null);
        if (existing) ui.message.append(" ", el("a", { href: existing }, "Open it"));
      } else {
        fail(ui, uploadMessage(xhr.status, data, file));
      }
      resolve();
    });
    xhr.addEventListener("error", () => { fail(ui, uploadMessage(0, null, file)); resolve(); });
    xhr.addEventListener("abort", () => { fail(ui, "Upload cancelled."); ui.state.textContent = "Cancelled"; resolve(); });
    xhr.send(form);
  });
}

function accepted(ui, movie) {
  ui.cancel.hidden = true;
  ui.row.dataset.movieId = String(movie.id);
  const link = el("a", { href: movie.page_url || `/movies/${movie.id}/` }, movie.title);
  ui.message.replaceChildren("Added as ", link, ". ");
  toast(`“${movie.title}” uploaded and queued for analysis.`, "ok");
  track(ui, movie);
}

function showMovie(ui, movie) {
  ui.row.dataset.status = movie.status;
  if (movie.status === "ready") {
    ui.row.classList.add("done");
    ui.state.textContent = "Ready";
    setProgress(ui, 1);
    const counts = (movie.scene_types || []).filter((t) => t.has_model || t.segment_count)
      .map((t) => `${t.segment_count} ${t.name.toLowerCase()} ${t.segment_count === 1 ? "scene" : "scenes"}`);
    ui.pct.textContent = counts.length ? `Found ${counts.join(", ")}.` : "Analysed. No scene type has a model yet, so no scenes were searched for.";
    ui.extra.replaceChildren(el("a", { class: "button small primary", href: movie.page_url || `/movies/${movie.id}/` }, "Open"));
  } else if (movie.status === "failed" && movie.duration_s === null) {
    fail(ui, `Not added: ${movie.error || "the download failed without a reason."}`);
    ui.state.textContent = "Download failed";
  } else if (movie.status === "failed") {
    fail(ui, `The upload worked but the analysis failed: ${movie.error || "no reason was given."}`);
    ui.state.textContent = "Analysis failed";
  } else {
    ui.state.textContent = STATUS_WORDS_MOVIE[movie.status] || movie.status;
    const pct = Math.round((movie.progress || 0) * 100);
    const working = movie.status === "analyzing" || movie.status === "downloading";
    setProgress(ui, movie.progress || 0, { indeterminate: !working || !movie.progress });
    ui.pct.textContent = movie.status === "analyzing" ? `Analysing… ${pct}%`
      : movie.status === "downloading" ? `Downloading ${pct} %` : "The analysis starts as soon as a worker is free.";
    ui.extra.textContent = working ? formatEta(movie.eta_s) : "";
  }
}

async function track(ui, movie) {
  showMovie(ui, movie);
  let failures = 0;
  while (isBusy(movie)) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    try {
      movie = await api(`/api/movies/${movie.id}/`);
      failures = 0;
      showMovie(ui, movie);
    } catch (err) {
      if (err.status === 404) { fail(ui, "This movie was deleted."); return; }
      if (++failures >= 5) { ui.extra.textContent = `Progress unavailable: ${err.message}`; return; }
    }
  }
}

const urlForm = document.getElementById("url-form");
urlForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const url = document.getElementById("url-input").value.trim();
  const title = document.getElementById("url-title").value.trim();
  if (!url) return;
  const ui = makeRow({ name: url, size: NaN });
  ui.cancel.hidden = true;
  ui.state.textContent = "Checking the address…";
  setProgress(ui, 0, { indeterminate: true });
  try {
    const movie = await api("/api/movies/", { method: "POST", body: title ? { url, title } : { url } });
    urlForm.reset();
    ui.row.dataset.movieId = String(movie.id);
    const link = el("a", { href: movie.page_url || `/movies/${movie.id}/` }, movie.title);
    ui.message.replaceChildren("Added as ", link, ". ");
    track(ui, movie);
  } catch (err) {
    fail(ui, err.message);
    if (err.status === 409 && err.data?.movie?.page_url) ui.message.append(" ", el("a", { href: err.data.movie.page_url }, "Open it"));
  }
});

function addFiles(files) {
  const chosen = [...files];
  if (!chosen.length) return;
  chosen.forEach(upload);
}

input.addEventListener("change", () => { addFiles(input.files); input.value = ""; });
dropzone.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } });
dropzone.tabIndex = 0;
for (const type of ["dragenter", "dragover"]) {
  dropzone.addEventListener(type, (e) => { e.preventDefault(); dropzone.classList.add("dragover"); });
}
for (const type of ["dragleave", "drop"]) {
  dropzone.addEventListener(type, (e) => { e.preventDefault(); dropzone.classList.remove("dragover"); });
}
dropzone.addEventListener("drop", (e) => addFiles(e.dataTransfer.files));
// A file dropped next to the zone should not navigate away from the page.
window.addEventListener("dragover", (e) => e.preventDefault());
window.addEventListener("drop", (e) => e.preventDefault());
window.addEventListener("beforeunload", (e) => {
  if (running || queue.length) { e.preventDefault(); e.returnValue = ""; }
});
