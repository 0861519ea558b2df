"""The HTML export: hostile text stays text, and the marked spans are the prediction's, exactly.

Pages are read back with the standard library's HTML parser. The round trip they must pass: each
``<span class="ctl" title="U+XXXX">`` stands for the one character it names, every other piece
of text for itself, so the page's text is the original text character for character, and each
``<mark>``'s text is ``text[data-start:data-end]``.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ner_tui.core import colours
from ner_tui.core.connect import connect
from ner_tui.core.decoding import decode
from ner_tui.core.export import DocumentWriter, format_for_path, render, write_export
from ner_tui.core.html import visible_html_plain
from ner_tui.core.settings import Settings
from ner_tui.core.types import Chunk, DecodeOptions, Entity, Prediction, ScoredText

FIXTURES = Path(__file__).parent / "fixtures"
ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "h1", "main", "section", "h2",
    "p", "ul", "li", "div", "mark", "span",
}  # fmt: skip
HOSTILE = [
    "[bold]Barack Obama[/bold] met [link=x]Angela Merkel[/] in [SEP] Berlin.",
    '<script>alert("x")</script> Tim Cook of Apple & <b>Microsoft</b> said "hi" in Paris.',
    "\x1b[31mEmmanuel Macron\x1b[0m visited\tLondon\x00 on\x07 Tuesday\r\nwith Apple.",
    "שלום Barack Obama מ-Jerusalem, مرحبا Angela Merkel في Berlin.",
    "\u202eAngela Merkel\u202c met \u2066Barack Obama\u2069 in\u2028Paris\u200b on 3 May.",
    "Marie Curie\x85worked\x9b in Paris\x7f with <img src=x onerror=alert(1)>.",
]


class Page(HTMLParser):
    """The tags of a page, its document texts and marks, rebuilt to original characters."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.docs: list[str] = []  # each document's text, originals restored
        self.marks: list[dict[str, Any]] = []
        self.style: list[str] = []
        self._in_text = 0  # depth inside <div class="text">
        self._ctl: str | None = None  # the character a ctl span stands for
        self._mark: dict[str, Any] | None = None
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        attr = dict(attrs)
        if tag == "style":
            self._in_style = True
        if self._in_text:
            self._in_text += 1
        elif tag == "div" and attr.get("class") == "text":
            self._in_text = 1
            self.docs.append("")
        if tag == "span" and attr.get("class") == "ctl":
            title = attr.get("title") or ""
            assert re.fullmatch(r"U\+[0-9A-F]{4,6}", title), title
            self._ctl = chr(int(title[2:], 16))
            self._append(self._ctl)
        if tag == "mark":
            self._mark = {**attr, "text": "", "div": len(self.docs) - 1}
            self.marks.append(self._mark)

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False
        if tag == "span":
            self._ctl = None
        if tag == "mark":
            self._mark = None
        if self._in_text:
            self._in_text -= 1

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style.append(data)
        elif self._ctl is None:
            self._append(data)

    def _append(self, data: str) -> None:
        if self._in_text:
            self.docs[-1] += data
            if self._mark is not None:
                self._mark["text"] += data


def parse(page: str) -> Page:
    parser = Page()
    parser.feed(page)
    parser.close()
    return parser


def check_page(page: str, predictions: list[Prediction]) -> Page:
    """Everything a page must hold for ``predictions``; returns the parsed page."""
    parsed = parse(page)
    assert set(parsed.tags) <= ALLOWED_TAGS, set(parsed.tags) - ALLOWED_TAGS
    assert "<script" not in page.lower() and "javascript:" not in page.lower()
    assert "http://" not in page and "https://" not in page and "url(" not in page
    assert not re.search(r"@import", page)
    # Nothing invisible or reordering reaches the page raw (newline and tab are layout).
    raw = re.findall(
        "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff"
        "\u2028\u2029\ud800-\udfff]",
        page,
    )
    assert raw == []
    page.encode("utf-8")  # writable as UTF-8
    assert parsed.docs == [p.text for p in predictions]
    expected = [
        (e.start, e.end, visible_html_plain(e.label), p.text[e.start : e.end])
        for p in predictions
        for e in sorted(p.entities, key=lambda e: e.start)
    ]
    got = [
        (int(m["data-start"]), int(m["data-end"]), m["data-label"], m["text"]) for m in parsed.marks
    ]
    assert got == expected
    return parsed


