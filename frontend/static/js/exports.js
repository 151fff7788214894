// Exports (clips, supercuts, contact sheets): start one, show its progress and ETA, then its download link.
import { api, el, formatBytes, formatEta, showError, toast } from "./api.js";

const POLL_MS = 1500;
const KIND_WORDS = { clip: "Clip", supercut: "Supercut", contact_sheet: "Contact sheet" };
const STATUS_WORDS = {
  queued: "Waiting for a worker…", running: "Making it…", succeeded: "Ready", failed: "Failed", cancelled: "Cancelled",
};

function setBar(bar, fraction) {
  const pct = Math.max(0, Math.min(100, Math.round((fraction || 0) * 100)));
  bar.firstElementChild.style.width = `${pct}%`;  // a style property, not an attribute: the CSP allows it
  bar.setAttribute("aria-valuenow", String(pct));
}

/** A list item showing one export; `update(exp)` redraws it. */
function exportItem(label) {
  const bar = el("div", { class: "progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100",
    "aria-valuenow": "0", "aria-label": `Progress of ${label}` }, el("span"));
  const state = el("span", { class: "state" });
  const eta = el("span", { class: "muted small" });
  const action = el("span", { class: "export-action" });
  const note = el("p", { class: "muted small export-note", hidden: "" });
  const cancel = el("button", { type: "button", class: "small ghost", "data-action": "cancel-export" }, "Cancel");
  cancel.addEventListener("click", async () => {
    cancel.disabled = true;
    try {
      await api(`/api/runs/${item.dataset.runId}/cancel/`, { method: "POST" });
    } catch (err) {
      showError(err, "The export was not cancelled:");
      cancel.disabled = false;
    }
  });
  const item = el("li", { class: "export-item" },
    el("div", { class: "top" }, el("span", { class: "name" }, label), state), bar,
    el("div", { class: "progress-text" }, eta, action), note);
  item.update = (exp) => {
    item.dataset.exportId = String(exp.id);
    item.dataset.runId = String(exp.run ?? "");
    item.dataset.status = exp.status;
    state.textContent = STATUS_WORDS[exp.status] || exp.status;
    setBar(bar, exp.status === "succeeded" ? 1 : exp.progress);
    bar.classList.toggle("indeterminate", exp.status === "queued");
    if (exp.status === "running") eta.textContent = `${Math.round((exp.progress || 0) * 100)}% · ${formatEta(exp.eta_s)}`;
    else if (exp.status === "failed") eta.textContent = exp.error || "No reason was given.";
    else if (exp.status === "succeeded") eta.textContent = exp.size_bytes ? formatBytes(exp.size_bytes) : "";
    else eta.textContent = exp.stage || "";
    note.textContent = exp.note || "";  // what the limits left out (rows of a contact sheet, scenes of a supercut)
    note.hidden = !exp.note;
    item.classList.toggle("error", exp.status === "failed");
    const busy = exp.status === "queued" || exp.status === "running";
    if (busy && exp.run && !action.firstChild) action.replaceChildren(cancel);
    if (!busy && action.firstChild === cancel) action.replaceChildren();
    if (exp.status === "succeeded" && exp.download_url && !action.firstChild) {
      action.replaceChildren(el("a", {
        class: "button small primary", href: exp.download_url, download: exp.file_name || "", "data-action": "download",
      }, "Download"));
    }
  };
  return item;
}

async function follow(item, exp) {
  item.update(exp);
  let failures = 0;
  while (exp.status === "queued" || exp.status === "running") {
    await new Promise((r) => setTimeout(r, POLL_MS));
    try {
      exp = await api(`/api/exports/${exp.id}/`);
      failures = 0;
      item.update(exp);
    } catch (err) {
      if (++failures >= 5) { showError(err, "The export's progress is unavailable:"); return exp; }
    }
  }
  if (exp.status === "succeeded") toast(`${KIND_WORDS[exp.kind] || "Export"} ready to download.`, "ok", { timeoutMs: 4000 });
  return exp;
}

/** POST `url` with `body`, then show and follow the export in `list` (a <ul>) under `label`. */
export async function startExport(list, url, body, label) {
  try {
    const exp = await api(url, { method: "POST", body });
    const item = exportItem(label);
    list.hidden = false;
    list.closest("[hidden]")?.removeAttribute("hidden");
    list.prepend(item);
    return follow(item, exp);
  } catch (err) {
    showError(err, `${label} could not be started:`);
    return null;
  }
}

/** Show the person's unexpired exports that match `keep` (e.g. those of one movie) in `list`, following busy ones. */
export async function showExports(list, keep = () => true, label = (exp) => KIND_WORDS[exp.kind] || exp.kind) {
  let data;
  try {
    data = await api("/api/exports/");
  } catch {
    return;
  }
  const items = (data?.results || []).filter(keep);
  if (!items.length) return;
  list.closest("[hidden]")?.removeAttribute("hidden");
  for (const exp of items.reverse()) {
    const item = exportItem(label(exp));
    list.prepend(item);
    follow(item, exp);
  }
}

export { KIND_WORDS };
