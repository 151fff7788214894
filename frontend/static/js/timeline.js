// The movie page's timeline: score curve of the selected scene type, one lane of segments per scene type, the
// person's labels, a playhead, click to seek and (in annotation mode) drag to mark a span.
import { el, formatTime } from "./api.js";

export const TYPE_COLOURS = ["#ff5d8f", "#6aa9ff", "#3ecf8e", "#f5b94b", "#b48cff", "#4dd0e1", "#ff8a65"];

const HEAT = [[29, 34, 48], [106, 60, 255], [255, 93, 143], [255, 211, 93]];

function heat(p) {
  const x = Math.max(0, Math.min(1, p)) * (HEAT.length - 1);
  const i = Math.min(HEAT.length - 2, Math.floor(x));
  const f = x - i;
  const c = HEAT[i].map((v, k) => Math.round(v + (HEAT[i + 1][k] - v) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

export class Timeline {
  /**
   * @param {HTMLElement} root  the element with data-testid="timeline"
   * @param {{duration: () => number, onSeek: (t: number) => void, onSelect: (span: {start: number, end: number}) => void}} hooks
   */
  constructor(root, hooks) {
    this.root = root;
    this.hooks = hooks;
    this.canvas = root.querySelector("canvas");
    this.lanes = root.querySelector("#lanes");
    this.selectionBox = root.querySelector("#selection");
    this.playhead = root.querySelector("#playhead");
    this.hoverTime = root.querySelector("#hover-time");
    this.annotating = false;
    this.scores = null;
    this.cut = null; // the scene type's cut, drawn as a dashed line once scores come
    this.emptyNote = "";
    this.drag = null;
    root.addEventListener("pointerdown", (e) => this.onDown(e));
    root.addEventListener("pointermove", (e) => this.onMove(e));
    root.addEventListener("pointerup", (e) => this.onUp(e));
    root.addEventListener("pointercancel", () => { this.drag = null; });
    root.addEventListener("pointerleave", () => { this.hoverTime.hidden = true; });
    new ResizeObserver(() => this.drawScores()).observe(root);
  }

  timeAt(clientX) {
    const rect = this.root.getBoundingClientRect();
    const frac = Math.max(0, Math.min(1, (clientX - rect.left) / rect.width));
    return frac * this.hooks.duration();
  }

  pct(t) {
    const d = this.hooks.duration();
    return d > 0 ? `${Math.max(0, Math.min(100, (t / d) * 100))}%` : "0%";
  }

  onDown(e) {
    if (e.button !== 0) return;
    this.drag = { x: e.clientX, t: this.timeAt(e.clientX), moved: false };
    this.root.setPointerCapture(e.pointerId);
  }

  onMove(e) {
    const t = this.timeAt(e.clientX);
    this.hoverTime.hidden = false;
    this.hoverTime.style.left = this.pct(t);
    this.hoverTime.textContent = formatTime(t);
    if (!this.drag || !this.annotating) return;
    if (Math.abs(e.clientX - this.drag.x) > 4) this.drag.moved = true;
    if (this.drag.moved) this.setSelection({ start: Math.min(this.drag.t, t), end: Math.max(this.drag.t, t) });
  }

  onUp(e) {
    if (!this.drag) return;
    const t = this.timeAt(e.clientX);
    const { moved, t: t0 } = this.drag;
    this.drag = null;
    if (moved && this.annotating) {
      const span = { start: Math.round(Math.min(t0, t) * 10) / 10, end: Math.round(Math.max(t0, t) * 10) / 10 };
      if (span.end > span.start) this.hooks.onSelect(span);
    } else {
      this.hooks.onSeek(t);
    }
  }

  setAnnotating(on) {
    this.annotating = on;
    this.root.classList.toggle("annotating", on);
  }

  setSelection(span) {
    if (!span || !(span.end > span.start)) {
      this.selectionBox.hidden = true;
      return;
    }
    this.selectionBox.hidden = false;
    this.selectionBox.style.left = this.pct(span.start);
    this.selectionBox.style.width = `calc(${this.pct(span.end)} - ${this.pct(span.start)})`;
  }

  setPlayhead(t) {
    this.playhead.style.left = this.pct(t);
    this.root.setAttribute("aria-valuenow", String(Math.round(t)));
    this.root.setAttribute("aria-valuetext", formatTime(t));
  }

  /** lanes: [{key, label, colour, items: [{start_s, end_s, className, title}]}] */
  setLanes(lanes) {
    this.lanes.replaceChildren(...lanes.map((lane) => {
      const row = el("div", { class: "lane", dataset: { lane: lane.key } }, el("span", { class: "lane-label" }, lane.label));
      row.style.setProperty("--seg-colour", lane.colour || "var(--accent)");
      for (const item of lane.items) {
        const box = el("div", { class: item.className, title: item.title, dataset: item.dataset || {} });
        box.style.left = this.pct(item.start_s);
        box.style.width = `calc(${this.pct(item.end_s)} - ${this.pct(item.start_s)})`;
        row.append(box);
      }
      return row;
    }));
  }

  /** Time labels at a round step that gives about `count` marks across the film. */
  setRuler(count = 8) {
    const ruler = this.root.querySelector("#ruler");
    const d = this.hooks.duration();
    if (!ruler || !(d > 0)) return;
    const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
    const step = steps.find((s) => d / s <= count) || 7200;
    const marks = [];
    for (let t = 0; t < d - step * 0.4; t += step) {
      const mark = el("span", {}, formatTime(t));
      mark.style.left = this.pct(t);
      marks.push(mark);
    }
    ruler.replaceChildren(...marks);
  }

  markCurrent(predicate) {
    for (const box of this.lanes.querySelectorAll(".seg")) {
      box.classList.toggle("current", predicate(Number(box.dataset.start), Number(box.dataset.end), box.dataset.lane));
    }
  }

  setScores(scores, { cut = null, note = "" } = {}) {
    this.scores = scores;
    this.cut = cut;
    this.emptyNote = note;
    this.drawScores();
  }

  drawScores() {
    const canvas = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(canvas.clientWidth * dpr));
    const height = Math.max(1, Math.round(canvas.clientHeight * dpr));
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, width, height);
    const scores = this.scores;
    const duration = this.hooks.duration();
    if (!scores || !scores.length || !(duration > 0)) {
      if (this.emptyNote) {
        ctx.fillStyle = "#9aa3b2";
        ctx.font = `${12 * dpr}px system-ui, sans-serif`;
        ctx.textBaseline = "middle";
        ctx.fillText(this.emptyNote, 8 * dpr, height / 2);
      }
      return;
    }
    const top = 2 * dpr;
    const usable = height - top;
    const path = new Path2D();
    for (let px = 0; px < width; px++) {
      const t0 = (px / width) * duration;
      const t1 = ((px + 1) / width) * duration;
      let best = -1;
      for (let i = Math.floor(t0); i < Math.max(Math.floor(t0) + 1, Math.ceil(t1)) && i < scores.length; i++) {
        if (scores[i] > best) best = scores[i];
      }
      if (best < 0) continue;
      const y = top + (1 - best) * usable;
      ctx.fillStyle = heat(best);
      ctx.globalAlpha = 0.4 + 0.5 * best;
      ctx.fillRect(px, y, 1, height - y);
      if (px === 0) path.moveTo(px, y); else path.lineTo(px, y);
    }
    ctx.globalAlpha = 1;
    ctx.strokeStyle = "#ffd9e6";
    ctx.lineWidth = Math.max(1, dpr);
    ctx.stroke(path);
    if (this.cut === null) return;
    const cutY = top + (1 - this.cut) * usable;
    ctx.setLineDash([4 * dpr, 4 * dpr]);
    ctx.strokeStyle = "rgba(255,255,255,0.55)";
    ctx.beginPath();
    ctx.moveTo(0, cutY);
    ctx.lineTo(width, cutY);
    ctx.stroke();
    ctx.setLineDash([]);
  }
}
