// Playback on the movie page: seeking, scene jumps, skip mode ("show", "ask to skip", "skip") and full screen.
import { api, el, toast, showError, formatTime } from "./api.js";
import { $, video, state, duration, typeBySlug, displayed, currentSceneOf, ui } from "./movie_state.js";

export function seek(t) {
  const d = duration();
  video.currentTime = Math.max(0, d > 0 ? Math.min(t, d - 0.05) : t);
  ui.timeline.setPlayhead(video.currentTime);
}

export function playScene(seg) {
  state.allowed = seg;
  seek(seg.start_s);
  video.play().catch(() => {});
}

export function jumpScene(direction) {
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

export function skipScene(seg, { automatic = false } = {}) {
  state.allowed = null;
  seek(seg.end_s);
  const name = typeBySlug(seg.slug)?.name.toLowerCase() || "";
  const flash = $("scene-flash");
  flash.textContent = automatic ? `Skipped a ${name} scene (${formatTime(seg.start_s)}–${formatTime(seg.end_s)})` : `Skipped to ${formatTime(seg.end_s)}`;
  flash.hidden = false;
  clearTimeout(skipScene.timer);
  skipScene.timer = setTimeout(() => { flash.hidden = true; }, 2500);
}

export function checkSkip() {
  const t = video.currentTime;
  if (state.allowed && !(t >= state.allowed.start_s && t < state.allowed.end_s)) state.allowed = null;
  let ask = null;
  // Someone labelling scenes needs to see them: annotation mode pauses skipping.
  for (const type of state.annotating ? [] : state.sceneTypes) {
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

export function renderSkipSettings() {
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

export async function saveSkip(type, select) {
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

/** The player's frame goes full screen (not the bare video) so the skip button stays visible. */
export function toggleFullscreen() {
  if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
  else $("player-wrap").requestFullscreen?.().catch(() => toast("This browser did not allow full screen.", "error"));
}
