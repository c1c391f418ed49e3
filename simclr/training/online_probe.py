"""Online linear probe: a classifier on the detached representation h, trained alongside pretraining.

A monitor, not an evaluation. Its accuracy is measured on *augmented* views (the module's
`on_after_batch_transfer` augments validation batches too), and the probe chases an encoder that moves
every step, so `online/*` figures typically sit below the offline linear probe on frozen features
(`simclr.eval.linear_probe`), which is what papers report. Use the online figure to see that representation quality
rises during pretraining, and to compare runs with each other, not with published numbers.
"""

from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics.classification import MulticlassAccuracy

from simclr.errors import UserError
from simclr.safety.lightning_internals import callback_state_key


class OnlineLinearProbe(L.Callback):
    """Trains `nn.Linear(feature_dim, num_classes)` on h every training step and logs its accuracy.

    The module's `training_step` / `validation_step` must return `{"loss": ..., "h": h}` with h of one view,
    detached, (B, feature_dim); batches are `(views, labels int64 (B,))`. Labels < 0 (STL-10's unlabelled
    images carry -1) are left out of the loss and of the accuracy.

    The probe is not a submodule of the LightningModule, so the SimCLR optimizer never sees it; it has its
    own AdamW. Its weights and optimizer state live in this callback's `state_dict()`, which Lightning
    saves in checkpoints and restores on resume. The probe runs in float32 outside autocast, whatever the
    trainer's precision (h in bf16 is cast up). Nor does DDP see it: under DDP each rank trains its own
    copy on its own batches (a checkpoint keeps rank 0's), and validation counts every rank's predictions.

    Logged (prefix `online/` keeps these apart from the offline probe's figures):
        online/train_loss, online/train_top1: per step, on the valid labels of the batch (0 for a batch
            with no labels: there is no host sync to skip it); under DDP, rank 0's batch (syncing would
            cost a collective every step).
        online/val_top1: per validation epoch, micro-averaged over all labelled validation images of all ranks.

    Args:
        num_classes: classes of the labels.
        lr: AdamW learning rate of the probe.
        weight_decay: AdamW weight decay of the probe.
    """

    def __init__(self, num_classes: int, lr: float = 1e-3, weight_decay: float = 0.0):
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"OnlineLinearProbe needs num_classes >= 2, got {num_classes}")
        self.num_classes = num_classes
        self.lr = lr
        self.weight_decay = weight_decay
        self.probe: nn.Linear | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.val_accuracy = MulticlassAccuracy(num_classes, average="micro", ignore_index=-1)

    @property
    def state_key(self) -> str:
        # Two probes (e.g. coarse and fine labels) in one trainer keep separate checkpoint entries.
        return callback_state_key(self, num_classes=self.num_classes)

    # ---- the probe itself -------------------------------------------------------------------------

    def build(self, feature_dim: int, device: torch.device | str = "cpu") -> None:
        """Creates the probe (float32) and its optimizer, unless a probe of the right size exists."""
        if self.probe is not None:
            if self.probe.in_features != feature_dim:
                raise ValueError(
                    f"OnlineLinearProbe holds a probe for feature_dim {self.probe.in_features}, the encoder gives {feature_dim}"
                )
            return
        self.probe = nn.Linear(feature_dim, self.num_classes, device=device, dtype=torch.float32)
        # fused: one kernel for the step, and its step counter lives on the device, so the step reads
        # nothing back to the host (the default keeps it on the CPU and calls .item() on it)
        self.optimizer = torch.optim.AdamW(
            self.probe.parameters(), lr=self.lr, weight_decay=self.weight_decay, fused=True
        )

    def _to(self, device: torch.device) -> None:
        """Moves the probe, its optimizer state and the metric to `device` (a no-op when already there)."""
        if self.probe.weight.device != device:
            self.probe.to(device)  # in place: the optimizer keeps the same Parameter objects
            # Optimizer.load_state_dict casts the state (Adam moments) to the device of each parameter.
            self.optimizer.load_state_dict(self.optimizer.state_dict())
        if self.val_accuracy.device != device:
            self.val_accuracy.to(device)

    def _require_built(self) -> nn.Linear:
        if self.probe is None:
            raise RuntimeError(
                "OnlineLinearProbe has no probe yet: it is built in `setup` (or by `build`/`load_state_dict`)"
            )
        return self.probe

    def train_step(self, h: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """One AdamW step of cross-entropy on the labelled rows; nothing flows back into h.

        Args:
            h: representation (B, feature_dim), any float dtype; detached here in any case.
            labels: int64 (B,); rows with label < 0 are masked out (no boolean indexing, no host sync).

        Returns:
            loss () and top-1 accuracy (), float32, both computed before the step and averaged over the
            labelled rows (count clamped to 1, so a batch without labels gives 0 and zero gradients).
        """
        probe = self._require_built()
        self._to(h.device)
        with torch.enable_grad(), torch.autocast(h.device.type, enabled=False):
            x = h.detach().float()  # (B, feature_dim)
            valid = (labels >= 0).float()  # (B,)
            target = labels.clamp(min=0)  # (B,) any in-range class for the masked rows; their weight is 0
            logits = probe(x)  # (B, num_classes)
            per_row = F.cross_entropy(logits, target, reduction="none")  # (B,)
            count = valid.sum().clamp(min=1.0)  # ()
            loss = (per_row * valid).sum() / count
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
        correct = (logits.detach().argmax(dim=1) == target).float() * valid  # (B,)
        return loss.detach(), correct.sum() / count

    @torch.no_grad()
    def predict(self, h: Tensor) -> Tensor:
        """h (B, feature_dim) -> predicted classes int64 (B,), in float32 outside autocast."""
        probe = self._require_built()
        self._to(h.device)
        with torch.autocast(h.device.type, enabled=False):
            return probe(h.detach().float()).argmax(dim=1)

    # ---- Lightning hooks ----------------------------------------------------------------------------

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        # Lightning calls `setup` before the strategy moves the module to its device (and before a
        # checkpoint is restored), so the probe is built where the module is now and follows h later.
        if getattr(trainer.datamodule, "num_classes", None) == 0:  # e.g. UnlabelledImages without a labelled set
            raise UserError(
                f"the online probe needs labels, but the images of {type(trainer.datamodule).__name__} have none; "
                f"drop OnlineLinearProbe from trainer.callbacks (--trainer.callbacks []), or probe later with simclr probe --data"
            )
        self.build(pl_module.encoder.feature_dim, pl_module.device)

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        h = _representation(outputs)
        if h is None:  # the step returned None: Lightning skipped this batch
            return
        loss, top1 = self.train_step(h, batch[1])
        n = h.shape[0]
        pl_module.log("online/train_loss", loss, on_step=True, on_epoch=False, batch_size=n)
        pl_module.log("online/train_top1", top1, on_step=True, on_epoch=False, batch_size=n)

    def on_validation_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        h = _representation(outputs)
        if h is None:
            return
        labels = batch[1]
        self.val_accuracy.update(self.predict(h), labels.where(labels >= 0, -1))  # every negative label -> ignore_index

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.val_accuracy.update_count:
            # compute() sums the correct and labelled counts of all ranks first, so every rank logs the same
            # global figure; sync_dist says so to Lightning, whose mean of equal values is that figure.
            top1 = self.val_accuracy.compute()
            pl_module.log("online/val_top1", top1, on_step=False, on_epoch=True, sync_dist=True)
        self.val_accuracy.reset()

    # ---- checkpointing ------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The probe's weights and its optimizer state (empty before the probe is built)."""
        if self.probe is None:
            return {}
        return {"probe": self.probe.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores the probe; builds it first (on the CPU, sized from the saved weight) if needed."""
        if not state_dict:
            return
        weight = state_dict["probe"]["weight"]  # (num_classes, feature_dim)
        if weight.shape[0] != self.num_classes:
            raise ValueError(f"checkpointed probe has {weight.shape[0]} classes, this callback {self.num_classes}")
        self.build(weight.shape[1], self.probe.weight.device if self.probe is not None else "cpu")
        self.probe.load_state_dict(state_dict["probe"])
        self.optimizer.load_state_dict(state_dict["optimizer"])  # casts the moments to the probe's device


def _representation(outputs: Any) -> Tensor | None:
    """`outputs["h"]` of a step, None when Lightning skipped the step; a clear error when h is missing."""
    if not outputs:
        return None
    if not isinstance(outputs, dict) or "h" not in outputs:
        raise KeyError("OnlineLinearProbe needs the step to return a dict with 'h' (B, feature_dim), detached")
    return outputs["h"]
