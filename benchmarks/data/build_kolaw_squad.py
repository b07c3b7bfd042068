"""Build kolaw-squad.json (SQuAD v1.1 layout) from the Korean Constitution and kolaw_questions.tsv.

The text is ``konlpy/data/corpus/kolaw/constitution.txt`` from the konlpy 0.6.0 wheel on PyPI
(``pip download --no-deps konlpy==0.6.0`` and unzip it): the Constitution of the Republic of
Korea (1987), which the Korean Copyright Act (article 7) leaves unprotected. Each article is one
paragraph (the preamble and each supplementary article too), titled by its chapter. The questions
in kolaw_questions.tsv were written for this benchmark and paraphrase their article rather than
quote it. Answers are not marked (the retrieval benchmark only needs the paragraph).

    python benchmarks/data/build_kolaw_squad.py CONSTITUTION_TXT > benchmarks/data/kolaw-squad.json
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
_CHAPTER = re.compile(r"^\s*제(\d+)장\s+(.+)$")
_ARTICLE = re.compile(r"^\s*제(\d+)조\s")
_ADDENDA = re.compile(r"부칙\s*<")


def articles(text: str) -> list[tuple[str, str, str]]:
    """(key, chapter title, article text) in order; keys as in kolaw_questions.tsv."""
    lines = text.splitlines()
    out: list[tuple[str, str, str]] = []
    preamble = next(line.strip() for line in lines[1:] if line.strip())
    out.append(("전문", "대한민국헌법 전문", preamble))
    chapter, key, body, addenda = "", None, [], False

    def flush():
        if key is not None:
            out.append((key, chapter, " ".join(body)))

    for line in lines:
        if _ADDENDA.search(line):
            flush()
            key, body, addenda, chapter = None, [], True, "대한민국헌법 부칙"
            continue
        m = _CHAPTER.match(line)
        if m and not addenda:
            flush()
            key, body, chapter = None, [], f"대한민국헌법 제{m.group(1)}장 {m.group(2).strip()}"
            continue
        if re.match(r"^\s*제\d+(절|관)\s", line):
            continue
        m = _ARTICLE.match(line)
        if m and (chapter or addenda):
            flush()
            key, body = (f"부칙{m.group(1)}" if addenda else m.group(1)), [line.strip()]
        elif key is not None and line.strip():
            body.append(line.strip())
    flush()
    return out


def main(argv: list[str]) -> int:
    text = Path(argv[1]).read_text(encoding="utf-8")
    questions: dict[str, list[str]] = {}
    for line in (HERE / "kolaw_questions.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, question = line.split("\t", 1)
            questions.setdefault(key, []).append(question.strip())
    by_title: dict[str, list[dict]] = {}
    keys = set()
    for key, title, body in articles(text):
        keys.add(key)
        qas = [{"id": f"kolaw-{key}-{i}", "question": q, "answers": []}
               for i, q in enumerate(questions.get(key, []))]
        by_title.setdefault(title, []).append({"context": body, "qas": qas})
    missing = set(questions) - keys
    if missing:
        raise SystemExit(f"questions for unknown articles: {sorted(missing)}")
    data = {"version": "kolaw-1", "data": [{"title": t, "paragraphs": p} for t, p in by_title.items()]}
    json.dump(data, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
