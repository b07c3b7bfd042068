"""`python -m evals retrieval --from FILE`: a retrieval regression set scored against the live index.

The file is what ``python -m bot export eval`` writes: one JSON object per line with a question,
its collection scope and the documents its approved answer rests on. For each question the
hybrid search runs as the pipeline runs it; the ranked chunks become a ranked list of distinct
documents, and the report gives recall@k (share of expected documents in the first k) and
MRR@10 (1 / rank of the first expected document within the first 10), averaged over questions.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from rich.table import Table

from core.errors import InvalidInput
from retrieval.search import RetrievalParams, Searcher


def load_set(path: Path) -> list[dict]:
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not record["question"] or not record["expected"]:
                raise KeyError("question/expected")
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"{path}:{number}: not an eval record ({exc})") from exc
        records.append(record)
    if not records:
        raise InvalidInput(f"{path} holds no questions")
    return records


def score(searcher: Searcher, records: list[dict], params: RetrievalParams, k: int = 5,
          collection: str | None = None) -> dict:
    """recall@k and MRR@10 of distinct documents for every record, and their means. With
    ``collection``, every question searches that collection (and expects documents there)."""
    if collection:
        records = [{**r, "collections": [collection],
                    "expected": [{**e, "collection": collection} for e in r["expected"]]} for r in records]
    depth = max(10, k)
    params = dataclasses.replace(params, k=max(params.k, 3 * depth), candidates=max(params.candidates, 3 * depth))
    rows = []
    for record in records:
        hits = searcher.search(record["question"], params, collections=record.get("collections"))
        ranked = list(dict.fromkeys((h.collection, h.source) for h in hits))
        expected = {(e["collection"], e["source"]) for e in record["expected"]}
        found = expected & set(ranked[:k])
        first = next((i for i, doc in enumerate(ranked[:10], start=1) if doc in expected), None)
        rows.append({"id": record.get("id"), "question": record["question"], "recall": len(found) / len(expected),
                     "rr": 1 / first if first else 0.0, "first_rank": first,
                     "missing": sorted(f"{c}/{s}" for c, s in expected - found)})
    n = len(rows)
    return {"questions": n, "k": k, f"recall@{k}": round(sum(r["recall"] for r in rows) / n, 4),
            "mrr@10": round(sum(r["rr"] for r in rows) / n, 4), "rows": rows}


def render(result: dict) -> Table:
    k = result["k"]
    table = Table("question", f"recall@{k}", "first rank", "missing",
                  title=f"{result['questions']} questions · recall@{k} {result[f'recall@{k}']:.3f} · "
                        f"MRR@10 {result['mrr@10']:.3f}", title_justify="left")
    for row in result["rows"]:
        table.add_row(row["question"][:70], f"{row['recall']:.2f}", str(row["first_rank"] or "-"),
                      ", ".join(row["missing"])[:80])
    return table
