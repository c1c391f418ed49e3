"""The budget of a comparison (`simclr compare`, `simclr compare-augs`): how long each run trains and how it is
probed, the same for every run; on the command line, its fields are the budget options (`--epochs`,
`--max_steps`, `--train_images`, ...)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from simclr.errors import UserError
from simclr.eval.linear_probe import ProbeRecipe

COUNTS = ("epochs", "train_images", "batch_size", "probe_images", "val_images", "test_images", "probe_max_iter")
OPTIONAL_COUNTS = {"train_images": "null: all", "batch_size": "null: the data module's", "probe_images": "null: all",
                   "test_images": "null: the whole test split"}  # fmt: skip


@dataclass
class Budget:
    """How long each strategy trains and how it is probed (the same for every strategy).

    Attributes:
        epochs: passes over the pretraining images (the run length unless max_steps is given).
        max_steps: if > 0, the run length in optimiser steps, however many epochs that takes (then `epochs`
            must stay at its default: giving both is an error).
        train_images: pretrain on a fixed random subset of this many images; None: all.
        batch_size: pretraining batch; None: the data module's.
        probe_images: labelled train images (a fixed random subset) the probes learn from; None: all.
        val_images: first test images on which the final contrastive loss and top-1 are measured.
        test_images: first test images the probes are tested on; None: the whole official test split.
        probe_max_iter: L-BFGS iterations of each linear probe (simclr.eval.linear_probe.ProbeRecipe).

    Every count but max_steps is 1 or more (None where it means "all"); anything else is a one-line UserError.
    """

    epochs: int = 1
    max_steps: int = -1
    train_images: int | None = None
    batch_size: int | None = None
    probe_images: int | None = 10000
    val_images: int = 2048
    test_images: int | None = None
    probe_max_iter: int = ProbeRecipe.max_iter

    def __post_init__(self) -> None:
        for name in COUNTS:
            value = getattr(self, name)
            if value is None and name in OPTIONAL_COUNTS:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                meaning = f" ({OPTIONAL_COUNTS[name]})" if name in OPTIONAL_COUNTS else ""
                raise UserError(f"{name} {value} is not a count of 1 or more; pass a positive number{meaning}")
        if isinstance(self.max_steps, bool) or not isinstance(self.max_steps, int):
            raise UserError(f"max_steps {self.max_steps} is not a whole number; pass e.g. 300, or -1 to use epochs")
        if self.max_steps > 0 and self.epochs != 1:
            raise UserError(
                f"the budget gives both epochs {self.epochs} and max_steps {self.max_steps}; give one (max_steps "
                f"sets the run length in steps, epochs in passes over the images)"
            )

    def trainer_limits(self) -> dict[str, int]:
        """Lightning Trainer's max_epochs / max_steps for this budget: steps when given, else epochs."""
        return {"max_epochs": -1, "max_steps": self.max_steps} if self.max_steps > 0 else {"max_epochs": self.epochs}


def given_budget_option(budget: Budget) -> str:
    """The option of the first field of `budget` off its default, e.g. "--epochs" ("the budget options" if none)."""
    default = Budget()
    changed = [f.name for f in dataclasses.fields(Budget) if getattr(budget, f.name) != getattr(default, f.name)]
    return f"--{changed[0]}" if changed else "the budget options"


def refuse_with_experiment(experiment: str, given: dict[str, object], budget: Budget | None, sets: str) -> None:
    """A one-line UserError when an option an experiment file sets was also given (`given`: option -> value,
    None when not given; `budget` None when no budget option was given)."""
    named = [option for option, value in given.items() if value is not None]
    if budget is not None:
        named.append(given_budget_option(budget))
    if named:
        raise UserError(
            f"{named[0]} has no effect with --experiment, whose file sets {sets}; change it in {experiment}"
        )
