"""Adaptive fusion (retrieval.search.fuse) as a pure function: what a user of hybrid search would notice."""

from __future__ import annotations

import pytest

from retrieval.search import RetrievalParams, fuse

PARAMS = RetrievalParams(k=5, candidates=6, vector_weight=1.0, keyword_weight=1.0)


def order(fused):
    return [chunk_id for chunk_id, _ in fused]


def test_one_arm_empty_gives_the_other_arms_order():
    vector = [(7, 0.91), (3, 0.90), (9, 0.90), (1, 0.85), (4, 0.84), (2, 0.80)]
    keyword = [(5, 9.0), (8, 4.5), (6, 0.7)]
    assert order(fuse(vector, [], PARAMS)) == [7, 3, 9, 1, 4, 2]
    assert order(fuse([], keyword, PARAMS)) == [5, 8, 6]
    assert fuse([], [], PARAMS) == []


def test_what_both_arms_put_first_stays_first():
    vector = [(1, 0.90), (2, 0.89), (3, 0.88), (4, 0.87), (5, 0.86), (6, 0.85)]
    keyword = [(1, 7.0), (9, 6.9), (8, 6.8), (2, 1.0)]
    fused = order(fuse(vector, keyword, PARAMS))
    assert fused[0] == 1
    # a chunk both arms found outranks one found only by one arm at a similar depth
    assert fused.index(2) < fused.index(3)


def test_a_confident_arm_is_not_dragged_down_by_a_flat_one():
    # keyword: one chunk far ahead; vector: a flat top that happens to put another chunk first
    vector = [(2, 0.8400), (1, 0.8399), (3, 0.8398), (4, 0.8397), (5, 0.8396), (6, 0.8000)]
    keyword = [(1, 12.0), (7, 2.0), (8, 1.9)]
    assert order(fuse(vector, keyword, PARAMS))[0] == 1
    # and the other way round: a clear vector winner beats a keyword arm with no clear favourite
    vector = [(2, 0.95), (1, 0.85), (3, 0.84), (4, 0.83), (5, 0.82), (6, 0.80)]
    keyword = [(1, 3.01), (7, 3.00), (8, 2.99), (9, 2.98), (10, 2.97), (11, 2.96)]
    assert order(fuse(vector, keyword, PARAMS))[0] == 2


def test_fusion_is_validated_and_arm_priors_still_count():
    assert RetrievalParams().fusion == "adaptive"
    with pytest.raises(ValueError, match="fusion"):
        RetrievalParams(fusion="borda")
    vector = [(2, 0.95), (1, 0.85), (3, 0.84), (4, 0.83), (5, 0.82), (6, 0.80)]
    keyword = [(1, 9.0), (7, 3.0)]
    silent_keyword = RetrievalParams(k=5, candidates=6, vector_weight=1.0, keyword_weight=0.001)
    assert order(fuse(vector, keyword, silent_keyword))[:2] == [2, 1]


def test_scores_are_bounded_and_ties_keep_arm_order():
    vector = [(4, 0.5), (3, 0.5), (2, 0.5)]  # no spread at all: the arm offers only its order
    fused = fuse(vector, [], PARAMS)
    assert order(fused) == [4, 3, 2]
    assert all(0 <= score <= PARAMS.vector_weight + PARAMS.keyword_weight for _, score in fused)
