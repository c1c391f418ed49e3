"""ImageText on a tiny synthetic caption set: LiT's locked tower (weights and BatchNorm statistics unchanged),
image_init from a SimCLR checkpoint or a torchvision state dict, SLIP's added NT-Xent term, validation recall,
the tokenizer in the checkpoint, one-line errors, and that a few steps learn."""

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from augmentations import MultiView
from augmentations.presets import simclr_fashion_mnist
from simclr.errors import UserError
from simclr.losses import SigLIPLoss
from simclr.losses.nt_xent import nt_xent
from simclr.methods import ImageText, SimCLR
from simclr.methods.image_init import load_image_init
from simclr.methods.image_text_checks import check_tokenizer
from simclr.models import ProjectionHead, ResNetEncoder, TextTransformer

VOCAB, CONTEXT, SIZE, CLASSES = 16, 6, 16, 4


def encoder(width: int = 8) -> ResNetEncoder:
    return ResNetEncoder([1, 1, 1, 1], in_channels=1, width=width)  # with BatchNorm; 16 px -> 4 px maps after the stem


def text_tower() -> TextTransformer:
    return TextTransformer(VOCAB, CONTEXT, width=16, layers=1, heads=2)


def views(n: int = 1) -> MultiView:
    return MultiView(simclr_fashion_mnist(SIZE, strength=0.2, crop_scale=(0.8, 1.0)), n_views=n)


def model(**kwargs) -> ImageText:
    torch.manual_seed(0)
    parts = {"encoder": encoder(), "text_encoder": text_tower(), "augment": views(), "embed_dim": 8}
    return ImageText(**{**parts, **kwargs})


