"""TensorBoard pictures: the view grid of `simclr fit` and the plots and projector of `simclr probe`."""

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from helpers.cli import run_args
from tensorboard.backend.event_processing.event_accumulator import IMAGES, EventAccumulator

from augmentations import MultiView, simclr_fashion_mnist
from simclr.cli.main import run_command
from simclr.eval.figures import confusion_matrix
from simclr.pretraining import run_fit
from simclr.training.view_grid import ViewPairGrid, unnormalise, view_grid

PAD = 2  # make_grid's padding


def images_in(log_dir: Path) -> dict[str, list]:
    """tag -> image events (each with .width, .height, .encoded_image_string) of the event files in `log_dir`."""
    acc = EventAccumulator(str(log_dir), size_guidance={IMAGES: 0}).Reload()
    return {tag: acc.Images(tag) for tag in acc.Tags()[IMAGES]}


def grid_size(rows: int, cols: int, side: int = 28) -> tuple[int, int]:
    """(height, width) of a make_grid of rows x cols images of side x side pixels."""
    return rows * (side + PAD) + PAD, cols * (side + PAD) + PAD


def test_unnormalise_inverts_the_pipeline_normalisation_and_clamps():
    mean, std = torch.tensor([0.5]).view(1, 1, 1, 1), torch.tensor([0.25]).view(1, 1, 1, 1)
    pixels = torch.rand(3, 1, 4, 4)
    assert torch.allclose(unnormalise((pixels - mean) / std, mean, std), pixels, atol=1e-6)
    assert unnormalise(torch.full((1, 1, 2, 2), 9.0), mean, std).max() == 1.0
    scaled = unnormalise(torch.randn(2, 3, 4, 4) * 5, None, None)  # no mean/std: min-max per image
    assert scaled.amin(dim=(1, 2, 3)).tolist() == [0.0, 0.0] and torch.allclose(
        scaled.amax(dim=(1, 2, 3)), torch.ones(2)
    )


def test_view_grid_puts_images_in_rows_and_views_in_columns():
    views = [torch.full((5, 1, 28, 28), float(v)) for v in range(2)]  # view v is all v
    grid = view_grid(views, n_images=3)  # min-max per image would divide by zero: a flat image stays finite
    assert grid.shape == (3, *grid_size(3, 2))
    grid = view_grid(views, n_images=8, mean=torch.zeros(1, 1, 1, 1), std=torch.ones(1, 1, 1, 1))
    assert grid.shape == (3, *grid_size(5, 2))  # at most the batch
    assert grid[:, PAD + 5, PAD + 5].tolist() == [0.0] * 3  # row 0, column 0: view 1 of image 0
    assert grid[:, PAD + 5, 28 + 2 * PAD + 5].tolist() == [1.0] * 3  # row 0, column 1: view 2 of image 0


def test_view_pair_grid_rejects_bad_settings():
    with pytest.raises(ValueError, match="every_n_epochs"):
        ViewPairGrid(every_n_epochs=0)


def test_confusion_matrix_counts_true_rows_against_predicted_columns():
    matrix = confusion_matrix(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 0, 1, 2]), 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]


@pytest.mark.slow
def test_fit_logs_the_view_pairs_at_the_first_step(trained):
    run = trained.parent.parent  # the `trained` fixture's run folder: 2 steps of the tiny config
    (log_dir,) = list((run / "simclr").glob("version_*"))
    pictures = images_in(log_dir)
    assert len(pictures["views/pairs"]) == 1  # the first batch only (epoch 0 of every_n_epochs=5)
    event = pictures["views/pairs"][0]
    # 8 training images in rows; columns: the original, view 1, view 2
    assert event.step == 0 and (event.height, event.width) == grid_size(8, 3)


