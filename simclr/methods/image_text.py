"""Two-tower image-text training (CLIP, SigLIP, LiT, SLIP) as one LightningModule.

CLIP (Radford et al. 2021), Figure 3: "I_f = image_encoder(I); T_f = text_encoder(T); I_e = l2_normalize(np.dot(I_f,
W_i), axis=1); T_e = l2_normalize(np.dot(T_f, W_t), axis=1)", then a loss over the N x N similarities of the batch's
pairs: CLIP's symmetric InfoNCE or SigLIP's pairwise sigmoid (`simclr.losses.image_text`). LiT (Zhai et al. 2022)
locks a pretrained image tower; SLIP (Mu et al. 2022) adds SimCLR's loss over two views of each image.
"""

import inspect
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from simclr.errors import UserError
from simclr.losses.image_text import CLIPLoss
from simclr.losses.nt_xent import NTXentLoss
from simclr.losses.retrieval import gather_rows, retrieval_recall
from simclr.methods.base import PARTS, OptimizerCallable, ViewMethod, encode_views
from simclr.methods.image_init import load_image_init
from simclr.methods.image_text_checks import check_options, check_tokenizer, check_view_count
from simclr.models.head import ProjectionHead
from simclr.models.text_transformer import TextTransformer
from simclr.safety.lightning_internals import attached_trainer, given_hyperparameters

IMAGE_TEXT_PARTS = (*PARTS, "text_encoder", "image_head", "slip_head", "slip_loss")  # objects, not plain hparams
RECALL_AT = (1, 5, 10)  # validation logs val/i2t_r{k} and val/t2i_r{k}


def _clip_adamw(params) -> torch.optim.Optimizer:
    """CLIP's optimiser: "Adam optimizer with decoupled weight decay regularization ... applied to all weights that
    are not gains or biases" (`param_groups` puts those in a group without decay); 5e-4 and 0.2 as its ResNet-50."""
    return torch.optim.AdamW(params, lr=5e-4, weight_decay=0.2)


def _out_dim(head: nn.Module) -> int | None:
    return getattr(head, "out_dim", getattr(head, "out_features", None))


