"""How close does a question no document answers come to a collection? Measured after indexing.

Cosine similarities depend on the embedding model and on the corpus: on one handbook unrelated
questions top out at 0.80, on another at 0.86. A fixed RELEVANCE_THRESHOLD tuned on one corpus
therefore lets everything through on the other (or refuses everything). Instead each collection is
probed, once its content changes, with questions no company's documents answer (``data/probes.json``,
in English and Korean), and the best similarity each reaches is kept: their mean and spread per
language are the collection's floor, the level a question must clear before its hits can count as
relevant (answering.answerable).
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sqlalchemy import Connection, Engine, text

from retrieval.search import RetrievalParams, Searcher

PROBES = Path(__file__).parent / "data" / "probes.json"
# The floor is the probes' mean plus this many standard deviations: about one unrelated question in six
# clears it by similarity alone, which the key-term check then refuses.
FLOOR_SD = 1.0
MIN_SD = 0.01  # a collection of one short chunk can give near-identical similarities to every probe
_NEAREST = RetrievalParams(mode="vector", k=1, candidates=1)


@dataclass(frozen=True)
class Spread:
    """The best similarities of one language's probes to a collection."""

    mean: float
    sd: float
    n: int

    @property
    def floor(self) -> float:
        return self.mean + FLOOR_SD * self.sd

    def z(self, similarity: float) -> float:
        """How many standard deviations ``similarity`` lies above the probes' mean."""
        return (similarity - self.mean) / self.sd


@dataclass(frozen=True)
class Calibration:
    embedding_model: str
    chunks: int
    languages: dict[str, Spread]

    def spread(self, language: str) -> Spread | None:
        """The spread for ``language``, or the nearest thing to it (a language no probe is written in)."""
        return self.languages.get(language) or self.languages.get("en")

    def as_dict(self) -> dict:
        return {"embedding_model": self.embedding_model, "chunks": self.chunks,
                "languages": {lang: {"mean": round(s.mean, 4), "sd": round(s.sd, 4), "n": s.n}
                              for lang, s in self.languages.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> Calibration:
        spreads = {lang: Spread(float(s["mean"]), float(s["sd"]), int(s["n"])) for lang, s in data["languages"].items()}
        return cls(data["embedding_model"], int(data["chunks"]), spreads)


@cache
def probes() -> dict[str, tuple[str, ...]]:
    data = json.loads(PROBES.read_text(encoding="utf-8"))
    return {lang: tuple(questions) for lang, questions in data.items() if not lang.startswith("_")}


def calibrate(searcher: Searcher, collection: str, chunks: int) -> Calibration | None:
    """Probe ``collection`` with every question of ``probes()``; None when it has no chunks to find."""
    languages = {}
    for lang, questions in probes().items():
        best = [hits[0].vector_similarity for q in questions
                if (hits := searcher.search(q, _NEAREST, collections=[collection]))]
        if len(best) < 2:
            return None
        languages[lang] = Spread(statistics.fmean(best), max(statistics.stdev(best), MIN_SD), len(best))
    return Calibration(searcher.embedder.name, chunks, languages)


def recalibrate(engine: Engine, searcher: Searcher, collection: str) -> Calibration | None:
    """Measure ``collection`` again and store the result (None, stored as such, when it is empty)."""
    with engine.connect() as conn:
        chunks = chunk_count(conn, collection)
    result = calibrate(searcher, collection, chunks) if chunks else None
    with engine.begin() as conn:
        conn.execute(text("UPDATE collections SET calibration = CAST(:c AS jsonb) WHERE name = :n"),
                     {"c": json.dumps(result.as_dict()) if result else None, "n": collection})
    return result


def chunk_count(conn: Connection, collection: str) -> int:
    return conn.execute(text("SELECT count(*) FROM chunks c JOIN collections k ON k.id = c.collection_id "
                             "WHERE k.name = :n"), {"n": collection}).scalar_one()


def load_calibrations(conn: Connection, embedding_model: str) -> dict[str, Calibration]:
    """Every collection's calibration that was measured with ``embedding_model``, by collection name."""
    rows = conn.execute(text("SELECT name, calibration FROM collections WHERE calibration IS NOT NULL"))
    found = {name: Calibration.from_dict(data) for name, data in rows}
    return {name: c for name, c in found.items() if c.embedding_model == embedding_model}