def pairs(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Images whose bright quadrant is their class, captions [sot, word_c, word_c + 4, eot, pad, pad]."""
    g = torch.Generator().manual_seed(seed)
    classes = torch.arange(n) % CLASSES
    images = torch.randint(0, 60, (n, 1, SIZE, SIZE), generator=g, dtype=torch.uint8)
    for i, c in enumerate(classes.tolist()):
        row, col = divmod(c, 2)
        images[i, :, row * 8 : row * 8 + 8, col * 8 : col * 8 + 8] += 180
    tokens = torch.zeros(n, CONTEXT, dtype=torch.long)
    tokens[:, 0], tokens[:, 1], tokens[:, 2], tokens[:, 3] = 1, 3 + classes, 7 + classes, 2
    return images, tokens


class FakeTokenizer:
    vocab_size, context_length, eot_id, sot_id, pad_id = VOCAB, CONTEXT, 2, 1, 0

    def to_json(self) -> str:
        return '{"model": "fake"}'


class CaptionPairs(L.LightningDataModule):
    """Batches of (uint8 images (B, 1, 16, 16), tokens (B, 6)) with a tokenizer, as simclr.captions gives."""

    channels, batch_size = 1, 8

    def __init__(self, tokenizer=None):
        super().__init__()
        self.tokenizer = tokenizer or FakeTokenizer()

    def train_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(*pairs(32)), batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(*pairs(12, seed=1)), batch_size=6)


def fit(module: ImageText, steps: int = 3, epochs: int = 1, **kwargs) -> L.Trainer:
    trainer = L.Trainer(accelerator="cpu", devices=1, max_epochs=epochs, limit_train_batches=steps, limit_val_batches=2,
                        num_sanity_val_steps=0, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False)  # fmt: skip
    trainer.fit(module, datamodule=CaptionPairs(), **kwargs)
    return trainer


def state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_lit_locks_the_image_tower_and_its_batchnorm_statistics(tmp_path):
    lit = model(lock_image=True)
    image_before, text_before, head_before = state(lit.encoder), state(lit.text_encoder), state(lit.image_head)
    assert any("running_mean" in k for k in image_before)
    trainer = fit(lit, steps=3)
    assert trainer.global_step == 3
    assert same(state(lit.encoder), image_before)  # weights, running statistics and num_batches_tracked
    assert not same(state(lit.text_encoder), text_before)
    assert not same(state(lit.image_head), head_before)  # LiT's image projection trains
    assert not lit.encoder.training and lit.text_encoder.training
    optimised = {id(p) for group in trainer.optimizers[0].param_groups for p in group["params"]}
    assert not optimised & {id(p) for p in lit.encoder.parameters()}


def test_validation_logs_loss_and_retrieval_recall_and_the_checkpoint_keeps_the_tokenizer(tmp_path):
    clip = model()
    trainer = fit(clip, steps=2)
    metrics = trainer.callback_metrics
    for name in ("val/loss", "val/i2t_r1", "val/i2t_r5", "val/i2t_r10", "val/t2i_r1", "val/t2i_r10", "train/loss"):
        assert torch.isfinite(metrics[name]), name
    assert 0 <= metrics["val/i2t_r1"] <= metrics["val/i2t_r5"] <= metrics["val/i2t_r10"] <= 1
    assert "train/logit_scale" in metrics
    trainer.save_checkpoint(tmp_path / "clip.ckpt")
    checkpoint = torch.load(tmp_path / "clip.ckpt", weights_only=True)
    assert checkpoint["tokenizer"] == {"json": FakeTokenizer().to_json(), "context_length": CONTEXT}


def simclr_checkpoint(path, width: int = 8):
    """A checkpoint dict as Lightning writes it for a SimCLR run (its state_dict holds `encoder.*`)."""
    torch.manual_seed(1)
    simclr = SimCLR(encoder(width), views(2))
    with torch.no_grad():
        simclr.encoder.net.bn1.running_mean.add_(0.5)  # statistics a fresh encoder does not have
    torch.save({"state_dict": simclr.state_dict(), "hyper_parameters": {"warmup_epochs": 10.0}}, path)
    return simclr.encoder


@pytest.mark.slow  # two short fits
def test_image_init_loads_a_simclr_checkpoint_at_fit_and_a_resume_does_not_need_it(tmp_path):
    pretrained = simclr_checkpoint(tmp_path / "simclr.ckpt")
    lit = model(lock_image=True, image_init=str(tmp_path / "simclr.ckpt"))
    assert not same(state(lit.encoder), state(pretrained))
    trainer = fit(lit, steps=2)
    assert same(state(lit.encoder), state(pretrained))
    trainer.save_checkpoint(tmp_path / "lit.ckpt")
    (tmp_path / "simclr.ckpt").unlink()
    resumed = model(lock_image=True, image_init=str(tmp_path / "simclr.ckpt"))
    trainer = fit(resumed, steps=2, epochs=2, ckpt_path=tmp_path / "lit.ckpt")  # a second epoch of 2 steps
    assert trainer.global_step == 4
    assert same(state(resumed.encoder), state(pretrained))


def test_image_init_reads_a_torchvision_state_dict(tmp_path):
    torch.manual_seed(2)
    source = encoder()
    torch.save(source.backbone_state_dict(), tmp_path / "backbone.pt")  # what `simclr export` writes
    target = encoder()
    load_image_init(target, tmp_path / "backbone.pt")
    assert same(state(target), state(source))


def test_image_init_of_another_architecture_is_a_one_line_error(tmp_path):
    simclr_checkpoint(tmp_path / "simclr.ckpt", width=16)
    torch.save({"state_dict": {"head.weight": torch.zeros(2)}}, tmp_path / "no_encoder.ckpt")
    for name, words in (("simclr.ckpt", "another architecture"), ("no_encoder.ckpt", "without encoder")):
        with pytest.raises(UserError) as error:
            load_image_init(encoder(8), tmp_path / name)
        assert words in str(error.value) and "\n" not in str(error.value)


def test_slip_adds_the_weighted_nt_xent_of_the_views():
    weight = 0.5
    head = lambda d: ProjectionHead(d, hidden_dim=32, out_dim=16)  # noqa: E731
    slip = model(
        augment=views(2), slip_weight=weight, slip_head=head
    ).eval()  # BatchNorm on stored statistics: views independent
    images, tokens = pairs(6)
    two = slip.augment(images)
    with torch.no_grad():
        out = slip.embed_and_score(two, tokens)
        h1, h2 = slip.encoder(two[0]), slip.encoder(two[1])
        clip = slip.loss(slip.image_head(h1), slip.text_head(slip.text_encoder(tokens)))
        ssl = nt_xent(slip.slip_head(h1), slip.slip_head(h2), 0.1)
    assert torch.allclose(out["image_text"], clip, atol=1e-5)
    assert torch.allclose(out["slip"], ssl, atol=1e-5)
    assert torch.allclose(out["loss"], clip + weight * ssl, atol=1e-5)


def test_encode_image_and_text_give_unit_embeddings():
    clip = model().eval()
    images, tokens = pairs(3)
    with torch.no_grad():
        z_img, z_txt = clip.encode_image(clip.augment.normalise(images)), clip.encode_text(tokens)
    assert z_img.shape == z_txt.shape == (3, 8)
    assert torch.allclose(z_img.norm(dim=1), torch.ones(3)) and torch.allclose(z_txt.norm(dim=1), torch.ones(3))


@pytest.mark.parametrize(
    "options, words",
    [
        ({"slip_weight": 1.0}, "needs >= 2 views"),
        ({"augment": views(2)}, "n_views: 1"),
        ({"augment": views(2), "slip_weight": 1.0, "lock_image": True}, "lock_image locks it"),
        ({"slip_head": ProjectionHead}, "only with slip_weight > 0"),
        ({"image_head": lambda d: ProjectionHead(d, out_dim=5)}, "out_dim: 8"),
        ({"embed_dim": 0}, "embed_dim"),
    ],
)
def test_contradicting_options_are_one_line_errors(options, words):
    with pytest.raises(UserError) as error:
        model(**options)
    assert words in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    "changes, words",
    [({"vocab_size": VOCAB + 1}, "vocab_size >= 17"), ({"context_length": 7}, "context_length >= 7"),
     ({"eot_id": 5}, "eot_id: 5")],
)  # fmt: skip
def test_a_tokenizer_the_text_tower_cannot_read_is_a_one_line_error(changes, words):
    tokenizer = type("Other", (FakeTokenizer,), changes)()
    with pytest.raises(UserError) as error:
        check_tokenizer(tokenizer, text_tower())
    assert words in str(error.value) and "\n" not in str(error.value)


@pytest.mark.slow  # a real training run, if a short one
@pytest.mark.parametrize("loss", [None, SigLIPLoss()], ids=["clip", "siglip"])
def test_a_few_steps_reduce_the_loss(loss):
    learner = model(loss=loss, optimizer=lambda params: torch.optim.AdamW(params, lr=3e-3))
    optimizer = learner.build_optimizer()
    images, tokens = pairs(32)
    losses = []
    for _ in range(10):
        value = learner.embed_and_score(learner.augment(images), tokens)["loss"]
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
        losses.append(value.item())
    assert sum(losses[-3:]) / 3 < 0.7 * sum(losses[:3]) / 3, losses