class ImageText(ViewMethod):
    """CLIP-style image-text pretraining: batches of (uint8 images (B, C, H, W), tokens int64 (B, L)).

    Training: the images' device-side views (`augment`, drawn from the checkpointed stream) -> image tower ->
    image projection -> z_img; tokens -> text tower -> text projection -> z_txt; `loss(z_img, z_txt)` on the
    first view. Validation scores the evaluation view (`augment.normalise`), logs val/loss (the image-text loss
    alone, also for SLIP) and, over the whole epoch (every rank's pairs), retrieval recall val/i2t_r{1,5,10}
    and val/t2i_r{1,5,10}. `encode_image` and `encode_text` give the unit embeddings for zero-shot use.

    Args:
        encoder: the image tower, images -> h (`feature_dim`), e.g. ResNetEncoder or TorchvisionEncoder (a ViT).
        text_encoder: the text tower, tokens (B, L) -> (B, feature_dim).
        augment: uint8 (B, C, H, W) -> list of V float views, with `normalise` for the evaluation view, e.g.
            `augmentations.MultiView` with `n_views: 1` (2 or more for SLIP).
        embed_dim: size of the shared embedding space (CLIP: 512-1024).
        image_head: builds the image projection from the image tower's feature_dim, with out_dim = embed_dim,
            e.g. `simclr.models.ProjectionHead` (an MLP); default CLIP's linear map without bias. The text
            projection is always linear, (text feature_dim -> embed_dim) without bias.
        loss: `loss(z_img, z_txt)` -> scalar: `simclr.losses.CLIPLoss` (default) or `simclr.losses.SigLIPLoss`; its
            logit scale (and bias) are trained with the model.
        optimizer: builds the optimizer from parameter groups; default AdamW(lr=5e-4, weight_decay=0.2) as CLIP.
        warmup_epochs: epochs of linear warmup before the cosine decay.
        lock_image: LiT's locked image tower: it gets no gradient, is left out of the optimizer, runs without
            building a graph, and stays in eval mode all the time, so BatchNorm normalises with its stored
            statistics and never updates them (and dropout is off). The image projection still trains: it maps
            the locked features into the shared space (LiT's "head" on the image tower).
        image_init: a file to initialise the image tower from (LiT): a `simclr fit` checkpoint (its `encoder.*`
            weights) or a torchvision state dict; read with weights_only. Loaded when a fit starts without
            `--ckpt_path`; a resume and a later `load_from_checkpoint` use the checkpoint's own weights.
        slip_weight: SLIP: add slip_weight x NT-Xent over all V >= 2 views of each image, through the image tower
            and `slip_head`; the image-text loss uses the first view. 0 (default): no SSL term, and then
            `augment` must give one view.
        slip_head: SLIP's projection head, built from the image tower's feature_dim; default ProjectionHead
            (SLIP: 3 layers, 4096 hidden, 256 out); only with slip_weight > 0.
        slip_loss: SLIP's loss over the views' projections; default NTXentLoss(temperature=0.1) as SLIP; only with
            slip_weight > 0.
        channels_last: run the image tower in NHWC memory format.
    """

    def __init__(
        self,
        encoder: nn.Module,
        text_encoder: TextTransformer,
        augment: nn.Module,
        embed_dim: int = 256,
        image_head: Callable[[int], nn.Module] | None = None,
        loss: nn.Module | None = None,
        optimizer: OptimizerCallable | None = None,
        warmup_epochs: float = 1.0,
        lock_image: bool = False,
        image_init: str | None = None,
        slip_weight: float = 0.0,
        slip_head: Callable[[int], nn.Module] | None = None,
        slip_loss: nn.Module | None = None,
        channels_last: bool = False,
    ):
        super().__init__(
            encoder, augment, optimizer if optimizer is not None else _clip_adamw, warmup_epochs, channels_last
        )
        check_options(text_encoder, augment, embed_dim, lock_image, slip_weight, slip_head, slip_loss)
        self.text_encoder = text_encoder
        self.image_head = (image_head or (lambda d: nn.Linear(d, embed_dim, bias=False)))(encoder.feature_dim)
        if _out_dim(self.image_head) not in (None, embed_dim):
            raise UserError(
                f"ImageText image_head gives {_out_dim(self.image_head)}-d embeddings but embed_dim is {embed_dim}; "
                f"set model.image_head.init_args.out_dim: {embed_dim}"
            )
        self.text_head = nn.Linear(text_encoder.feature_dim, embed_dim, bias=False)
        self.loss = loss if loss is not None else CLIPLoss()
        self.lock_image = lock_image
        self.image_init = image_init
        self.slip_weight = slip_weight
        if slip_weight > 0:
            self.slip_head = (slip_head or ProjectionHead)(encoder.feature_dim)
            self.slip_loss = slip_loss if slip_loss is not None else NTXentLoss(temperature=0.1)
        if lock_image:
            self.encoder.requires_grad_(False)
            self.encoder.eval()
        self._val_z: list[tuple[Tensor, Tensor]] = []  # (z_img, z_txt) of the epoch's validation batches
        built_by_cli = given_hyperparameters() is not None
        self.save_hyperparameters(ignore=[] if built_by_cli else list(IMAGE_TEXT_PARTS), frame=inspect.currentframe())
        self.build_optimizer()  # options checked now, before a trainer or logger exists

    def train(self, mode: bool = True) -> "ImageText":
        """nn.Module.train, except that a locked image tower stays in eval mode (BatchNorm statistics frozen)."""
        super().train(mode)
        if self.lock_image:
            self.encoder.eval()
        return self

    @property
    def head(self) -> nn.Module:
        """The image projection, read as the projection head by `simclr probe` and `simclr.load` (h, and with a
        `ProjectionHead` its layers: the image tower's representations)."""
        return self.image_head

    def encode_image(self, images: Tensor) -> Tensor:
        """Normalised float images (B, C, H, W) (`augment.normalise`) -> unit embeddings (B, embed_dim)."""
        return F.normalize(self.image_head(self.encoder(images)), dim=1)

    def encode_text(self, tokens: Tensor) -> Tensor:
        """Token ids int64 (B, L) -> unit embeddings (B, embed_dim)."""
        return F.normalize(self.text_head(self.text_encoder(tokens)), dim=1)

    def on_after_batch_transfer(self, batch: tuple[Tensor, Tensor], dataloader_idx: int) -> tuple[list[Tensor], Tensor]:
        """Training: the random views; validation: the evaluation view alone (`augment.normalise`)."""
        trainer = attached_trainer(self)
        if trainer is not None and not trainer.training and (trainer.validating or trainer.sanity_checking):
            images, tokens = batch
            return [self.augment.normalise(images)], tokens
        return super().on_after_batch_transfer(batch, dataloader_idx)

    def image_features(self, views: list[Tensor]) -> Tensor:
        """h of the views the losses use, (V' B, feature_dim) view-major: every view for SLIP, else the first."""
        used = views if self.slip_weight > 0 and len(views) > 1 else views[:1]
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.lock_image):
            return encode_views(self.encoder, used, self.channels_last)

    def embed_and_score(self, views: list[Tensor], tokens: Tensor) -> dict[str, Tensor]:
        """{loss, image_text (the loss of `loss`), slip (the NT-Xent term, when trained), h of the first view,
        z_img, z_txt (B, embed_dim)}."""
        if tokens.shape[0] != views[0].shape[0]:
            raise UserError(f"ImageText got {views[0].shape[0]} images but {tokens.shape[0]} token rows in a batch")
        n = views[0].shape[0]
        h = self.image_features(views)  # (V' B, feature_dim)
        z_img = self.image_head(h[:n])  # (B, embed_dim)
        z_txt = self.text_head(self.text_encoder(tokens))  # (B, embed_dim)
        out = {"image_text": self.loss(z_img, z_txt), "h": h[:n], "z_img": z_img, "z_txt": z_txt}
        out["loss"] = out["image_text"]
        if h.shape[0] > n:  # SLIP: its V >= 2 views
            z = self.slip_head(h).unflatten(0, (h.shape[0] // n, n))  # (V, B, out_dim)
            out["slip"] = self.slip_loss(*z)
            out["loss"] = out["image_text"] + self.slip_weight * out["slip"]
        return out

    def step(self, views: list[Tensor], labels: Tensor | None, stage: str) -> tuple[Tensor, Tensor]:
        """views: V tensors (B, C, H, W); labels: the captions' tokens (B, L) -> (loss, h of the first view)."""
        out = self.scored_step(views, labels, stage)
        return out["loss"], out["h"]

    def scored_step(self, views: list[Tensor], tokens: Tensor, stage: str) -> dict[str, Tensor]:
        """`embed_and_score`, logged under `stage` (with the logit scale and bias while training)."""
        if stage == "train":
            check_view_count(len(views), self.slip_weight)
        out = self.embed_and_score(views, tokens)
        stats = {k: out[k].detach() for k in ("image_text", "slip")} if "slip" in out else {}  # SLIP's two terms
        if stage == "train":  # the loss's learnt parameters, as they are used
            scale, bias = getattr(self.loss, "logit_scale", None), getattr(self.loss, "bias", None)
            if callable(scale):
                stats["logit_scale"] = torch.as_tensor(scale(), dtype=torch.float32).detach()
            if isinstance(bias, Tensor):
                stats["logit_bias"] = bias.detach()
        self.log_step(stage, out["loss"], views[0].shape[0], stats)
        return out

    def on_validation_epoch_start(self) -> None:
        self._val_z = []

    def validation_step(self, batch: tuple[list[Tensor], Tensor], batch_idx: int) -> dict[str, Tensor]:
        views, tokens = batch
        out = self.scored_step(views, tokens, "val")
        self._val_z.append((out["z_img"].detach().float(), out["z_txt"].detach().float()))
        return {"loss": out["loss"], "h": out["h"].detach()}

    def on_validation_epoch_end(self) -> None:
        """Retrieval recall over the epoch's pairs of every rank (the same figure on every rank)."""
        if not self._val_z:
            return
        z_img = gather_rows(torch.cat([z for z, _ in self._val_z]))  # (N_val, embed_dim)
        z_txt = gather_rows(torch.cat([z for _, z in self._val_z]))
        self._val_z = []
        for name, value in retrieval_recall(z_img, z_txt, RECALL_AT).items():
            self.log(f"val/{name}", value, prog_bar=name == "i2t_r1", sync_dist=False)

    def check_data(self, datamodule: object) -> None:
        """A one-line UserError if the data module's tokenizer does not fit the text tower (`simclr fit` calls
        this before it writes anything; `setup` again for runs built in Python)."""
        tokenizer = getattr(datamodule, "tokenizer", None)
        if tokenizer is not None:
            check_tokenizer(tokenizer, self.text_encoder)

    def setup(self, stage: str) -> None:
        """Before fitting: the data's images fit the image tower, its tokenizer fits the text tower."""
        super().setup(stage)
        if stage == "fit":
            self.check_data(getattr(attached_trainer(self), "datamodule", None))

    def on_fit_start(self) -> None:
        """LiT: the image tower from `image_init`, unless the fit resumes from a checkpoint (its weights win).
        Here rather than in `setup`: Lightning sets `trainer.ckpt_path` after `setup`."""
        if self.image_init is not None and self.trainer.ckpt_path is None:
            load_image_init(self.encoder, self.image_init)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Also keeps the data module's tokenizer (JSON text and context length), so the checkpoint encodes text."""
        super().on_save_checkpoint(checkpoint)
        tokenizer = getattr(getattr(attached_trainer(self), "datamodule", None), "tokenizer", None)
        if tokenizer is not None and hasattr(tokenizer, "to_json"):
            checkpoint["tokenizer"] = {"json": tokenizer.to_json(), "context_length": int(tokenizer.context_length)}