# --------------------------------------------------------------------------- real predictions


@pytest.fixture(scope="module")
def hostile_predictions() -> list[Prediction]:
    """The bundled model's predictions of the hostile texts (the local engine, as the app)."""

    async def run() -> list[Prediction]:
        conn = await connect(Settings(local=True), "local")
        try:
            return [decode(await conn.score(text), DecodeOptions()) for text in HOSTILE]
        finally:
            await conn.aclose()

    return asyncio.run(run())


def test_hostile_text_stays_text_and_every_mark_is_the_predictions_span(
    hostile_predictions: list[Prediction],
) -> None:
    assert sum(len(p.entities) for p in hostile_predictions) >= 10  # the model found names
    page = render(hostile_predictions, "html")
    parsed = check_page(page, hostile_predictions)
    assert len(parsed.docs) == len(HOSTILE)
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page or (
        "&lt;script&gt;alert(" in page
    )
    assert "[bold]" in page and "[SEP]" in page  # markup of other kinds is plain text too
    # Control characters shown as the app shows them, each naming its code point.
    assert '<span class="ctl" title="U+001B">␛</span>' in page
    assert '<span class="ctl" title="U+202E">‹RLO›</span>' in page
    assert '<span class="ctl" title="U+0009">→\t</span>' in page
    assert '<span class="ctl" title="U+2028">⏎\n</span>' in page
    # Right-to-left text is kept as written, in a direction-isolated block.
    assert "שלום" in parsed.docs[3] and "مرحبا" in parsed.docs[3]
    assert page.count('<div class="text" dir="auto">') == len(HOSTILE)
    assert "unicode-bidi: isolate" in "".join(parsed.style)


def test_each_type_has_the_apps_colours(hostile_predictions: list[Prediction]) -> None:
    page = render(hostile_predictions, "html")
    slots = colours.ColourSlots(colours.entity_types(hostile_predictions[0].scored.id2label))
    for mark in parse(page).marks:
        slot = slots.slot(mark["data-label"])
        assert mark["style"] == f"--hue: {colours.hue(slot)}; --chip: {colours.chip(slot)}"
    assert "prefers-color-scheme: dark" in page


def test_one_page_for_many_documents_and_the_file_formats(
    hostile_predictions: list[Prediction], tmp_path: Any
) -> None:
    page = render(hostile_predictions[:2], "html")
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>\n")
    assert page.count("<html") == 1 and page.count('<section class="doc"') == 2
    assert format_for_path("out.html") == "html" and format_for_path("OUT.HTM") == "html"
    path = write_export(tmp_path / "one.html", hostile_predictions[:1], "html")
    check_page(path.read_text(encoding="utf-8"), hostile_predictions[:1])


# --------------------------------------------------------------------------- built by hand


def make(text: str, spans: list[tuple[int, int, str]], model: str = "m") -> Prediction:
    labels = ("O", *sorted({f"B-{label}" for _, _, label in spans}))
    scored = ScoredText(
        text=text,
        token_ids=np.zeros(0, dtype=np.int64),
        token_strs=(),
        offsets=np.zeros((0, 2), dtype=np.int64),
        special=np.zeros(0, dtype=bool),
        word_ids=(),
        probs=np.zeros((0, len(labels)), dtype=np.float32),
        id2label=labels,
        chunk_of=np.zeros(0, dtype=np.int64),
        chunks=(Chunk(0, 0, 0, 0, len(text)),),
        model=model,
        source="test",
    )
    entities = tuple(Entity(label, a, b, text[a:b], 0.9, 0.8, 0, 0) for a, b, label in spans)
    return Prediction(scored, DecodeOptions(), "IOB2", (), entities)


