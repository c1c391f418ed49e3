"""NonFiniteLossGuard: stop a run whose loss or weights diverged, naming the step and the likely cause.

The check must not sync the host every step: each step only updates device tensors (the first bad step
and its loss, via `torch.where`); the host reads them every `check_every_n_steps` steps, before every
checkpoint is written and at the end. Before a checkpoint is written the weights and buffers are checked
too, for NaN, inf and magnitudes beyond 1e6 (`simclr.safety.safe_loading.non_sane_entries`: BatchNorm
statistics can overflow, and weights reach 1e29, while the loss still looks finite): a diverged model
never overwrites the last good checkpoint, and the error names a checkpoint only if its weights are sane.
Lightning's own guard (`EarlyStopping(check_finite=True)`) looks at validation metrics only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch import Tensor

from simclr.errors import TrainingDiverged
from simclr.safety.safe_loading import SANE_MAGNITUDE, non_finite_entries, non_sane_entries


def sane_file(path: str | Path) -> bool:
    """Whether `path` is a readable checkpoint whose weights and buffers are all finite and within +-1e6."""
    if not Path(path).is_file():
        return False
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # unreadable: not a checkpoint to point a user to
        return False
    state = checkpoint.get("state_dict") if isinstance(checkpoint, dict) else None
    return isinstance(state, dict) and not non_sane_entries(state, SANE_MAGNITUDE)


class NonFiniteLossGuard(Callback):
    """Raises `TrainingDiverged` once the training loss has been non-finite.

    Args:
        check_every_n_steps: how often the host looks at the device-side flag (one sync each time).
    """

    def __init__(self, check_every_n_steps: int = 50):
        if check_every_n_steps < 1:
            raise ValueError(f"check_every_n_steps must be >= 1, got {check_every_n_steps}")
        self.check_every_n_steps = check_every_n_steps
        self._first_bad_step: Tensor | None = None  # () int64 on the device, -1 while every loss was finite
        self._first_bad_loss: Tensor | None = None  # () float, the first non-finite loss

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        if not isinstance(loss, Tensor):
            return
        loss = loss.detach().float()
        if self._first_bad_step is None or self._first_bad_step.device != loss.device:
            self._first_bad_step = torch.full((), -1, dtype=torch.long, device=loss.device)
            self._first_bad_loss = torch.zeros((), device=loss.device)
        new = ~torch.isfinite(loss) & (self._first_bad_step < 0)  # () bool, on the device
        self._first_bad_step = torch.where(
            new, trainer.global_step, self._first_bad_step
        )  # global_step: this step, 1-based
        self._first_bad_loss = torch.where(new, loss, self._first_bad_loss)
        if trainer.global_step % self.check_every_n_steps == 0:
            self.check(trainer)

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        # raising here aborts the save: the file on disk stays the last good one
        self.check(trainer)
        state = checkpoint.get("state_dict") or {}
        bad = non_sane_entries(state)
        if trainer.strategy.reduce_boolean_decision(bool(bad), all=False):
            what = f"the model's {bad[0]}" if bad else "the model's weights on another rank"
            how = "became non-finite" if not bad or non_finite_entries({bad[0]: state[bad[0]]}) else "grew beyond 1e6"
            raise TrainingDiverged(f"{what} {how} by step {trainer.global_step}; {self.advice(trainer)}")

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.check(trainer)

    def check(self, trainer: Trainer) -> None:
        """Host-side look at the flag (a sync); raises TrainingDiverged if any loss so far was non-finite."""
        if self._first_bad_step is None:
            return
        step = int(self._first_bad_step)
        if not trainer.strategy.reduce_boolean_decision(step >= 0, all=False):  # all ranks stop together
            return
        value = float(self._first_bad_loss) if step >= 0 else float("nan")
        raise TrainingDiverged(f"the training loss became {value} at step {max(step, 0)}; {self.advice(trainer)}")

    @staticmethod
    def advice(trainer: Trainer) -> str:
        """The likely causes and the last good checkpoint, for the one-line error."""
        last = getattr(trainer.checkpoint_callback, "last_model_path", "") or ""
        keep = (
            f"; the last good checkpoint is {last} (it keeps this run's settings: probe or export it, or start a new "
            f"run with the fix)"
            if last and sane_file(last)
            else ""
        )
        return (
            "likely causes: the learning rate is too high (lower model.optimizer.init_args.lr), the temperature is too "
            "low (raise model.loss.init_args.temperature), or bf16/fp16 overflow (try --trainer.precision 32)" + keep
        )
