"""The bundled model's hand-checked news gold as evaluation files: ``lee.jsonl`` and ``lee.conll``.

``tools/build_model/gold/lee_cor_gold.json`` holds hand-checked entity spans (PER, ORG, LOC, MISC,
DATE) for the 50 held-out stories of ``lee.cor`` that the bundled model was tested on. The spans
are ours; the stories are ABC news stories, redistributed in gensim's test data, and are not ours
to ship (``tests/fixtures/eval/README.md``). This tool joins the two on your machine: it takes
``lee.cor`` from the gensim 4.4.0 wheel on PyPI (27 MB, downloaded once with ``pip download``
into a cache; nothing is installed) or from ``--lee-cor``, checks its SHA-256 and every gold
span's surface string against the text, and writes

- ``lee.jsonl``: ``{"text", "entities": [{start, end, label}]}`` per story, as ``ner-tui predict
  -o jsonl`` writes;
- ``lee.conll``: the same stories as CoNLL-2003 (``token POS chunk tag``, IOB2, ``-DOCSTART-``,
  one story per sentence block), tokens split at words, punctuation and every span edge, so
  both files hold exactly the same entities.

Usage: ``python tools/lee_gold.py OUTDIR [--lee-cor PATH] [--cache DIR]`` (or ``--fetch``: only
fetch ``lee.cor`` and print its path, as ``.ci/run`` does), then
``ner-tui eval OUTDIR/lee.jsonl --local``. The tests (``tests/test_eval_lee.py``) do the same.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLD = ROOT / "tools" / "build_model" / "gold" / "lee_cor_gold.json"
WHEEL = "gensim==4.4.0"
MEMBER = "gensim/test/test_data/lee.cor"
SHA256 = "a878f9a58f6743c32985c56c2f2f75988386216b38a4023a01fd3bcf7884d93e"
_TOKEN = re.compile(r"\w+|[^\w\s]")


class LeeError(Exception):
    """lee.cor could not be had, or it is not the file the gold was checked against."""


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ner-tui"


def check(data: bytes, where: str) -> bytes:
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        raise LeeError(f"{where}: SHA-256 {digest}, not the lee.cor the gold was checked on")
    return data


def fetch_lee_cor(cache: Path | None = None, *, timeout: float = 300.0) -> Path:
    """``lee.cor``, from the cache, else out of the gensim wheel fetched by ``pip download``."""
    cache = cache or default_cache()
    target = cache / "lee.cor"
    if target.exists():
        check(target.read_bytes(), str(target))
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        argv = [sys.executable, "-m", "pip", "download", "-q", "--no-deps"]
        argv += ["--only-binary=:all:", "-d", tmp, WHEEL]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise LeeError(f"pip download {WHEEL} took over {timeout:.0f} s") from e
        wheels = sorted(Path(tmp).glob("gensim-*.whl"))
        if done.returncode != 0 or not wheels:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise LeeError(f"pip download {WHEEL} failed: {' / '.join(tail) or 'no wheel'}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            data = check(wheel.read(MEMBER), f"{wheels[0].name}:{MEMBER}")
        partial = target.with_suffix(".part")
        partial.write_bytes(data)
        partial.replace(target)
    return target


Story = tuple[str, list[tuple[int, int, str]]]  # text, gold (start, end, label) spans


def lee_stories(lee_cor: Path, gold_file: Path = GOLD) -> list[Story]:
    """Each gold story's text and its gold ``(start, end, label)`` spans, in gold order."""
    check(lee_cor.read_bytes(), str(lee_cor))
    sys.path.insert(0, str(ROOT / "tools" / "build_model"))
    try:
        import corpus  # tools/build_model/corpus.py: the texts the gold's offsets refer to
    finally:
        sys.path.pop(0)
    texts = {d.doc_id: d.text for d in corpus.lee_documents("lee.cor", lee_cor)}
    stories = []
    for record in json.loads(gold_file.read_text()):
        text = texts[record["doc"]]
        spans = []
        for start, end, label, surface in record["spans"]:
            if text[start:end] != surface:
                raise LeeError(f"{record['doc']}: {text[start:end]!r} at {start}, gold {surface!r}")
            spans.append((start, end, label))
        stories.append((text, spans))
    return stories


def tokens(text: str, spans: list[tuple[int, int, str]]) -> list[tuple[int, int]]:
    """Words and punctuation marks, also split at every span edge (no span cuts a token)."""
    edges = {e for s, t, _ in spans for e in (s, t)}
    out = []
    for m in _TOKEN.finditer(text):
        start = m.start()
        for cut in sorted(e for e in edges if m.start() < e < m.end()):
            out.append((start, cut))
            start = cut
        out.append((start, m.end()))
    return out


def conll_lines(text: str, spans: list[tuple[int, int, str]]) -> list[str]:
    lines = []
    for start, end in tokens(text, spans):
        tag = "O"
        for s, e, label in spans:
            if s <= start and end <= e:
                tag = ("B-" if start == s else "I-") + label
                break
        lines.append(f"{text[start:end]} _ _ {tag}")
    return lines


def write(outdir: Path, stories: list[Story]) -> tuple[Path, Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    jsonl, conll = outdir / "lee.jsonl", outdir / "lee.conll"
    with jsonl.open("w", encoding="utf-8") as f:
        for text, spans in stories:
            entities = [{"start": s, "end": e, "label": label} for s, e, label in spans]
            f.write(json.dumps({"text": text, "entities": entities}, ensure_ascii=False) + "\n")
    blocks = ["-DOCSTART- -X- -X- O"]
    blocks += ["\n".join(conll_lines(text, spans)) for text, spans in stories]
    conll.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    return jsonl, conll


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("outdir", type=Path, nargs="?")
    parser.add_argument("--lee-cor", type=Path, help="lee.cor itself (default: from the wheel)")
    parser.add_argument(
        "--cache", type=Path, help=f"where the wheel's lee.cor is kept ({default_cache()})"
    )
    parser.add_argument(
        "--fetch", action="store_true", help="only fetch lee.cor (no OUTDIR) and print its path"
    )
    args = parser.parse_args(argv)
    if args.outdir is None and not args.fetch:
        parser.error("give OUTDIR, or --fetch")
    try:
        lee_cor = args.lee_cor or fetch_lee_cor(args.cache)
        if args.fetch:
            print(lee_cor)
            return 0
        jsonl, conll = write(args.outdir, lee_stories(lee_cor))
    except (LeeError, OSError) as e:
        print(f"lee_gold: {e}", file=sys.stderr)
        return 1
    print(f"{jsonl}\n{conll}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
