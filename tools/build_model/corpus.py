"""Real English text from the gensim wheel's test data, as whole documents.

Sources (all inside ``gensim/test/test_data``):
- ``lee_background.cor`` / ``lee.cor``: short ABC (Australian) news stories, one per line (Lee et
  al. 2005 corpus).
- ``mini_newsgroup``: 200 posts from the 20 Newsgroups data set (pickled sklearn Bunch;
  headers/quotes stripped here).
- ``enwiki-latest-pages-articles1...-shortened.bz2``: a shortened English Wikipedia XML dump (markup
  stripped with gensim's ``filter_wiki``; the lead and first paragraphs of each article are kept).
"""

from __future__ import annotations

import bz2
import io
import pickle
import re
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


def lee_documents(name: str) -> list[Document]:
    path = test_data_dir() / name
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


def all_documents(wiki_chars: int = 3000) -> list[Document]:
    return (
        lee_documents("lee_background.cor")
        + lee_documents("lee.cor")
        + newsgroup_documents()
        + wiki_documents(wiki_chars)
    )
