// What the player plays (/api/movies/{id}/playback/): the film itself when browsers play it, else the copy the server
// makes of it on the exports queue. While that copy is being made the player says so, with its progress, and loads
// it as soon as it is ready.
import { api, el, formatEta, toast } from "./api.js";

const POLL_MS = 1500;

function note(video) {
  let box = document.getElementById("playback-note");
  if (!box) {
    box = el("div", { id: "playback-note", class: "alert", role: "status", "aria-live": "polite" });
    video.closest(".player-wrap").before(box);
  }
  return box;
}

function copyWords(copy) {
  const why = `Browsers cannot play this film as it is stored (${copy.reason}),`;
  if (copy.status === "running") {
    const pct = Math.round((copy.progress || 0) * 100);
    return `${why} so a copy they can play is being made: ${pct} % · ${formatEta(copy.eta_s)}. It plays here when it is ready.`;
  }
  return `${why} so a copy they can play is waiting for a worker. It plays here when it is ready.`;
}

/** Follow the player's video: when it cannot load, say why and wait for the playable copy. The video may have failed
 * before this module ran (its src is in the page, and a 409 comes back fast), so an error already there counts too. */
export function watchPlayback(video, movieId) {
  let following = false;
  const onError = async () => {
    if (following) return;
    let copy;
    try {
      copy = await api(`/api/movies/${movieId}/playable-copy/`);
    } catch {
      copy = null;
    }
    if (!copy || copy.status === "not_needed" || copy.status === "ready") {
      toast("The player stopped: the video stream could not be loaded.", "error");
      return;
    }
    following = true;
    const box = note(video);
    while (copy.status === "queued" || copy.status === "running") {
      box.className = "alert";
      box.textContent = copyWords(copy);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      try {
        copy = await api(`/api/movies/${movieId}/playable-copy/`);
      } catch {
        // a moment without the server: ask again
      }
    }
    following = false;
    if (copy.status === "ready") {
      box.remove();
      video.load();
      return;
    }
    box.className = "alert error";
    box.textContent = `Browsers cannot play this film as it is stored (${copy.reason}), and a copy they can play `
      + `could not be made: ${copy.error || "it was cancelled."}`;
  };
  video.addEventListener("error", onError);
  if (video.error) onError();
}
