// Scene-type pages: the list (with a form for a new type) and one type's page (train, versions, label next).
import { api, el, toast, showError, formatTime, formatEta, runProgress } from "./api.js";

const pct = (value) => (value === null || value === undefined ? "–" : `${Math.round(value * 1000) / 10}%`);

// ---- the list page ----

async function listPage() {
  const box = document.getElementById("scene-type-list");
  async function load() {
    try {
      const types = await api("/api/scene-types/");
      box.replaceChildren(...types.map((t) => el("a", { class: "card st-type", href: `/scene-types/${t.slug}/`, dataset: { slug: t.slug } },
        el("h2", {}, t.name),
        el("p", { class: "muted small" }, t.description || `/${t.slug}/`),
        t.active_model
          ? el("span", { class: "badge ok" }, `Active model: ${t.active_model.name}`)
          : el("span", { class: "badge warn" }, "No model yet: label some spans, then train"))));
      if (!types.length) box.append(el("p", { class: "empty" }, "No scene types yet."));
    } catch (err) {
      showError(err, "Could not load the scene types.");
    } finally {
      box.removeAttribute("aria-busy");
    }
  }
  const form = document.getElementById("scene-type-form");
  if (form) {
    const name = form.elements.name;
    const slug = form.elements.slug;
    let slugTouched = false;
    slug.addEventListener("input", () => { slugTouched = true; });
    name.addEventListener("input", () => {
      if (!slugTouched) slug.value = name.value.toLowerCase().trim().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const created = await api("/api/scene-types/", {
          method: "POST",
          body: { name: name.value.trim(), slug: slug.value.trim(), description: form.elements.description.value.trim() },
        });
        toast(`Added “${created.name}”. Label a few spans of it in the player, then train it.`, "ok");
        form.reset();
        slugTouched = false;
        await load();
      } catch (err) {
        showError(err, "Could not add the scene type.");
      }
    });
  }
  await load();
}

// ---- one scene type's page ----

function metricRow(label, value) {
  return el("div", { class: "st-metric" }, el("dt", {}, label), el("dd", {}, value));
}

function backbonesFacts(version) {
  const backbones = version.fine_tuned_backbones ? "fine-tuned backbones" : "ImageNet backbones";
  return `${version.backbone_set} · ${version.channel_order} · ${backbones}`;
}

// Fewer held-out spans than this, and a version's own held-out figure says nothing a person should act on.
const MIN_HELDOUT_SPANS = 10;

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

// What one version's held-out check says, in words: its figure where it rests on enough, else why not.
function heldoutWords(h) {
  if (h.f1 === undefined || h.f1 === null) return "not measured here";
  const spans = h.n_heldout_spans;
  if (spans !== undefined && spans < MIN_HELDOUT_SPANS) {
    return `Too few held-out spans (${spans}) to judge this version on its own; the cross-validated figure above is the one to go by.`;
  }
  return `F1 ${pct(h.f1)} (precision ${pct(h.precision)}, recall ${pct(h.recall)}) on ${spans === undefined ? "its" : plural(spans, "labelled span")} held out from its training`;
}

function versionCard(version, { canActivate, onActivate }) {
  const h = version.heldout || {};
  const o = version.observed || {};
  const actions = el("div", { class: "st-actions" });
  if (version.is_active) actions.append(el("span", { class: "badge ok" }, "Active"));
  else if (canActivate && version.status === "ready") {
    actions.append(el("button", { type: "button", class: "small", dataset: { activate: version.id },
      onclick: (event) => onActivate(version, event.currentTarget.closest(".st-version")) },
    version.wasNewer ? "Roll back to this" : "Activate"));
  }
  if (version.download_url) actions.append(el("a", { class: "button small ghost", href: version.download_url, download: "" }, "Download"));
  return el("article", { class: `card st-version${version.is_active ? " active" : ""}`, dataset: { version: version.id, status: version.status } },
    el("header", {}, el("h3", {}, version.name),
      el("p", { class: "muted small" }, `${version.origin} · ${new Date(version.created_at).toLocaleString()}`),
      el("p", { class: "small st-facts", dataset: { testid: "model-card" } }, backbonesFacts(version))),
    version.status !== "ready"
      ? el("p", { class: `badge ${version.status === "failed" ? "bad" : "warn"}` }, version.status === "failed" ? `Failed: ${version.error}` : version.status)
      : null,
    el("dl", { class: "st-metrics" },
      metricRow("Held-out check", heldoutWords(h)),
      metricRow("Trained on", h.n_spans ? `${plural(h.n_spans, "span")} in ${plural(h.n_movies, "movie")}` : "–"),
      version.reported && version.reported.validation_f1 !== undefined
        ? metricRow("Reported by its authors", `validation F1 ${pct(version.reported.validation_f1)} (not measured here)`)
        : null,
      metricRow("Confirmed by people", o.precision === null || o.precision === undefined
        ? "nobody has reviewed its scenes yet"
        : `${pct(o.precision)} of its reviewed scenes were right (${o.confirmed} confirmed, ${o.rejected} rejected)`)),
    actions);
}

