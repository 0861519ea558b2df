"""Sample texts for a first look (and for the screenshots)."""

from __future__ import annotations

SAMPLES: dict[str, str] = {
    "News": (
        "Barack Obama met Angela Merkel in Berlin on Tuesday to discuss NATO's plans, "
        "before flying to Paris where Emmanuel Macron hosted a dinner at the Élysée Palace. "
        "Apple and Microsoft shares rose in New York after the European Central Bank held rates."
    ),
    "Sports": (
        "Lionel Messi scored twice as Inter Miami beat the Los Angeles Galaxy 3-1 at "
        "Chase Stadium in Fort Lauderdale, Florida. Coach Gerardo Martino praised Sergio Busquets."
    ),
    "Tricky text": (
        "[bold]Obama[/bold] met [link=x]Lee[/] in Seoul.\t"
        "\x1b[31mTim Cook\x1b[0m of Apple flew to 東京 with 👩‍🔬 Marie Curie's notes; "
        "a literal [SEP] and <mask> stay text."
    ),
    "Science": (
        "Marie Curie and Pierre Curie worked at the University of Paris. In 1903 the Royal "
        "Swedish Academy of Sciences awarded them the Nobel Prize in Physics, shared with "
        "Henri Becquerel."
    ),
}


def long_document(paragraphs: int = 60) -> str:
    """A long article made of the samples, for chunking demos and benchmarks."""
    texts = [SAMPLES["News"], SAMPLES["Sports"], SAMPLES["Science"]]
    return "\n\n".join(texts[i % len(texts)] for i in range(paragraphs))
