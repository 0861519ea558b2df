"""Build the labelled data set: real documents split by whole document, teacher spans per chunk,
synthetic gold."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import corpus
import encode
import synthetic
import teacher

SYNTH_TRAIN, SYNTH_DEV, SYNTH_TEST = 2500, 200, 600


def split_of(doc: corpus.Document, seed: int) -> str:
    """Whole documents go to one split. lee.cor (50 ABC news stories) is always test: the
    hand-checked set."""
    if doc.doc_id.startswith("lee.cor:"):
        return "test"
    bucket = int(hashlib.sha1(f"{seed}:{doc.doc_id}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if bucket < 0.10 else "dev" if bucket < 0.18 else "train"


def build(
    work: Path,
    seed: int,
    tokenizer: Any,
    max_tokens: int,
    log: Any,
    wiki_chars: int = 3000,
    sotu_since: int | None = None,
) -> list[dict[str, Any]]:
    """Records: {id, source, split, text, spans: {teacher_or_gold: [[start, end, type], ...]}};
    cached in work."""
    wiki = "" if wiki_chars == 3000 else f"-wiki{wiki_chars}"
    sotu = "" if sotu_since is None else f"-sotu{sotu_since}"
    cache = work / f"data-v3-seed{seed}-len{max_tokens}{wiki}{sotu}.json"
    if cache.exists():
        log(f"data: reusing {cache}")
        return json.loads(cache.read_text())
    t0 = time.time()
    docs = corpus.all_documents(work, wiki_chars, sotu_since)
    log(f"data: {len(docs)} documents, {sum(len(d.text) for d in docs)} characters")
    texts = [d.text for d in docs]
    md = teacher.annotate(teacher.load_teacher("md"), texts, with_sentences=True)
    log(f"data: en_core_web_md done ({time.time() - t0:.0f}s)")
    sm = teacher.annotate(teacher.load_teacher("sm"), texts)
    log(f"data: en_core_web_sm done ({time.time() - t0:.0f}s)")
    records: list[dict[str, Any]] = []
    for doc, md_doc, sm_doc in zip(docs, md, sm, strict=False):
        split = split_of(doc, seed)
        chunks = encode.chunk_document(tokenizer, doc.text, md_doc["sentences"], max_tokens)
        for n, (start, end) in enumerate(chunks):
            text = doc.text[start:end]
            if len(text.strip()) < 3:
                continue
            records.append(
                {
                    "id": f"{doc.doc_id}#{n}",
                    "doc": doc.doc_id,
                    "start": start,
                    "source": doc.source,
                    "split": split,
                    "text": text,
                    "spans": {
                        "md": encode.clip_spans(md_doc["spans"], start, end),
                        "sm": encode.clip_spans(sm_doc["spans"], start, end),
                    },
                }
            )
    for split, count, held_out, offset in (
        ("train", SYNTH_TRAIN, False, 0),
        ("dev", SYNTH_DEV, False, 1000),
        ("test", SYNTH_TEST, True, 0),
    ):
        for n, sent in enumerate(synthetic.generate(count, seed + offset, held_out)):
            records.append(
                {
                    "id": f"synthetic-{split}:{n}",
                    "source": "synthetic",
                    "split": split,
                    "text": sent.text,
                    "spans": {"gold": sent.spans},
                }
            )
    # The teachers also label the synthetic sentences (for the teacher-vs-student comparison
    # on synthetic gold).
    synth = [r for r in records if r["source"] == "synthetic" and r["split"] != "train"]
    for name in ("md", "sm"):
        for record, ann in zip(
            synth,
            teacher.annotate(teacher.load_teacher(name), [r["text"] for r in synth]),
            strict=False,
        ):
            record["spans"][name] = ann["spans"]
    cache.write_text(json.dumps(records))
    log(f"data: {len(records)} records written to {cache} ({time.time() - t0:.0f}s)")
    return records
