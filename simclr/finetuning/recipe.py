"""The recipes of `simclr finetune`: LP-FT from pretrained weights (the default), plain fine-tuning, and scratch.

LP-FT (Kumar et al. 2022, "Fine-Tuning can Distort Pretrained Features and Underperform Out-of-Distribution",
section 4: "first train a linear probe, then fine-tune the entire model"): a randomly initialised classifier
sends large gradients into the pretrained layers in the first steps and distorts the features the frozen probe
already separates well; starting the classifier from that probe removes them. The recipe here:

- classifier: the project's L-BFGS linear probe (`simclr.eval.probe.probe_classifier`) fitted on the frozen
  representation it reads (h, or head_i with --from) of the labelled subset, its standardisation and whitening
  folded into the weights, so the network starts with exactly the probe's test top-1;
- learning rates: the encoder and kept head layers train at ENCODER_LR_RATIO (0.1) times the classifier's --lr,
  so they adapt to the labels without undoing pretraining;
- BatchNorm in train mode (batch statistics, running ones updated), as in pretraining: its scale invariance
  keeps the encoder's updates stable. `--bn frozen` keeps the pretrained statistics instead (in training too
  the network then computes exactly the probe's function at the start), but without that invariance the
  encoder tolerates only a small learning rate: on the `make demo` checkpoint at 1% labels, encoder lr 0.005
  (--lr 0.05) diverged within 10 steps with frozen BatchNorm, while 0.0005 (--lr 0.005) was stable.

Scratch keeps its own recipe: random weights and classifier, every layer at --lr, BatchNorm in train mode (a
fresh network has no statistics to keep), and the same subset, data order, augmentation and step budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.utils.data import Dataset

from simclr.errors import UserError
from simclr.eval.probe import probe_classifier
from simclr.eval.report import ProbeRow
from simclr.finetuning.finetuner import check_lp_ft_options

ENCODER_LR_RATIO = 0.1  # LP-FT: the pretrained layers' learning rate as a multiple of the classifier's


@dataclass(frozen=True)
class Recipe:
    """How one fine-tuning run starts and trains (besides the budget and --lr)."""

    name: str  # "lp-ft", "ft" or "scratch" (simclr.finetuning.report.RECIPES)
    pretrained: bool  # start the encoder and head layers from the pretraining checkpoint
    classifier_init: Literal["probe", "random"]  # the linear probe on the frozen features, or random weights
    encoder_lr_ratio: float  # encoder and head learning rate / classifier learning rate
    bn: Literal["train", "frozen"]  # BatchNorm: batch statistics, or the running ones kept fixed


SCRATCH = Recipe("scratch", False, "random", 1.0, "train")


def choose_recipe(init: str, classifier_init: str | None, encoder_lr_ratio: float | None, bn: str | None) -> Recipe:
    """The recipe of `--init` with the options given (None: the recipe's default); one-line UserErrors for
    combinations no run can use.

    Args:
        init: "simclr" (pretrained weights: LP-FT by default) or "scratch".
        classifier_init: "probe" (LP-FT) or "random"; scratch takes only "random".
        encoder_lr_ratio: the pretrained layers' learning rate over the classifier's (default ENCODER_LR_RATIO
            from pretrained weights, 1 from scratch).
        bn: "train" (the default) or "frozen" (pretrained weights only).
    """
    if init not in ("simclr", "scratch"):
        raise UserError(f"--init is {init!r}; pass simclr (the pretrained weights) or scratch")
    if classifier_init not in (None, "probe", "random"):
        raise UserError(f"--classifier_init is {classifier_init!r}; pass probe (LP-FT) or random")
    if init == "scratch":
        if classifier_init == "probe":
            raise UserError(
                "--classifier_init probe fits the probe on pretrained features, which --init scratch does not load; "
                "drop --classifier_init or pass --init simclr"
            )
        if bn == "frozen":
            raise UserError(
                "--bn frozen keeps the pretrained BatchNorm statistics, which --init scratch does not load; drop --bn "
                "or pass --init simclr"
            )
        ratio = 1.0 if encoder_lr_ratio is None else encoder_lr_ratio
        check_lp_ft_options(ratio, "train")
        return Recipe("scratch", False, "random", ratio, "train")
    start = classifier_init or "probe"
    recipe = Recipe(
        "lp-ft" if start == "probe" else "ft",
        True,
        start,
        ENCODER_LR_RATIO if encoder_lr_ratio is None else encoder_lr_ratio,
        bn or "train",
    )
    check_lp_ft_options(recipe.encoder_lr_ratio, recipe.bn)
    return recipe


def compare_or_default(compare: bool | None, init: str) -> bool:
    """--compare as given, or its default: on from pretrained weights (scratch is the other row), off from scratch."""
    if compare and init == "scratch":
        raise UserError(
            "--compare trains scratch beside a run from pretrained weights; with --init scratch drop --compare, or "
            "pass --init simclr to get the probe, fine-tuned and scratch rows"
        )
    return init != "scratch" if compare is None else compare


def start_probe(
    pretrained: nn.Module,
    from_layer: str,
    train_set: Dataset,
    test_set: Dataset,
    num_classes: int,
    device: torch.device,
    batch_size: int = 1024,
) -> tuple[ProbeRow, nn.Linear]:
    """The linear probe on the frozen `from_layer` of a pretraining module (SimCLR, MoCo, BYOL ...): its test
    row and the layer LP-FT's classifier starts from (`simclr.eval.probe.probe_classifier`).

    Args:
        pretrained: the pretraining LightningModule (its encoder, head, augment and channels_last are read).
        from_layer: h, head_1, ..., z.
        train_set: the labelled subset; test_set: the test split ((uint8 image, label) items).
        num_classes: K.
        device: where the features are computed.
        batch_size: images per forward pass.
    """
    layout = torch.channels_last if getattr(pretrained, "channels_last", False) else torch.contiguous_format
    pretrained.to(device)
    return probe_classifier(pretrained.encoder, train_set, test_set, pretrained.augment.normalise, num_classes,
                            from_layer, pretrained.head, batch_size=batch_size, device=device, memory_format=layout)  # fmt: skip