function trainingBlock(training) {
  const block = runProgress({ ...training.run, id: training.id }, {
    what: "Training",
    done: `Done: a new version trained on ${plural(training.n_spans, "span")} (${plural(training.n_seconds, "second")}) from ${plural(training.n_movies, "movie")}. Compare it below and activate it to re-score the library.`,
  });
  return block;
}

// The cross-validated figure: the one figure the page offers, with what it was measured on, or a plain statement
// that too little is labelled to know.
function qualityBlock(data, sceneName) {
  const e = data.estimate;
  if (!e) {
    const need = data.spans_needed || {};
    const more = [need.positive ? `${need.positive} more positive` : "", need.negative ? `${need.negative} more negative` : ""].filter(Boolean);
    return el("p", { class: "muted", dataset: { state: "none" } }, more.length
      ? `No figure yet: label ${more.join(" and ")} span(s) on analysed movies first.`
      : "No figure yet for these labels.");
  }
  const m = e.metrics;
  const [[tn, fp], [fn, tp]] = m.confusion || [[0, 0], [0, 0]];
  const otherScored = tn + fp;
  const sceneScored = fn + tp;
  const name = sceneName.toLowerCase();
  const otherMovies = e.n_movies - e.n_scene_movies;
  const basis = el("p", { class: "small", dataset: { testid: "quality-basis" } },
    `Measured on ${plural(e.n_seconds, "labelled second")} (${e.n_scene_seconds} of ${name}) in ${plural(e.n_movies, "movie")}: `
    + `each movie was judged by a model trained without it (${e.n_folds} folds).`);
  const children = [];
  if (!e.enough || !otherScored || !sceneScored) {
    const needs = e.enough_means || {};
    const reasons = [];
    if (needs.movies_per_label && (e.n_scene_movies < needs.movies_per_label || otherMovies < needs.movies_per_label)) {
      reasons.push(`It needs at least ${needs.movies_per_label} movies with ${name} and ${needs.movies_per_label} without; there are ${e.n_scene_movies} with and ${otherMovies} without.`);
    }
    if (needs.scene_seconds && e.n_scene_seconds < needs.scene_seconds) {
      reasons.push(`It needs at least ${needs.scene_seconds} labelled seconds of ${name}; there are ${e.n_scene_seconds}.`);
    }
    if (!otherScored) reasons.push(`No seconds without ${name} could be scored, so nobody can tell how often it would raise false alarms.`);
    if (!sceneScored) reasons.push(`No seconds of ${name} could be scored, so nobody can tell how many scenes it would find.`);
    children.push(
      el("p", { class: "st-quality-verdict", dataset: { testid: "quality-verdict" } },
        "Too little is labelled to know how good a model would be."),
      el("p", { class: "badge warn st-quality-warning", role: "note" },
        `${reasons.join(" ")} Label more spans, of ${name} and of other scenes, in more movies; the figure is measured again when the labels change.`),
      basis);
  } else {
    children.push(
      el("dl", { class: "st-metrics" },
        metricRow("F1 (cross-validated)", pct(m.f1)),
        metricRow("Precision", `${pct(m.precision)} of the seconds it calls ${name} are`),
        metricRow("Recall", `${pct(m.recall)} of the ${name} seconds are found`),
        metricRow("False alarms", `${Math.round(m.false_alarms_per_10_min * 10) / 10} s per 10 min of other footage`)),
      basis);
  }
  if (!data.current) children.push(el("p", { class: "muted small" }, "Your labels changed since this figure was measured."));
  return el("div", { class: "st-quality", dataset: { state: data.current ? "current" : "stale", enough: e.enough && otherScored && sceneScored ? "1" : "0" } },
    ...children);
}

