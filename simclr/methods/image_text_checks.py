"""One-line errors for ImageText options and data that do not fit together (views, SLIP, LiT, tokenizer)."""

import math

from torch import nn

from simclr.errors import UserError


def check_options(
    text_encoder: nn.Module,
    augment: nn.Module,
    embed_dim: int,
    lock_image: bool,
    slip_weight: float,
    slip_head: object,
    slip_loss: object,
) -> None:
    """One-line UserErrors for ImageText options that contradict each other or would be ignored."""
    if not hasattr(text_encoder, "feature_dim"):
        raise UserError(
            f"ImageText text_encoder {type(text_encoder).__name__} has no feature_dim; use simclr.models.TextTransformer"
        )
    if not callable(getattr(augment, "normalise", None)):
        raise UserError(
            f"ImageText augment {type(augment).__name__} has no normalise (the evaluation view); use "
            f"augmentations.MultiView over a view pipeline"
        )
    if embed_dim < 1:
        raise UserError(f"ImageText embed_dim must be >= 1, got {embed_dim}; CLIP uses 512-1024, small runs 128-256")
    if not (slip_weight >= 0 and math.isfinite(slip_weight)):
        raise UserError(
            f"ImageText slip_weight must be >= 0 and finite, got {slip_weight}; SLIP uses 1.0, 0 turns it off"
        )
    if slip_weight == 0 and (slip_head is not None or slip_loss is not None):
        raise UserError(
            "ImageText slip_head and slip_loss are used only with slip_weight > 0; set slip_weight or drop them"
        )
    if slip_weight > 0 and lock_image:
        raise UserError(
            "ImageText slip_weight > 0 trains the image tower, but lock_image locks it; set one of them off "
            "(LiT: lock_image true, slip_weight 0)"
        )
    n_views = getattr(augment, "n_views", None)
    if isinstance(n_views, int):
        check_view_count(n_views, slip_weight)


def check_view_count(n_views: int, slip_weight: float) -> None:
    """SLIP needs >= 2 views of each image; without it a second view would be computed and never used."""
    if slip_weight > 0 and n_views < 2:
        raise UserError(
            f"ImageText slip_weight {slip_weight} needs >= 2 views of each image, but augment gives {n_views}; "
            f"set model.augment.init_args.n_views: 2"
        )
    if slip_weight == 0 and n_views > 1:
        raise UserError(
            f"ImageText uses one view of each image without SLIP, but augment gives {n_views}; set "
            f"model.augment.init_args.n_views: 1, or slip_weight > 0 for SLIP's SimCLR term over the views"
        )


def check_tokenizer(tokenizer: object, text_encoder: nn.Module) -> None:
    """One-line UserError when the data's tokenizer makes tokens the text tower cannot read."""
    vocab, length = int(tokenizer.vocab_size), int(tokenizer.context_length)
    if vocab > text_encoder.vocab_size:
        raise UserError(
            f"the data's tokenizer has vocab_size {vocab} but model.text_encoder.init_args.vocab_size is "
            f"{text_encoder.vocab_size}; set model.text_encoder.init_args.vocab_size >= {vocab}"
        )
    if length > text_encoder.context_length:
        raise UserError(
            f"the data's tokenizer has context_length {length} but model.text_encoder.init_args.context_length is "
            f"{text_encoder.context_length}; set model.text_encoder.init_args.context_length >= {length} "
            f"(or data.init_args.context_length <= {text_encoder.context_length})"
        )
    eot = getattr(tokenizer, "eot_id", None)
    pooled = text_encoder.eot_id
    if eot is not None and pooled is not None and int(eot) != pooled:
        raise UserError(
            f"the data's tokenizer ends texts with token {eot} but model.text_encoder.init_args.eot_id is {pooled}; "
            f"set model.text_encoder.init_args.eot_id: {eot}"
        )
    if eot is not None and pooled is None and int(eot) != vocab - 1:
        raise UserError(
            f"model.text_encoder pools at each text's largest token id (eot_id null), but the data's tokenizer's "
            f"end-of-text id {eot} is not its largest ({vocab - 1}); set model.text_encoder.init_args.eot_id: {eot}"
        )
