"""Scene-setting defaults are defined once (detector/aggregate.py): no copy of them in the page's JavaScript."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((REPO / "frontend" / "static" / "js").glob("*.js"))


def test_the_page_scripts_hold_no_default_scene_settings():
    assert SCRIPTS
    for script in SCRIPTS:
        text = script.read_text()
        assert not re.search(r"DEFAULT_(CUT|MIN_FRAMES|THRESHOLD)", text), script.name
        # a fallback literal (`?? 0.5`, `cut = 0.5` in a parameter list) would be a second definition
        assert not re.search(r"\?\?\s*\d", text), script.name
        assert not re.search(r"\b(cut|minFrames|min_frames|threshold)\s*=\s*\d", text), script.name


def test_the_movie_template_leaves_the_settings_to_the_scene_type():
    html = (REPO / "frontend" / "templates" / "movie.html").read_text()
    for field in ("min-frames", "threshold"):
        tag = re.search(rf'<input[^>]*id="{field}"[^>]*>', html).group(0)
        assert "value=" not in tag


def test_python_defines_each_default_once():
    pattern = re.compile(r"^\s*(DEFAULT_CUT|DEFAULT_MIN_FRAMES|DEFAULT_THRESHOLD)\s*=", re.M)
    found = []
    for folder in ("detector", "kissweb", "bench"):
        for path in (REPO / folder).rglob("*.py"):
            if "out" in path.relative_to(REPO).parts:  # bench/out: generated files and packages for measurements
                continue
            found += [(path.relative_to(REPO).as_posix(), name) for name in pattern.findall(path.read_text())]
    assert sorted(found) == [("detector/aggregate.py", name)
                             for name in ("DEFAULT_CUT", "DEFAULT_MIN_FRAMES", "DEFAULT_THRESHOLD")]