// A run's failure as text whose web addresses are links (the message says where to download a file by hand).
function withLinks(text) {
  const parts = String(text).split(/(https?:\/\/[^\s)]+)/);
  return parts.map((part, i) => {
    if (i % 2 === 0) return part;
    const href = part.replace(/[.,;:]+$/, "");
    const rest = part.slice(href.length);
    const link = el("a", { href, target: "_blank", rel: "noopener noreferrer" }, href);
    return rest ? [link, rest] : link;
  }).flat().filter((node) => node !== "");
}

// One background run (any kind) as a progress block: the shape of /api/runs/{id}/.
function runBlock(run, words) {
  const share = Math.round((run.progress || 0) * 100);
  const busy = run.status === "queued" || run.status === "running";
  const text = run.status === "failed" ? `${words.failed}: ${run.error}`
    : run.status === "succeeded" ? words.succeeded
      : run.waiting_for_worker ? "Waiting for a worker…"
        : run.status === "queued" ? "Queued…" : `${run.stage || "working"}… ${share}%`;
  return el("div", { class: "progress-block", dataset: { status: run.status, run: run.id } },
    busy ? el("div", { class: `progress${run.status === "queued" ? " indeterminate" : ""}`, role: "progressbar",
      "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(share), "aria-label": words.label },
    el("span", { style: `width:${share}%` })) : null,
    el("div", { class: run.status === "failed" ? "alert error" : "progress-text", role: run.status === "failed" ? "alert" : null },
      el("span", { class: "pct" }, ...(run.status === "failed" ? withLinks(text) : [text])),
      el("span", {}, run.status === "running" ? formatEta(run.eta_s) : "")));
}

async function detailPage(root) {
  const slug = root.dataset.slug;
  // What this person may do here, as the server's permission policy says (the page carries it).
  const can = { activate: root.dataset.canActivate === "1", train: root.dataset.canTrain === "1",
                change: root.dataset.canChange === "1" };
  const versionsBox = document.getElementById("versions");
  const summary = document.getElementById("annotation-summary");
  const trainButton = document.getElementById("train-button");
  const progressBox = document.getElementById("training-progress");
  const suggestionsBox = document.getElementById("suggestions");
  const rederiveBox = document.getElementById("rederive-progress");
  let polling = null;
  const qualityBox = document.getElementById("quality");
  const qualityButton = document.getElementById("quality-button");
  let qualityWaits = 0;
  let rederivePolling = null;

  // Re-deriving the scenes after a settings save runs in the background: the same widget as every run.
  function watchRederive(run) {
    clearTimeout(rederivePolling);
    if (!run) {
      rederiveBox.replaceChildren();
      return;
    }
    rederiveBox.replaceChildren(runProgress(run, { what: "Re-deriving the scenes", done: "Every movie's scenes follow the new settings." }));
    if (run.status === "queued" || run.status === "running") {
      rederivePolling = setTimeout(async () => {
        try {
          // a run is shown to staff and who asked for it; everyone else follows it through the scene type's stats
          // (which drop it once it has succeeded)
          const next = can.change ? await api(run.url)
            : (await api(`/api/scene-types/${slug}/stats/`)).rederive_run || { ...run, status: "succeeded", progress: 1 };
          watchRederive(next);
          if (next.status === "succeeded") await loadSuggestions();
        } catch (err) {
          showError(err, "Lost track of the re-derivation.");
        }
      }, 1000);
    }
  }

  // Activation may decode films again: say what it costs, then activate only on a second, explicit click.
  async function activate(version, card) {
    let cost;
    try {
      cost = await api(`/api/models/${version.id}/activation-cost/`);
    } catch (err) {
      showError(err, "Could not work out what activating that model costs.");
      return;
    }
    for (const open of document.querySelectorAll(".st-confirm")) open.remove();
    const confirmBox = el("div", { class: "st-confirm", role: "group", "aria-label": `Activate ${version.name}?`,
      dataset: { testid: "activation-confirm", decodeFilms: cost.decode_films } },
    el("p", { class: "small" }, cost.message),
    el("div", { class: "st-actions" },
      el("button", { type: "button", class: "small primary", dataset: { confirmActivate: version.id },
        onclick: () => { confirmBox.remove(); confirmed(version); } },
      cost.decode_films ? `Decode ${cost.decode_films} film(s) and activate` : "Activate"),
      el("button", { type: "button", class: "small ghost", onclick: () => confirmBox.remove() }, "Cancel")));
    card.append(confirmBox);
    confirmBox.querySelector("[data-confirm-activate]").focus();
  }

  async function confirmed(version) {
    try {
      const result = await api(`/api/models/${version.id}/activate/`, { method: "POST" });
      const plan = result && result.rescore && result.rescore.message ? ` ${result.rescore.message}` : "";
      toast(`“${version.name}” is active.${plan}`, "ok");
      await Promise.all([loadStats(), loadSuggestions()]);
    } catch (err) {
      showError(err, "Could not activate that model.");
    }
  }

  async function loadStats() {
    try {
      const stats = await api(`/api/scene-types/${slug}/stats/`);
      const a = stats.annotations;
      const need = stats.spans_needed;
      const waiting = (a.positive_spans - a.usable_positive_spans) + (a.negative_spans - a.usable_negative_spans);
      const pending = waiting ? ` ${waiting} of them are on movies still waiting for analysis.` : "";
      summary.textContent = stats.can_train
        ? `${a.positive_spans} positive and ${a.negative_spans} negative spans labelled in ${a.movies} movie(s).${pending} Ready to train.`
        : `${a.positive_spans} positive and ${a.negative_spans} negative spans labelled.${pending} Label ${[
          need.positive ? `${need.positive} more positive` : "", need.negative ? `${need.negative} more negative` : ""].filter(Boolean).join(" and ")} span(s) in the player to train.`;
      if (trainButton) trainButton.disabled = !stats.can_train || stats.active_training_run !== null;
      const activeIndex = stats.versions.findIndex((v) => v.is_active);
      stats.versions.forEach((v, i) => { v.wasNewer = activeIndex >= 0 && i > activeIndex; });
      versionsBox.replaceChildren(...stats.versions.map((v) => versionCard(v, { canActivate: can.activate, onActivate: activate })));
      if (!stats.versions.length) {
        versionsBox.append(el("p", { class: "muted" }, "No models yet. Train one from your labelled spans, or upload a model file below."));
      }
      if (stats.active_training_run !== null && !polling) watch(stats.active_training_run);
      if (stats.rederive_run && !rederivePolling) watchRederive(stats.rederive_run);
    } catch (err) {
      showError(err, "Could not load the model versions.");
    } finally {
      versionsBox.removeAttribute("aria-busy");
    }
  }

  // Staff measure the figure again when the labels changed (a queued task); everyone sees the newest one.
  let measuring = false;
  let askedOnce = false;
  let polls = 0;
  async function loadQuality({ measure = false } = {}) {
    try {
      const data = await api(`/api/scene-types/${slug}/quality/`);
      const possible = !Object.values(data.spans_needed || {}).some(Boolean);
      if (can.train && possible && !data.current && !measuring && (measure || !askedOnce)) {
        askedOnce = true;
        await api(`/api/scene-types/${slug}/quality/`, { method: "POST" });
        measuring = true;
        polls = 0;
      }
      qualityBox.replaceChildren(qualityBlock(data, root.dataset.name || slug));
      if (measuring && !data.current && polls < 90) {
        polls += 1;
        qualityBox.append(el("p", { class: "muted small", dataset: { state: "measuring" } }, "Measuring on your current labels…"));
        setTimeout(() => loadQuality(), 2000);
      } else {
        measuring = false;
      }
      if (qualityButton) qualityButton.hidden = !possible || data.current || measuring;
    } catch (err) {
      measuring = false;
      showError(err, "Could not load the cross-validated quality.");
    } finally {
      qualityBox.removeAttribute("aria-busy");
    }
  }
  if (qualityButton) qualityButton.addEventListener("click", () => loadQuality({ measure: true }));

  // "Get the published kissing model": a queued run; the page follows it (again after a reload) until it ends.
  const fetchButton = document.getElementById("fetch-published-button");
  const fetchBox = document.getElementById("fetch-progress");
  const fetchWords = { label: "Getting the published model", failed: "Could not get the published model",
    succeeded: "The published model is listed below with its card. Activate it to use it." };
  function followFetch(run) {
    fetchBox.replaceChildren(runBlock(run, fetchWords));
    const busy = run.status === "queued" || run.status === "running";
    fetchButton.disabled = busy;
    if (busy) {
      setTimeout(async () => {
        try {
          followFetch(await api(run.url));
        } catch (err) {
          fetchButton.disabled = false;
          showError(err, "Lost track of getting the published model.");
        }
      }, 1000);
    } else if (run.status === "succeeded") {
      loadStats();
    }
  }
  if (fetchButton) {
    fetchButton.addEventListener("click", async () => {
      fetchButton.disabled = true;
      try {
        followFetch(await api(`/api/scene-types/${slug}/published-model/`, { method: "POST" }));
      } catch (err) {
        fetchButton.disabled = false;
        showError(err, "Could not start getting the published model.");
      }
    });
    // After a reload: a fetch still going on is followed, and one that failed keeps saying why.
    api(`/api/scene-types/${slug}/published-model/`).then((data) => {
      if (data.run && ["queued", "running", "failed"].includes(data.run.status)) followFetch(data.run);
    }).catch((err) => showError(err, "Could not look up getting the published model."));
  }

  async function loadSuggestions() {
    try {
      const data = await api(`/api/scene-types/${slug}/suggestions/`);
      suggestionsBox.replaceChildren(...data.results.map((s) => el("li", { class: "st-suggestion", dataset: { movie: s.movie_id, start: s.start_s, end: s.end_s } },
        el("a", { href: s.link }, `${s.movie_title || `Movie ${s.movie_id}`} · ${formatTime(s.start_s)} – ${formatTime(s.end_s)}`),
        el("span", { class: `badge ${s.kind === "unsure" ? "warn" : ""}` }, s.kind === "unsure" ? "unsure" : "not reviewed"),
        el("p", { class: "muted small" }, s.why))));
      if (!data.results.length) {
        suggestionsBox.append(el("li", { class: "muted" }, data.detail || "Nothing to suggest: the active model is sure everywhere, and every detection was reviewed."));
      }
    } catch (err) {
      showError(err, "Could not load the suggestions.");
    } finally {
      suggestionsBox.removeAttribute("aria-busy");
    }
  }

  function watch(runId) {
    const tick = async () => {
      try {
        const run = await api(`/api/training-runs/${runId}/`);
        progressBox.replaceChildren(trainingBlock(run));
        if (run.status === "queued" || run.status === "running") {
          polling = setTimeout(tick, 1000);
          return;
        }
        polling = null;
        if (run.status === "succeeded") toast("Training finished. Compare the new version below and activate it.", "ok");
        await loadStats();
      } catch (err) {
        polling = null;
        showError(err, "Lost track of the training run.");
      }
    };
    polling = setTimeout(tick, 0);
  }

  if (trainButton) {
    trainButton.addEventListener("click", async () => {
      trainButton.disabled = true;
      try {
        const run = await api(`/api/scene-types/${slug}/train/`, { method: "POST" });
        progressBox.replaceChildren(trainingBlock(run));
        watch(run.id);
      } catch (err) {
        showError(err);
        trainButton.disabled = false;
      }
    });
  }

  function fileForm(id, url, done) {
    const form = document.getElementById(id);
    if (!form) return;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("button");
      button.disabled = true;
      try {
        const body = new FormData(form);
        const version = await api(url, { method: "POST", body });
        toast(done(version), "ok");
        form.reset();
        await loadStats();
      } catch (err) {
        showError(err);
      } finally {
        button.disabled = false;
      }
    });
  }
  fileForm("upload-form", `/api/scene-types/${slug}/models/`, (v) => `Uploaded “${v.name}”. Activate it to use it.`);

  const settingsForm = document.getElementById("settings-form");
  if (settingsForm && can.change) {
    settingsForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const f = settingsForm.elements;
      try {
        await api(`/api/scene-types/${slug}/`, {
          method: "PATCH",
          body: { cut: Number(f.cut.value), min_frames: Number(f.min_frames.value), threshold: Number(f.threshold.value) },
        });
        toast("Saved. Every movie's scenes of this type are re-derived with the new settings; progress shows below.", "ok");
        const stats = await api(`/api/scene-types/${slug}/stats/`);
        watchRederive(stats.rederive_run);
      } catch (err) {
        showError(err, "Could not save the settings.");
      }
    });
  }

  await Promise.all([loadStats(), loadSuggestions(), loadQuality()]);
}

const detail = document.getElementById("scene-type-page");
if (detail) detailPage(detail);
else if (document.getElementById("scene-type-list")) listPage();
