"""Distillation loss against a hand-computed reference, and `simclr distill` from a fine-tuned teacher."""

import json
import math

import pytest
import torch
from helpers.cli import user_error
from helpers.finetune import finetune_tiny

from simclr.errors import UserError
from simclr.finetuning.distill_loss import distill_objective, distillation_loss, labelled_cross_entropy
from simclr.loading.finetuned import load_finetuned


def test_distillation_loss_matches_a_hand_computed_value():
    student, teacher = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]])
    t = 2.0
    p = [math.exp(0 / t) / (math.exp(0 / t) + math.exp(2 / t)), math.exp(2 / t) / (math.exp(0 / t) + math.exp(2 / t))]
    log_q = [0.5 - math.log(math.exp(0.5) + 1.0), 0.0 - math.log(math.exp(0.5) + 1.0)]
    expected = -(p[0] * log_q[0] + p[1] * log_q[1])
    assert distillation_loss(student, teacher, t).item() == pytest.approx(expected, rel=1e-6)


def test_distillation_loss_is_a_batch_mean_of_a_loop_reference():
    gen = torch.Generator().manual_seed(0)
    student, teacher = torch.randn(5, 7, generator=gen), torch.randn(5, 7, generator=gen)
    rows = []
    for s, t in zip(student.tolist(), teacher.tolist()):
        zt = sum(math.exp(v / 0.5) for v in t)
        zs = sum(math.exp(v / 0.5) for v in s)
        rows.append(-sum(math.exp(tv / 0.5) / zt * (sv / 0.5 - math.log(zs)) for sv, tv in zip(s, t)))
    assert distillation_loss(student, teacher, 0.5).item() == pytest.approx(sum(rows) / 5, rel=1e-5)


def test_identical_logits_give_the_teachers_entropy_and_gradient_reaches_only_the_student():
    teacher = torch.randn(4, 3, requires_grad=True)
    student = teacher.detach().clone().requires_grad_(True)
    loss = distillation_loss(student, teacher)
    p = torch.softmax(teacher.detach(), 1)
    assert loss.item() == pytest.approx(float(-(p * p.log()).sum(1).mean()), rel=1e-6)
    loss.backward()
    assert teacher.grad is None and torch.allclose(student.grad, torch.zeros_like(student), atol=1e-7)


def test_labelled_loss_counts_only_labelled_rows_and_is_zero_without_any():
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    only_first = labelled_cross_entropy(logits, torch.tensor([0, -1]))
    assert only_first.item() == pytest.approx(math.log(1 + math.exp(-2.0)), rel=1e-6)
    assert labelled_cross_entropy(logits, torch.tensor([-1, -1])).item() == 0.0
    mixed = distill_objective(logits, logits, torch.tensor([0, -1]), 1.0, 0.5)
    assert mixed.item() == pytest.approx(0.5 * distillation_loss(logits, logits).item() + 0.5 * only_first.item())


@pytest.mark.parametrize("temperature, alpha", [(0.0, 0.0), (1.0, 1.5)])
def test_bad_options_are_user_errors(temperature, alpha):
    with pytest.raises(UserError):
        distill_objective(torch.zeros(1, 2), torch.zeros(1, 2), torch.zeros(1).long(), temperature, alpha)


@pytest.fixture(scope="module")
def finetuned(trained, tmp_path_factory):
    return finetune_tiny(trained, tmp_path_factory.mktemp("teacher"))


@pytest.mark.slow
def test_distill_trains_a_student_and_records_it(finetuned, tmp_path, capsys):
    from simclr.cli.main import run_command

    out = tmp_path / "out"
    ckpt = run_command(["distill", "--ckpt", str(finetuned), "--out_dir", str(out), "--max_steps", "2", "--batch_size", "8",
                        "--device", "cpu", "--alpha", "0.5", "--temperature", "2"])  # fmt: skip
    records = json.loads((out / "finetune.json").read_text())
    assert [(r["init"], r["recipe"]) for r in records] == [
        ("simclr", "probe"),
        ("simclr", "lp-ft"),
        ("distill", "distill"),
    ]
    assert {r["comparison"] for r in records} == {1} and records[-1]["labelled_images"] == 30
    assert (records[-1]["steps"], records[1]["steps"]) == (2, 2)
    teacher_rows = json.loads((finetuned.parent.parent / "finetune.json").read_text())
    assert [r["top1"] for r in records[:2]] == [r["top1"] for r in teacher_rows]  # its probe, and scored again
    report = (out / "finetune.md").read_text()
    assert "| distill | h | 50% | 30 | 0 | distill | 2 |" in report and ("wins:" in report or "tie:" in report)
    student, teacher = load_finetuned(ckpt), load_finetuned(finetuned)
    assert student.state_dict().keys() == teacher.state_dict().keys()  # same architecture by default
    assert any(not torch.equal(a, b) for a, b in zip(student.parameters(), teacher.parameters()))  # fresh weights


@pytest.mark.slow
def test_distill_refuses_a_pretraining_checkpoint_as_teacher(trained, monkeypatch, capsys):
    line = user_error(monkeypatch, capsys, "distill", "--ckpt", str(trained))
    assert "is not a fine-tuned model" in line and "simclr finetune" in line