def test_view_pair_grid_skips_loggers_without_add_image_and_logs_when_due():
    class Writer:
        def __init__(self):
            self.added = []

        def add_image(self, tag, image, global_step):
            self.added.append((tag, tuple(image.shape), global_step))

    tensorboard, csv = SimpleNamespace(experiment=Writer()), SimpleNamespace(experiment=object())
    trainer = SimpleNamespace(loggers=[csv, tensorboard], is_global_zero=True, current_epoch=0, global_step=0)
    batch = ([torch.randn(4, 1, 28, 28), torch.randn(4, 1, 28, 28)], torch.zeros(4))
    callback = ViewPairGrid(every_n_epochs=2, n_images=3)
    for epoch, batch_idx in [(0, 0), (0, 1), (1, 0), (2, 0), (2, 1)]:
        trainer.current_epoch, trainer.global_step = epoch, 10 * epoch + batch_idx
        callback.on_train_batch_start(trainer, SimpleNamespace(), batch, batch_idx)
    assert tensorboard.experiment.added == [
        ("views/pairs", (3, *grid_size(3, 2)), 0),
        ("views/pairs", (3, *grid_size(3, 2)), 20),
    ]
    only_csv = SimpleNamespace(loggers=[csv], is_global_zero=True, current_epoch=0, global_step=0)
    ViewPairGrid().on_train_batch_start(only_csv, SimpleNamespace(), batch, 0)  # nothing to draw on: no error


def test_view_pair_grid_shows_fixed_training_images_with_their_originals():
    class Writer:
        def __init__(self):
            self.added = []

        def add_image(self, tag, image, global_step):
            self.added.append(image)

    images = torch.randint(0, 256, (6, 1, 28, 28), dtype=torch.uint8)
    datamodule = SimpleNamespace(dataset=lambda split: [(image, 0) for image in images])
    augment = MultiView(simclr_fashion_mnist(28))
    writer = Writer()
    trainer = SimpleNamespace(loggers=[SimpleNamespace(experiment=writer)], is_global_zero=True, current_epoch=0,
                              global_step=0, datamodule=datamodule)  # fmt: skip
    batch = ([torch.randn(4, 1, 28, 28)] * 2, torch.zeros(4))  # the training batch's views: not what is shown
    callback = ViewPairGrid(every_n_epochs=1, n_images=4)
    rng_before = torch.get_rng_state()
    for epoch in (0, 1):
        trainer.current_epoch, trainer.global_step = epoch, 5 * epoch
        callback.on_train_batch_start(trainer, SimpleNamespace(augment=augment), batch, 0)
    assert torch.equal(torch.get_rng_state(), rng_before)  # the training stream is untouched
    first, second = writer.added
    assert first.shape == (3, *grid_size(4, 3))  # 4 images x (original, view 1, view 2)
    for row in range(4):
        top, side = PAD + row * (28 + PAD), 28
        original = first[0, top : top + side, PAD : PAD + side]
        assert torch.allclose(original, images[row, 0].float() / 255, atol=1e-5)  # column 0: the image itself
        assert torch.equal(original, second[0, top : top + side, PAD : PAD + side])  # same images at every log
    views = first[:, :, PAD + side + PAD :]
    assert not torch.equal(views, second[:, :, PAD + side + PAD :])  # new views at each logged step


def test_view_grid_resizes_smaller_views_for_display():
    grid = view_grid([torch.zeros(2, 3, 28, 28), torch.ones(2, 3, 12, 12)], n_images=2)
    assert grid.shape == (3, *grid_size(2, 2))


@pytest.mark.slow
def test_fit_adds_the_grid_only_with_a_logger(tiny, tmp_path):
    cli = run_fit(run_args(tiny, tmp_path, "--trainer.max_steps", "1", "--trainer.logger", "false"))
    assert not any(isinstance(c, ViewPairGrid) for c in cli.trainer.callbacks)


@pytest.mark.slow
def test_probe_logs_spectrum_confusion_and_projector(trained, tmp_path):
    run_command(["probe", "--ckpt", str(trained), "--max_iter", "2", "--knn_k", "3", "--out_dir", str(tmp_path)])
    log_dir = tmp_path / "probe"
    pictures = images_in(log_dir)
    assert {"diagnostics/spectrum_plot", "probe/confusion_h"} <= set(pictures)
    for tag in ("diagnostics/spectrum_plot", "probe/confusion_h"):
        (event,) = pictures[tag]
        assert event.height > 100 and event.width > 100
    assert "embeddings" in (log_dir / "projector_config.pbtxt").read_text()
    (tensors,) = list(log_dir.glob("*/h/tensors.tsv"))
    (metadata,) = list(log_dir.glob("*/h/metadata.tsv"))
    rows = tensors.read_text().splitlines()
    assert len(rows) == 32 and len(metadata.read_text().splitlines()) == 32  # the tiny config's 32 test images
    assert len(rows[0].split("\t")) == 64  # h of the width-8 ResNet
