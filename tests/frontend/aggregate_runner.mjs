// Reads JSON cases on stdin, runs the browser's aggregate.js on each, writes the results as JSON on stdout.
// Case: {"labels": [...], "min_frames", "threshold"} or {"probabilities": [...], "cut", "min_frames", "threshold"}.
import { readFileSync } from "node:fs";
import { aggregate, aggregateProbabilities } from "../../frontend/static/js/aggregate.js";

const cases = JSON.parse(readFileSync(0, "utf8"));
const out = cases.map((c) => {
  try {
    if (c.probabilities) {
      return aggregateProbabilities(c.probabilities, { cut: c.cut, minFrames: c.min_frames, threshold: c.threshold })
        .map((s) => [s.start_s, s.end_s, s.confidence]);
    }
    return aggregate(c.labels, c.min_frames, c.threshold);
  } catch (err) {
    return { error: err.message };
  }
});
process.stdout.write(JSON.stringify(out));
