"""The tiny track's corpus: short English-like stories from a seeded grammar, made by lmspec itself.

A track's data must be the same bytes on every machine, with nothing to download: `random.Random(seed)`
draws the same numbers on every CPython 3 (its generator and `choice`/`randint` are specified), and the
stories use only what this module holds. They are learnable at several ranges: word order and agreement
("one boat", "three boats") within a sentence, a topic's vocabulary and a character's name across a story,
so a better-trained model scores measurably fewer bits per byte on held-out stories. Every story is
distinct (a repeat is skipped), so the held-out split never shares a document with the training split.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

NAMES = ("Ada", "Bruno", "Clara", "Dev", "Elena", "Farid", "Greta", "Hugo", "Iris", "Jonas", "Kira", "Leo")
NUMBERS = ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
ADVERBS = ("slowly", "quickly", "quietly", "carefully", "happily", "early", "late", "again")
TIMES = ("In the morning", "At noon", "In the evening", "Later that day", "The next day", "Before dawn")
MOODS = ("glad", "tired", "curious", "proud", "worried", "calm")

TOPICS: dict[str, dict[str, tuple[str, ...]]] = {
    "farm": {
        "places": ("barn", "field", "orchard", "meadow", "pond"),
        "things": ("cow", "goat", "apple", "tractor", "fence", "hen"),
        "verbs": ("fed", "counted", "painted", "fixed", "watched", "carried"),
        "adjectives": ("muddy", "green", "old", "red", "quiet"),
    },
    "sea": {
        "places": ("harbour", "beach", "lighthouse", "dock", "cliff"),
        "things": ("boat", "net", "shell", "sail", "crab", "rope"),
        "verbs": ("pulled", "mended", "found", "washed", "tied", "watched"),
        "adjectives": ("salty", "blue", "wet", "small", "bright"),
    },
    "city": {
        "places": ("station", "market", "library", "bridge", "square"),
        "things": ("bus", "ticket", "lamp", "map", "bicycle", "book"),
        "verbs": ("bought", "read", "missed", "followed", "lent", "found"),
        "adjectives": ("busy", "tall", "noisy", "new", "grey"),
    },
    "forest": {
        "places": ("clearing", "river", "hill", "cabin", "path"),
        "things": ("fox", "owl", "mushroom", "branch", "stone", "deer"),
        "verbs": ("followed", "gathered", "heard", "climbed", "saw", "picked"),
        "adjectives": ("dark", "tall", "mossy", "wild", "silent"),
    },
    "kitchen": {
        "places": ("table", "oven", "garden", "pantry", "window"),
        "things": ("bread", "soup", "pot", "onion", "cake", "spoon"),
        "verbs": ("baked", "stirred", "cut", "tasted", "washed", "served"),
        "adjectives": ("warm", "sweet", "fresh", "hot", "golden"),
    },
    "school": {
        "places": ("classroom", "hall", "playground", "garden", "office"),
        "things": ("pencil", "letter", "drawing", "lesson", "chair", "poem"),
        "verbs": ("wrote", "drew", "copied", "explained", "lost", "found"),
        "adjectives": ("long", "neat", "short", "funny", "careful"),
    },
}


def plural(noun: str) -> str:
    """English plurals of the nouns above (`fox` -> `foxes`, `branch` -> `branches`)."""
    return noun + "es" if noun.endswith(("x", "ch", "sh", "s")) else noun + "s"


class _Story:
    """One story's fixed choices: a hero, a friend, a topic; sentences are drawn around them."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.hero, self.friend = rng.sample(NAMES, 2)
        self.topic = rng.choice(sorted(TOPICS))
        self.words = TOPICS[self.topic]

    def pick(self, kind: str) -> str:
        return self.rng.choice(self.words[kind])

    def count(self) -> str:
        if self.rng.random() < 0.3:
            return f"one {self.pick('things')}"
        return f"{self.rng.choice(NUMBERS)} {plural(self.pick('things'))}"

    def there(self) -> str:
        """ "was one boat" or "were three boats": the verb agrees with the count."""
        counted = self.count()
        return ("was " if counted.startswith("one ") else "were ") + counted

    def sentence(self) -> str:
        """One sentence from a handful of templates, each sharing the story's names and topic."""
        rng, who = self.rng, self.rng.choice((self.hero, self.hero, self.friend))
        templates = (
            lambda: (
                f"{who} {self.pick('verbs')} the {self.pick('adjectives')} {self.pick('things')} near the "
                f"{self.pick('places')}."
            ),
            lambda: f"There {self.there()} by the {self.pick('places')}.",
            lambda: f"{rng.choice(TIMES)}, {who} went to the {self.pick('places')} {rng.choice(ADVERBS)}.",
            lambda: (
                f'"Look at the {self.pick("things")}," said {who}, and {self.friend if who == self.hero else self.hero}'
                f" laughed."
            ),
            lambda: f"{who} was {rng.choice(MOODS)} because the {self.pick('things')} was {self.pick('adjectives')}.",
            lambda: f"When the {self.pick('things')} was gone, {who} {self.pick('verbs')} {self.count()}.",
        )
        return rng.choice(templates)()

    def text(self) -> str:
        opening = f"{self.hero} and {self.friend} spent the day at the {self.pick('places')}."
        body = [self.sentence() for _ in range(self.rng.randint(5, 14))]
        return " ".join([opening, *body, f"At the end of the day, {self.hero} went home."])


def stories(seed: int, count: int) -> list[str]:
    """`count` distinct stories, the same for the same seed on every machine."""
    rng = random.Random(seed)
    found: dict[str, None] = {}
    while len(found) < count:
        found.setdefault(_Story(rng).text(), None)
    return list(found)


def write_corpus(path: Path, seed: int, count: int) -> None:
    """The stories as JSONL (`{"id", "text"}`), byte-for-byte the same for the same seed and count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = (
        json.dumps({"id": f"story-{i:05d}", "text": t}, ensure_ascii=True) for i, t in enumerate(stories(seed, count))
    )
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
