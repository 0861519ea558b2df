"""Templated sentences with exact (gold) labels, for patterns that real text and teachers rarely
get right.

Values come from Faker (names, companies, cities in several locales) and from small curated lists of
well-known entities and abbreviations ("U.K.", "U.S.", "U.N."). Templates and curated values are
split in two halves by position: the train half feeds training, the held-out half only the
evaluation, so the synthetic test measures whether the student generalises to sentence shapes and
names it never saw.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from teacher import Span


@dataclass(frozen=True)
class GoldSentence:
    text: str
    spans: list[Span]


CURATED: dict[str, list[str]] = {
    "PER": [
        "Barack Obama",
        "Angela Merkel",
        "Emmanuel Macron",
        "Boris Johnson",
        "Xi Jinping",
        "Vladimir Putin",
        "Joe Biden",
        "Theresa May",
        "Justin Trudeau",
        "Narendra Modi",
        "Elon Musk",
        "Bill Gates",
        "Tim Cook",
        "Warren Buffett",
        "Jacinda Ardern",
        "Nelson Mandela",
        "John Howard",
        "Kofi Annan",
        "Tony Blair",
        "George W. Bush",
        "Hillary Clinton",
        "Mark Zuckerberg",
        "Serena Williams",
        "Roger Federer",
        "Lionel Messi",
        "Taylor Swift",
        "Shinzo Abe",
        "Olaf Scholz",
        "Ban Ki-moon",
        "Yasser Arafat",
        "Ariel Sharon",
        "Jeff Bezos",
        "Satya Nadella",
        "Sundar Pichai",
        "Kamala Harris",
        "Rishi Sunak",
    ],
    "ORG": [
        "Microsoft",
        "Apple",
        "Google",
        "Amazon",
        "IBM",
        "Reuters",
        "the United Nations|United Nations",
        "NATO",
        "the European Union|European Union",
        "the World Bank|World Bank",
        "Toyota",
        "Siemens",
        "Goldman Sachs",
        "the BBC|BBC",
        "Qantas",
        "the U.N.|U.N.",
        "Intel",
        "Samsung",
        "Nokia",
        "FIFA",
        "the Red Cross|Red Cross",
        "Harvard University",
        "the Federal Reserve|Federal Reserve",
        "Volkswagen",
        "the IMF|IMF",
        "Pfizer",
        "Boeing",
        "Airbus",
        "Oxford University",
        "the Labor Party|Labor Party",
        "the Taliban|Taliban",
        "Hamas",
        "Netflix",
        "Nvidia",
        "OpenAI",
        "the Senate|Senate",
        "Interpol",
        "the European Commission|European Commission",
        "Alcatel",
        "Telstra",
        "General Motors",
        "Unilever",
    ],
    "LOC": [
        "Seattle",
        "London",
        "Paris",
        "Tokyo",
        "Berlin",
        "Sydney",
        "New York",
        "the U.K.|U.K.",
        "the U.S.|U.S.",
        "Germany",
        "France",
        "China",
        "Australia",
        "Canada",
        "Brazil",
        "India",
        "Japan",
        "Kenya",
        "Egypt",
        "California",
        "Texas",
        "Bavaria",
        "Melbourne",
        "Afghanistan",
        "Pakistan",
        "the Middle East|Middle East",
        "Europe",
        "Asia",
        "Africa",
        "Mount Everest",
        "the Pacific|Pacific",
        "Washington",
        "Moscow",
        "Beijing",
        "Jerusalem",
        "Kabul",
        "Geneva",
        "San Francisco",
        "Hong Kong",
        "South Africa",
        "New Zealand",
        "Silicon Valley",
        "the Gaza Strip|Gaza Strip",
        "the United States|United States",
        "Britain",
        "Canberra",
        "U.K.",
        "U.S.",
        "the West Bank|West Bank",
        "Singapore",
        "Mexico City",
        "Lagos",
        "Istanbul",
        "Dublin",
    ],
    "NAT": [
        "American",
        "British",
        "German",
        "French",
        "Chinese",
        "Australian",
        "Japanese",
        "Israeli",
        "Palestinian",
        "European",
        "Russian",
        "Indian",
        "Italian",
        "Canadian",
        "Iraqi",
        "Afghan",
        "Dutch",
        "Swiss",
        "Korean",
        "Irish",
        "Brazilian",
        "Kenyan",
        "Turkish",
        "Polish",
        "Mexican",
        "Swedish",
    ],
    "EVENT": [
        "Olympics",
        "World Cup",
        "Wimbledon",
        "Super Bowl",
        "Nobel Prize",
        "Australian Open",
        "Tour de France",
        "US Open",
        "Champions League",
        "French Open",
        "Davis Cup",
        "Grammy",
        "Ashes",
        "Commonwealth Games",
    ],
}

_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_RELATIVE_DATES = [
    "last week",
    "last year",
    "next month",
    "this week",
    "yesterday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "the 1990s",
    "next year",
    "this year",
    "last month",
    "Sunday",
    "today",
    "the weekend",
    "two years ago",
]

# Slots: {PER} {ORG} {LOC} {DATE}; {ORG_LONG} is a non-curated organisation; {NAT} / {EVENT} are
# MISC. Plain text around them is O.
TEMPLATES = [
    "{PER} visited {ORG} headquarters in {LOC} on {DATE}.",
    "{ORG} is looking at buying {LOC} startup for $1 billion.",
    "{PER}, the chief executive of {ORG}, said on {DATE} that sales in {LOC} had fallen.",
    "The {NAT} government said {DATE} it would send troops to {LOC}.",
    "{PER} told reporters in {LOC} that {ORG_LONG} would not comment.",
    "Shares of {ORG} rose 3 percent on {DATE} after the company beat forecasts.",
    "{LOC} and {LOC} signed a trade agreement in {DATE}.",
    "A spokesman for {ORG_LONG} said {PER} had resigned.",
    "{PER} was born in {LOC} in {DATE} and moved to {LOC} as a child.",
    "Police in {LOC} arrested {PER} on {DATE}.",
    "{ORG} and {ORG} announced a merger worth $4 billion {DATE}.",
    "The {NAT} prime minister, {PER}, will meet {PER} in {LOC} next week.",
    "{PER} joined {ORG_LONG} in {DATE} as head of research.",
    "Officials from {ORG} flew to {LOC} to meet {NAT} leaders.",
    "{ORG} said its profit for {DATE} more than doubled.",
    "In {DATE}, {PER} became the first {NAT} woman to lead {ORG_LONG}.",
    "{PER} and {PER} met in {LOC} to discuss the crisis.",
    "Talks between {ORG} and the {NAT} delegation ended in {LOC} on {DATE}.",
    "{PER} of {ORG} said prices in {LOC} were rising.",
    "The company, based in {LOC}, was founded by {PER} in {DATE}.",
    "{LOC} will host the summit on {DATE}, {ORG_LONG} said.",
    "Thousands of people marched through {LOC} on {DATE} to protest against {ORG}.",
    "{PER} said the {NAT} economy grew faster than expected in {DATE}.",
    "The deal gives {ORG} access to customers across {LOC}.",
    "Speaking in {LOC}, {PER} praised the work of {ORG_LONG}.",
    "{ORG} sued {ORG} in a {LOC} court on {DATE}.",
    "Flights from {LOC} to {LOC} were cancelled {DATE}.",
    "{PER}, a lawyer for {PER}, said the case would go to the {LOC} Supreme Court.",
    "{PER} won the {EVENT} title in {LOC} on {DATE}.",
    "An earthquake struck near {LOC} on {DATE}, the {ORG_LONG} reported.",
    "{ORG} will open a new office in {LOC} in {DATE}.",
    "{NAT} troops left {LOC} on {DATE}, said {PER}.",
    "{PER} has been appointed ambassador to {LOC}.",
    "The report by {ORG_LONG} was published on {DATE}.",
    "{PER} thanked voters in {LOC} after the election on {DATE}.",
    "According to {ORG}, exports from {LOC} fell sharply {DATE}.",
    "{PER} said {ORG} had no plans to leave {LOC}.",
    "The {NAT} minister arrived in {LOC} {DATE} for talks with {PER}.",
    "{ORG} hired {PER} to run its {LOC} business.",
    "{PER} will step down as chairman of {ORG} in {DATE}.",
    "Researchers at {ORG_LONG} in {LOC} published the study on {DATE}.",
    "{LOC} beat {LOC} 2-1 in the {EVENT} final.",
    '{PER} said: "We are proud of what {ORG} has achieved in {LOC}."',
    "Under the plan, {ORG} would cut 2,000 jobs in {LOC} by {DATE}.",
    "{PER} met {NAT} officials in {LOC} on {DATE} to discuss security.",
    "{ORG_LONG} warned on {DATE} that the conflict in {LOC} could spread.",
    "The {ORG} board approved the sale of its stake in {ORG} on {DATE}.",
    "{PER} arrived in {LOC} from {LOC} late on {DATE}.",
    "The {NAT}-born singer {PER} performed in {LOC} {DATE}.",
    "Investors in {LOC} sold {ORG} shares after {PER} left the company.",
    "{ORG} confirmed {DATE} that {PER} would lead its operations in {LOC}.",
    "{PER} is expected to visit {LOC} and {LOC} before {DATE}.",
    "The exhibition at {ORG_LONG} runs until {DATE}.",
    "{PER} lost to {PER} in straight sets at {EVENT}.",
    "{ORG} said in a statement that it had reached a deal with {ORG}.",
    "Rain delayed the start of the match in {LOC} on {DATE}.",
]

_ORG_PATTERNS = [
    "{last} Bank",
    "University of {city}",
    "{city} City Council",
    "{last} Holdings",
    "{country} Football Association",
    "{last} & {last2}",
    "{city} Police Department",
    "Bank of {country}",
    "{last} Group",
    "{country} Airlines",
    "{last} Foundation",
    "{city} Chamber of Commerce",
    "Ministry of Defence",
    "{last} Institute of Technology",
    "{country} Red Cross",
    "{last} Motors",
    "{city} General Hospital",
    "{last} Capital",
]


class _Values:
    """Draws slot values; ``held_out`` selects the disjoint half of the curated lists."""

    def __init__(self, rng: random.Random, seed: int, held_out: bool) -> None:
        from faker import Faker

        self.rng = rng
        self.held_out = held_out
        self.fakers = []
        for i, locale in enumerate(
            ["en_US", "en_GB", "en_AU", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL"]
        ):
            f = Faker(locale)
            f.seed_instance(seed * 100 + i + (50 if held_out else 0))
            self.fakers.append(f)
        self.en = self.fakers[0]

    def _curated(self, kind: str) -> str:
        items = CURATED[kind]
        half = items[1::2] if self.held_out else items[0::2]
        return self.rng.choice(half)

    def _faker(self) -> object:
        return self.rng.choice(self.fakers)

    def value(self, slot: str, before: str = "") -> str:
        """A value, possibly "the X|X" meaning the text is "the X" and the entity is "X"."""
        r = self.rng.random()
        f = self._faker()
        if slot == "PER":
            if r < 0.35:
                return self._curated("PER")
            name = f.name()  # type: ignore[attr-defined]
            name = re.sub(
                r"^((Dr|Mr|Mrs|Ms|Miss|Mx|Prof|Dott|Sig|Sr|Sra|Ing|Dipl|Sig\.ra)\.?"
                r"|Herr|Frau|Mme|M\.) ",
                "",
                name,
            )
            name = re.sub(
                r",? (Jr\.|MD|PhD|DDS|DVM|II|III|IV|B\.Sc\.|MBA|MSc|BSc|Mag\.|Dr\.)$", "", name
            )
            if r < 0.45:
                return name.split()[-1]  # surname alone, as news text repeats people
            return name
        if slot in ("ORG", "ORG_LONG"):
            if slot == "ORG" and r < 0.45:
                return self._curated("ORG")
            if r < 0.75:
                company = f.company()  # type: ignore[attr-defined]
                return company
            pattern = self.rng.choice(_ORG_PATTERNS)
            return pattern.format(
                last=self.en.last_name(),
                last2=self.en.last_name(),
                city=self.en.city(),
                country=self.rng.choice(
                    [
                        "Germany",
                        "Japan",
                        "Kenya",
                        "Norway",
                        "Chile",
                        "Canada",
                        "Spain",
                        "India",
                        "Mexico",
                        "Poland",
                        "Turkey",
                        "Vietnam",
                    ]
                ),
            )
        if slot == "LOC":
            if r < 0.5:
                return self._curated("LOC")
            if r < 0.8:
                return f.city()  # type: ignore[attr-defined]
            return self.en.country()
        if slot in ("NAT", "EVENT"):
            return self._curated(slot)
        if slot == "DATE":
            year = self.rng.randint(1950, 2030)
            month = self.rng.choice(_MONTHS)
            day = self.rng.randint(1, 28)
            if before.endswith(("on ", "On ")):
                forms = [
                    f"{day} {month} {year}",
                    f"{month} {day}, {year}",
                    f"{month} {day}",
                    f"{day} {month}",
                    self.rng.choice(
                        ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Sunday"]
                    ),
                ]
            elif before.endswith(("in ", "In ", "by ", "until ", "before ")):
                forms = [f"{month} {year}", str(year), str(year), month, f"the {year // 10 * 10}s"]
            else:
                forms = [
                    self.rng.choice(_RELATIVE_DATES),
                    f"on {month} {day}|{month} {day}",
                    f"in {month} {year}|{month} {year}",
                    f"on {day} {month} {year}|{day} {month} {year}",
                ]
            return self.rng.choice(forms)
        raise ValueError(slot)


def _fill(template: str, values: _Values) -> GoldSentence:
    text = ""
    spans: list[Span] = []
    pos = 0
    for match in re.finditer(r"\{([A-Z_]+)\}", template):
        text += template[pos : match.start()]
        slot = match.group(1)
        value = values.value(slot, text)
        kind = {"ORG_LONG": "ORG", "NAT": "MISC", "EVENT": "MISC"}.get(slot, slot)
        if "|" in value:
            surface, entity = value.split("|", 1)
            # "The {NAT}" etc.: avoid "the the X"; the template's own "the" stays
            # outside the entity.
            if text.endswith(
                ("the ", "The ", " a ", " an ", " its ")
            ) and surface.lower().startswith("the "):
                surface = entity
        else:
            surface = entity = value
        if text == "" or text.endswith(". "):
            surface = surface[0].upper() + surface[1:]
        offset = surface.rfind(entity) if entity != surface else 0
        start = len(text) + offset
        spans.append((start, start + len(entity), kind))
        text += surface
        pos = match.end()
    text += template[pos:]
    return GoldSentence(text, spans)


def generate(count: int, seed: int, held_out: bool) -> list[GoldSentence]:
    """``count`` sentences from the train (or held-out) half of the templates and curated values."""
    rng = random.Random(seed * 7 + (1 if held_out else 0))
    values = _Values(rng, seed, held_out)
    templates = TEMPLATES[1::4] if held_out else [t for i, t in enumerate(TEMPLATES) if i % 4 != 1]
    out = []
    for i in range(count):
        template = templates[i % len(templates)] if i < len(templates) else rng.choice(templates)
        out.append(_fill(template, values))
    return out
