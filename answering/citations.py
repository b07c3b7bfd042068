"""Citations like [1] or [1, 3]: keep those that name a given source, drop the rest."""

from __future__ import annotations

import re
from dataclasses import dataclass

# A citation: [1], [1, 3], [1; 2]. The one pattern for finding citations in an answer.
CITATION = re.compile(r"\[\s*(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\s*\]")


@dataclass(frozen=True)
class CitationCheck:
    text: str            # the answer with invalid citations removed
    cited: list[int]     # valid source numbers, in order of first citation
    removed: list[int]   # numbers that named no source

    @property
    def verified(self) -> bool:
        """An answer is verified when at least one valid citation remains."""
        return bool(self.cited)


def check_citations(answer: str, n_sources: int) -> CitationCheck:
    """Validate every [n] against sources numbered 1..n_sources."""
    cited: list[int] = []
    removed: list[int] = []

    def repl(match: re.Match) -> str:
        numbers = [int(x) for x in re.split(r"\s*[,;]\s*", match.group(1))]
        keep = []
        for n in numbers:
            if 1 <= n <= n_sources:
                if n not in keep:
                    keep.append(n)
                if n not in cited:
                    cited.append(n)
            elif n not in removed:
                removed.append(n)
        return f"[{', '.join(map(str, keep))}]" if keep else ""

    text = CITATION.sub(repl, answer)
    text = re.sub(r"[ \t]+([.,;:!?])", r"\1", text)  # "foo [9]." -> "foo ." -> "foo."
    text = re.sub(r"[ \t]{2,}", " ", text).strip()
    return CitationCheck(text=text, cited=cited, removed=removed)
