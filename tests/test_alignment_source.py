"""One rule for "is this a hub id or a local path?" (``looks_like_hub_id``), and the loader
following it. ``predict``'s tokenizer choice uses the same rule (tests/test_predict.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ner_tui.core.errors import ModelLoadError
from ner_tui.core.hub import looks_like_hub_id
from ner_tui.core.model_info import load_model_info


@pytest.mark.parametrize(
    "name",
    ["boltuix/NeuroBERT-NER", "dslim/bert-base-NER", "bert-base-cased", "gpt2", "a_b/c.d-e"],
)
def test_hub_shaped_names_that_are_not_here_are_hub_ids(name: str) -> None:
    assert looks_like_hub_id(name)


@pytest.mark.parametrize(
    "name",
    [
        "./model",
        "../model",
        ".",
        "..",
        "~",
        "~/m",
        "/srv/models/ner",
        "a/b/c",  # the hub has no third level
        "org/name/",  # a trailing slash is a directory
        "C:\\x",
        "C:/models/ner",
        "org\\name",
        "my model",
        "",
        "org/-name",  # hub names start and end with a letter, digit or _
        "org/name.",
        "foo--bar",
        "foo..bar",
        "org/name.git",
        "ü/name",  # hub ids are ASCII
    ],
)
def test_anything_else_is_a_path(name: str) -> None:
    assert not looks_like_hub_id(name)


def test_a_path_object_is_never_a_hub_id() -> None:
    assert not looks_like_hub_id(Path("org/name"))


def test_what_exists_here_is_a_path_whatever_its_shape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert looks_like_hub_id("org/name")
    (tmp_path / "org" / "name").mkdir(parents=True)
    (tmp_path / "gpt2").write_text("a file, still not the hub's gpt2")
    assert not looks_like_hub_id("org/name")
    assert not looks_like_hub_id("gpt2")


@pytest.mark.parametrize(
    "name", ["C:\\models\\ner", "org/name/", "./missing", "my model", "org/-x"]
)
def test_loader_says_a_missing_path_is_missing(name: str) -> None:
    # The last two used to reach transformers as hub ids and fail with its repo-id validation
    # message; a name that is not a hub id and not here is a missing directory.
    with pytest.raises(ModelLoadError, match="does not exist") as info:
        load_model_info(name)
    assert "a local path" in str(info.value)