def test_hostile_labels_model_names_and_line_fields_are_escaped() -> None:
    hostile = '"><img src=x onerror=alert(1)>'
    prediction = make("Barack Obama", [(0, 6, hostile), (7, 12, "B\x1b[0m")], model=hostile)
    out = io.StringIO()
    writer = DocumentWriter(out, "html", many=True)
    writer.write(prediction, {"line": hostile})
    writer.close()
    page = out.getvalue()
    parsed = check_page(page, [prediction])
    assert "<img" not in page
    assert [m["data-label"] for m in parsed.marks] == [hostile, "B␛[0m"]


def test_an_empty_page_and_an_empty_document() -> None:
    empty = render([], "html")
    assert "(no documents)" in empty and empty.endswith("</html>\n")
    check_page(render([make("", [])], "html"), [make("", [])])


TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",))
    | st.sampled_from(list("<>&\"'\t\n\r\x1b\x00\u202e\u2028\u200b\x85 ")),
    max_size=60,
)


def _spans(text: str, cuts: list[int], labels: list[str]) -> Iterator[tuple[int, int, str]]:
    points = sorted({c % (len(text) + 1) for c in cuts})
    for i, (a, b) in enumerate(zip(points[::2], points[1::2], strict=False)):
        if a < b:
            yield a, b, labels[i % len(labels)]


@settings(max_examples=150, deadline=None)
@given(
    text=TEXT,
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=8),
    labels=st.lists(st.sampled_from(["PER", "LOC", "<b>", "X&Y", "\u202eORG"]), min_size=1),
)
def test_any_text_and_spans_round_trip(text: str, cuts: list[int], labels: list[str]) -> None:
    prediction = make(text, list(_spans(text, cuts, labels)))
    check_page(render([prediction], "html"), [prediction])


def test_a_lone_surrogate_is_shown_not_written() -> None:
    prediction = make("a\ud800b", [])
    page = render([prediction], "html")
    page.encode("utf-8")
    assert '<span class="ctl" title="U+D800">�</span>' in page


# --------------------------------------------------------------------------- a corpus


def test_eval_writes_the_corpus_gold_over_predicted(tmp_path: Any, capsys: Any) -> None:
    from ner_tui.cli import main
    from ner_tui.core.corpus import open_corpus, read_corpus

    gold_path = FIXTURES / "eval" / "news.jsonl"
    out = tmp_path / "corpus.html"
    code = main(["eval", str(gold_path), "--local", "--html", str(out)])
    assert code == 0, capsys.readouterr().err
    page = out.read_text(encoding="utf-8")
    parsed = parse(page)
    assert set(parsed.tags) <= ALLOWED_TAGS
    with open_corpus(str(gold_path)) as corpus:
        docs = list(read_corpus(corpus, "auto"))
    # Two rows per document, gold then the model, each the whole text.
    assert parsed.docs == [t for d in docs for t in (d.text, d.text)]
    assert sum(len(d.gold or ()) for d in docs) > 0
    for i, doc in enumerate(docs):
        spans = sorted(doc.gold or (), key=lambda s: (s.start, s.end))
        gold = [m for m in parsed.marks if m["div"] == 2 * i]
        model = [m for m in parsed.marks if m["div"] == 2 * i + 1]
        assert [(int(m["data-start"]), int(m["data-end"]), m["data-label"]) for m in gold] == [
            (s.start, s.end, s.label) for s in spans
        ]
        for m in gold + model:
            assert m["text"] == doc.text[int(m["data-start"]) : int(m["data-end"])]
        # A span is outlined exactly when the other side lacks it.
        key = lambda m: (m["data-start"], m["data-end"], m["data-label"])  # noqa: E731
        both = {key(m) for m in gold} & {key(m) for m in model}
        for m in gold:
            assert m["class"] == ("ent" if key(m) in both else "ent missed")
        for m in model:
            assert m["class"] == ("ent" if key(m) in both else "ent wrong")
    outlined = [m for m in parsed.marks if m["class"] != "ent"]
    assert outlined  # the small model is not perfect on this corpus
    assert all(len(m["title"].split(" ")) > 1 for m in outlined)  # the error kind is told
    assert "micro precision" in page and "F1" in page
