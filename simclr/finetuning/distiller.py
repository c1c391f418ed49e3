"""Self-distillation (SimCLR v2, section 2): a student learns a fine-tuned teacher's predictions on unlabelled images.

"We use the fine-tuned network as a teacher to impute labels for training a student network": the
student sees an augmented view of every training image, the fixed teacher labels the same view, and the
student matches the teacher's temperature-softened predictions (`simclr.finetuning.distill_loss`), optionally
plus the cross-entropy on the labelled subset.
"""

from __future__ import annotations

import lightning as L
from torch import Tensor

from simclr.finetuning.distill_loss import check_distill_options, distill_objective
from simclr.finetuning.finetuner import FineTuner, with_cosine_schedule
from simclr.safety.lightning_internals import given_hyperparameters


class Distiller(L.LightningModule):
    """Trains `student` on the teacher's predictions; the teacher never changes (eval mode, no gradient).

    Batches arrive as (uint8 images (B, C, H, W), labels (B,) with -1 where the label is not in the
    labelled subset); the student's `augment` makes the one view both networks see.

    Args:
        student: the network trained (e.g. the same or a smaller encoder, fresh weights, from h).
        teacher: the fine-tuned network whose predictions are the targets; its weights are loaded after.
        temperature: tau of the softened predictions (SimCLR v2: 1.0).
        alpha: weight of the labelled cross-entropy; 0 distils on the teacher's predictions alone.
    """

    def __init__(self, student: FineTuner, teacher: FineTuner, temperature: float = 1.0, alpha: float = 0.0):
        super().__init__()
        built_by_cli = given_hyperparameters() is not None
        self.save_hyperparameters(ignore=[] if built_by_cli else ["student", "teacher"])
        check_distill_options(temperature, alpha)
        self.student = student
        self.teacher = teacher.requires_grad_(False).eval()
        self.temperature = temperature
        self.alpha = alpha

    def train(self, mode: bool = True) -> Distiller:
        """Train mode for the student only: the teacher keeps its BatchNorm statistics."""
        super().train(mode)
        self.teacher.eval()
        return self

    def forward(self, x: Tensor) -> Tensor:
        """Normalised images (B, C, H, W) -> the student's logits (B, K)."""
        return self.student(x)

    def on_after_batch_transfer(self, batch: tuple[Tensor, Tensor], dataloader_idx: int) -> tuple[Tensor, Tensor]:
        return self.student.on_after_batch_transfer(batch, dataloader_idx)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        self.student.on_save_checkpoint(checkpoint)  # the student's augmentation stream

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.student.on_load_checkpoint(checkpoint)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, labels = batch
        teacher_logits = self.teacher(x)  # (B, K); no parameter of the teacher requires a gradient
        loss = distill_objective(self.student(x), teacher_logits, labels, self.temperature, self.alpha)
        self.log("train/loss", loss, on_step=True, on_epoch=False, batch_size=len(labels))
        return loss

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        x, y = batch
        self.student.test_top1.update(self.student(x), y)
        self.log("test/top1", self.student.test_top1, on_step=False, on_epoch=True, batch_size=len(y))

    def configure_optimizers(self):
        total = int(self.trainer.estimated_stepping_batches)
        return with_cosine_schedule(self.student.build_optimizer(), total, self.student.warmup_fraction)
