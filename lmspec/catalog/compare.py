"""Pairwise comparisons of evaluated variants on the same items, for `lmspec report`.

For every pair of evaluations and every compared metric both have per-item scores for: bits-per-byte of
a perplexity set (paired bootstrap over documents) and a task's per-example metrics (McNemar for 0/1
scores, paired bootstrap otherwise). Two evaluations are paired only on identical item sets (the same
held-out documents, the same task examples); otherwise the pair is skipped, since unpaired items would
hide the shared difficulty of the items in the noise. The family of comparisons in one report is
Holm-corrected, and a difference whose corrected p-value is not below alpha is called not significant.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

from lmspec.catalog.stats import (
    ALPHA,
    Difference,
    bits_per_byte,
    compare_means,
    document_columns,
    holm,
    paired_bootstrap,
)
from lmspec.outputs.metrics import ItemScores

BITS_PER_BYTE = "bits_per_byte"


@dataclass(frozen=True)
class Variant:
    """One evaluated variant: its evaluate step and the per-item scores of each set or task it scored."""

    name: str
    items: dict[str, ItemScores]
    """Perplexity set or task name -> its per-item scores."""


@dataclass(frozen=True)
class Comparison:
    """A - B of one metric on the items both scored, with its Holm-adjusted p-value."""

    metric: str
    a: str
    b: str
    difference: Difference
    higher_is_better: bool
    adjusted_p: float

    @property
    def significant(self) -> bool:
        return self.adjusted_p < ALPHA

    @property
    def verdict(self) -> str:
        """Which is better, or plainly that the data cannot tell."""
        if not self.significant:
            return "not significant"
        a_better = (self.difference.value > 0) == self.higher_is_better
        return f"{self.a if a_better else self.b} better"


def compare_variants(variants: list[Variant], metrics: dict[str, dict[str, bool]]) -> list[Comparison]:
    """Every pair of variants on every metric, Holm-corrected. `metrics`: perplexity set or task name ->
    compared metric -> whether higher is better (a set's `bits_per_byte` is computed from its documents'
    log-probabilities and bytes; a task's metrics are means of per-example scores)."""
    found: list[tuple[str, str, str, Difference, bool]] = []
    for a, b in combinations(variants, 2):
        for name, names in metrics.items():
            left, right = a.items.get(name), b.items.get(name)
            if left is None or right is None or left.keys() != right.keys() or len(left) < 2:
                continue
            for metric, higher_is_better in names.items():
                difference = _difference(left, right, metric)
                if difference is not None:
                    found.append((f"{name}/{metric}", a.name, b.name, difference, higher_is_better))
    adjusted = holm([f[3].p_value for f in found])
    return [Comparison(*f, adjusted_p=p) for f, p in zip(found, adjusted, strict=True)]


def _difference(left: ItemScores, right: ItemScores, metric: str) -> Difference | None:
    ids = list(left)
    if metric == BITS_PER_BYTE:
        columns = document_columns(left) + document_columns({i: right[i] for i in ids})
        return paired_bootstrap(columns, lambda sums: bits_per_byte(sums[:, :3]) - bits_per_byte(sums[:, 3:]))
    if not all(metric in left[i] and metric in right[i] for i in ids):
        return None
    return compare_means([left[i][metric] for i in ids], [right[i][metric] for i in ids])
