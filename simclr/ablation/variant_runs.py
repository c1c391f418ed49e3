"""The runs of one variant in a results page's data file (`Summary`) and the metric columns read from them
(`Metric`: `H`, `Z`, `KNN`); the tables (`simclr.ablation.page_specs`) and the paper's claims
(`simclr.ablation.claims`) of a page name these."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Metric:
    """A column of mean ± standard deviation over seeds."""

    key: str  # a key of the data rows' `metrics`
    label: str  # column header
    scale: float = 100.0  # fractions shown as percent
    digits: int = 2


H = Metric("h_linear_top1", "linear top-1 h (%)")
Z = Metric("z_linear_top1", "linear top-1 z (%)")
KNN = Metric("h_knn_top1", "kNN top-1 h (%)")


@dataclass
class Summary:
    """The runs of one variant in a data file."""

    variant: str
    runs: list[dict] = field(default_factory=list)

    @property
    def baseline(self) -> bool:
        return bool(self.runs[0].get("baseline"))

    @property
    def parts(self) -> list[str]:
        return list(self.runs[0].get("parts") or [])

    def values(self, key: str) -> list[float]:
        """The metric of every seed that measured it."""
        return [r["metrics"][key] for r in self.runs if r["metrics"].get(key) is not None]

    def fact(self, key: str) -> str:
        """A run setting (steps, batch_size, pairs_seen) shared by the seeds; "a / b" if they differ."""
        values = list(dict.fromkeys(r.get(key) for r in self.runs))
        return " / ".join("-" if v is None else f"{v:,}".replace(",", " ") for v in values)
