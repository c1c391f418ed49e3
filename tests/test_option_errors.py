"""Model and trainer options out of range, or overridden by another option: one line through `simclr fit`,
before any training, and nothing written."""

import pytest
from helpers.cli import run_args, user_error

pytestmark = pytest.mark.slow

CASES = [
    (["--model.encoder.init_args.width", "null", "--model.encoder.init_args.stage_widths", "[8, 8]"],
     "ResNetEncoder stage_widths must be 4 positive channel counts"),
    (["--model.encoder.init_args.stage_widths", "[8, 8, 8, 8]"], "ResNetEncoder got both width 8 and stage_widths"),
    (["--model.encoder.init_args.cifar_stem", "true", "--model.encoder.init_args.max_pool", "true"],
     "the CIFAR stem has no max-pool"),
    (["--model.head.init_args.num_layers", "1"], "ProjectionHead hidden_dim 16 has no layer to size with num_layers 1"),
    (["--model.head.init_args.out_dim", "0"], "ProjectionHead out_dim must be >= 1"),
    (["--model.loss.init_args.min_temperature", "0.05"], "min_temperature 0.05 only bounds a learnt temperature"),
    (["--model.augment.init_args.n_views", "0"], "MultiView n_views must be >= 1 (SimCLR uses 2), got 0"),
    (["--model.augment.init_args.pipeline.init_args.blur_p", "1.5"],
     "model.augment.init_args.pipeline.init_args.blur_p is 1.5, but a probability must be in [0, 1]"),
    (["--model.augment.init_args.pipeline.init_args.crop_scale", "[1.0, 0.2]"],
     "model.augment.init_args.pipeline.init_args.crop_scale is [1, 0.2], but a range must be [low, high] with "
     "0 < low <= high; e.g. [0.2, 1]"),
    (["--model.augment.init_args.pipeline.init_args.size", "0"],
     "model.augment.init_args.pipeline.init_args.size is 0, but an output size must be >= 1 pixel"),
    (["--model.warmup_epochs", "-1"], "SimCLR warmup_epochs must be >= 0"),
    (["--model.warmup_epochs", ".nan"], "SimCLR warmup_epochs must be >= 0 and finite, got nan"),
    (["--trainer.max_steps", "-5"], "`max_steps` must be a non-negative integer or -1"),
    (["--trainer.max_steps", "0"], "--trainer.max_steps is 0, so the run would train nothing and write nothing; "
                                   "set it >= 1, or -1 to stop at --trainer.max_epochs"),
    (["--trainer.max_epochs", "0"], "--trainer.max_epochs is 0, so the run would train nothing and write nothing; "
                                    "set it >= 1, or -1 to stop at --trainer.max_steps"),
    (["--model.optimizer.init_args.lr", "-1"], "the optimizer rejected its options (Invalid learning rate: -1.0)"),
    (["--model.optimizer.init_args.lr", "0"], "model.optimizer.init_args.lr is 0.0, so the weights would never "
                                              "change; set a finite learning rate > 0"),
    (["--model.loss.init_args.temperature", ".nan"], "NTXentLoss temperature must be > 0 and finite, got nan"),
    (["--model.loss.init_args.temperature", ".inf"], "NTXentLoss temperature must be > 0 and finite, got inf"),
    (["--model.loss.init_args.temperature", "1000"], "NTXentLoss temperature must be <= 100, got 1000.0"),
    (["--model", "simclr.methods.MoCo", "--model.temperature", "-1"], "MoCo temperature must be > 0, got -1.0"),
    (["--model", "simclr.methods.BYOL", "--model.predictor", "simclr.models.ProjectionHead",
      "--model.predictor.out_dim", "16"],
     "BYOL predictor out_dim is 16 but the projector's (model.head) out_dim is 8; the prediction regresses the "
     "target projection, so set model.predictor.init_args.out_dim: 8"),
]  # fmt: skip


@pytest.mark.parametrize(("options", "expected"), CASES, ids=[c[1][:40] for c in CASES])
def test_bad_option_is_one_line_before_any_work(monkeypatch, capsys, tiny, tmp_path, options, expected):
    line = user_error(monkeypatch, capsys, *run_args(tiny, tmp_path / "run", *options))
    assert expected in line, line
    written = [p for p in (tmp_path / "run").rglob("*") if p.is_file()] if (tmp_path / "run").exists() else []
    assert not written, written


def test_compare_augs_without_strategies_and_a_checkpoint_folder(monkeypatch, capsys, tiny, trained):
    line = user_error(monkeypatch, capsys, "compare-augs", "--config", str(tiny))
    assert "simclr compare-augs needs --strategies <strategies YAML>" in line
    line = user_error(monkeypatch, capsys, "export", "--ckpt", str(trained.parent))
    assert f"checkpoint {trained.parent} is a folder, not a checkpoint file" in line
