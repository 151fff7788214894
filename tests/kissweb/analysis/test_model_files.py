"""Model files have one home (kissweb/analysis/model_files.py): the published model's name is written once, and only
that module wraps detector.reference.import_reference_file."""

from __future__ import annotations

from pathlib import Path

import kissweb

KISSWEB = Path(kissweb.__file__).parent
HOME = KISSWEB / "analysis" / "model_files.py"


def _sources() -> dict[Path, str]:
    return {path: path.read_text() for path in KISSWEB.rglob("*.py")}


def test_the_published_models_name_is_written_once():
    written = {path: text.count('"Published model (Ziai 2019)"') for path, text in _sources().items()}
    assert {path: n for path, n in written.items() if n} == {HOME: 1}


def test_one_module_wraps_the_reference_import():
    wrapping = sorted(str(path.relative_to(KISSWEB)) for path, text in _sources().items()
                      if "import_reference_file" in text)
    assert wrapping == ["analysis/model_files.py"]
