"""ResumeCallback: what an exact resume needs beyond Lightning's own checkpoint state.

The global RNG states (`simclr.safety.rng`) and the position of each resumable train loader
(`simclr.data.resumable`), saved in every checkpoint and put back before the first resumed batch.
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import CombinedLoader

from simclr.data.resumable import ResumableDataLoader
from simclr.safety.rng import collect_rng_states, set_rng_states


def _train_loaders(trainer: Trainer) -> list[Any]:
    loaders = trainer.train_dataloader
    if isinstance(loaders, CombinedLoader):
        return list(loaders.flattened)
    if isinstance(loaders, dict):
        return list(loaders.values())
    return list(loaders) if isinstance(loaders, (list, tuple)) else [loaders]


class ResumeCallback(Callback):
    """Keeps in every checkpoint what an exact resume needs beyond Lightning's own state: the global
    RNG states (torch CPU and CUDA, numpy, Python) and the position of each resumable train loader.

    Both are put back in `on_train_start`: after the sanity check (which draws from the global RNG)
    and before the first batch is fetched (the loader skips the batches the killed run already trained).
    """

    def __init__(self) -> None:
        self._to_restore: dict[str, Any] | None = None

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        checkpoint["resume"] = {
            "rng": collect_rng_states(),
            "train_loaders": [dl.state_dict() for dl in _train_loaders(trainer) if isinstance(dl, ResumableDataLoader)],
        }

    def on_load_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        self._to_restore = checkpoint.get("resume")

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._to_restore is None:
            return
        state, self._to_restore = self._to_restore, None
        set_rng_states(state["rng"])
        loaders = [dl for dl in _train_loaders(trainer) if isinstance(dl, ResumableDataLoader)]
        for loader, loader_state in zip(loaders, state.get("train_loaders", [])):
            loader.load_state_dict(loader_state)
