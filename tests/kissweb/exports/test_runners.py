"""What the exports' runs do with their failures: final for a full disk or an unreadable film, once more for a
render error, each saying which kind of work failed."""

from __future__ import annotations

import pytest

from kissweb.exports import render
from kissweb.exports.runners import ExportRunner, PlayableCopyRunner


@pytest.mark.parametrize(("runner", "words"), [
    (ExportRunner, "The export could not be made"),
    (PlayableCopyRunner, "The copy browsers can play could not be made"),
])
def test_a_render_error_is_tried_again_and_names_the_work(runner, words):
    failure = runner.failure(runner.__new__(runner), render.RenderError("the encoder stopped"))
    assert failure.retry is True
    assert failure.reason == f"{words}: the encoder stopped"


@pytest.mark.parametrize("runner", [ExportRunner, PlayableCopyRunner])
def test_a_full_disk_is_final(runner):
    failure = runner.failure(runner.__new__(runner), render.DiskFull("The disk is full."))
    assert failure.retry is False
    assert failure.reason == "The disk is full."


def test_an_unknown_error_is_left_to_the_runner():
    assert ExportRunner.failure(ExportRunner.__new__(ExportRunner), KeyError("x")) is None
