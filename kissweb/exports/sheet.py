"""The contact sheet: a PNG grid, one row per scene (its words, then K frames across it), drawn with PIL from
frames moviepy reads; each frame is reached by a seek, and rows of one film share its reader."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kissweb.exports.fonts import font as typeface
from kissweb.exports.render import (
    Cancelled,
    Cut,
    ProgressFn,
    RenderError,
    SourceUnreadable,
    atomic_output,
    even,
    fit_text,
    open_video,
    short,
    strict_readers,
)


FOOTER_HEIGHT = 40
FOOTER_BACKGROUND = (250, 200, 60)  # a band that is seen: rows were left out


@dataclass(frozen=True)
class SheetRow:
    """One row of a contact sheet: a scene of a film and the words written beside its frames."""

    source: Path
    start_s: float
    end_s: float
    lines: tuple[str, ...]


def sheet_times(start_s: float, end_s: float, k: int) -> list[float]:
    """k instants spread across a scene: the middles of k equal parts."""
    step = (end_s - start_s) / k
    return [start_s + step * (i + 0.5) for i in range(k)]


def render_contact_sheet(
    *, rows: Sequence[SheetRow], output: Path, frames_per_row: int = 6, thumb_width: int = 240,
    label_width: int = 300, progress: ProgressFn | None = None, footer: str = "",
) -> None:
    """A PNG grid, one row per scene: its words on the left, then `frames_per_row` frames across the scene;
    `footer` (e.g. that rows were left out) in a band below the last row."""
    from PIL import Image, ImageDraw

    if not rows:
        raise RenderError("There are no scenes to put on the contact sheet.")
    thumb_height = even(thumb_width * 9 / 16)
    pad = 8
    row_height = thumb_height + 2 * pad
    width = label_width + frames_per_row * (thumb_width + pad) + pad
    footer_height = FOOTER_HEIGHT if footer else 0
    sheet = Image.new("RGB", (width, row_height * len(rows) + footer_height), (24, 24, 28))
    draw = ImageDraw.Draw(sheet)
    heading, body = typeface(18, bold=True), typeface(14)
    if footer:
        top = row_height * len(rows)
        draw.rectangle((0, top, width, top + footer_height), fill=FOOTER_BACKGROUND)
        draw.text((pad, top + (footer_height - 18) // 2), fit_text(draw, footer, heading, width - 2 * pad),
                  fill=(20, 20, 20), font=heading)
    total, done = len(rows) * frames_per_row, 0
    clips: dict[Path, object] = {}
    try:
        with atomic_output(output) as (_work, partial), strict_readers():
            for r, row in enumerate(rows):
                top = r * row_height
                y = top + pad
                for i, line in enumerate(row.lines):
                    font = heading if i == 0 else body
                    draw.text((pad, y), fit_text(draw, line, font, label_width - 2 * pad),
                              fill=(240, 240, 240) if i == 0 else (180, 180, 190), font=font)
                    y += 26 if i == 0 else 20
                for clip_path in [p for p in clips if p != row.source]:  # rows of one film come together
                    clips.pop(clip_path).close()
                if row.source not in clips:
                    clips[row.source] = open_video(Cut(row.source, row.start_s, row.end_s),
                                                    target=(thumb_width, None))
                clip = clips[row.source]
                for i, at in enumerate(sheet_times(row.start_s, row.end_s, frames_per_row)):
                    frame = clip.get_frame(min(at, max(clip.duration - 0.05, 0.0)))
                    thumb = Image.fromarray(frame[:, :, :3]).convert("RGB")
                    thumb.thumbnail((thumb_width, thumb_height))
                    left = label_width + i * (thumb_width + pad) + (thumb_width - thumb.width) // 2
                    sheet.paste(thumb, (left, top + pad + (thumb_height - thumb.height) // 2))
                    done += 1
                    if progress is not None:
                        progress(0.95 * done / total)
            sheet.save(partial, format="PNG", optimize=False)
            if progress is not None:
                progress(1.0)
    except (RenderError, Cancelled):
        raise
    except UserWarning as exc:
        raise SourceUnreadable(f"A source film is damaged where the contact sheet needs it: {short(exc)}") from exc
    finally:
        for clip in clips.values():
            clip.close()
