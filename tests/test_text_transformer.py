"""The text tower: shapes, the causal mask (nothing after the end-of-text token reaches its feature), pooling by
eot_id or CLIP's largest-id rule, and one-line errors for tokens it cannot read."""

import pytest
import torch

from simclr.errors import UserError
from simclr.models import TextTransformer

VOCAB, CONTEXT, EOT = 40, 10, 2


def tower(**kwargs) -> TextTransformer:
    torch.manual_seed(0)
    return TextTransformer(VOCAB, CONTEXT, **{"width": 32, "layers": 2, "heads": 4, **kwargs}).eval()


def rows(eot: int = EOT) -> torch.Tensor:
    """Three rows [sot, t_1..t_k, eot, 0, ...] with k = 2, 4, 8 (the last fills the context)."""
    g = torch.Generator().manual_seed(1)
    tokens = torch.zeros(3, CONTEXT, dtype=torch.long)
    for row, k in enumerate((2, 4, 8)):
        tokens[row, 0] = 1
        tokens[row, 1 : k + 1] = torch.randint(3, VOCAB - 1, (k,), generator=g)
        tokens[row, k + 1] = eot
    return tokens


def test_shape_and_feature_dim():
    model = tower()
    assert model.feature_dim == 32
    assert model(rows()).shape == (3, 32)
    assert model(rows()[:1, :5]).shape == (1, 32)  # fewer than context_length tokens


@pytest.mark.parametrize("eot_id", [EOT, None])
def test_tokens_after_the_end_of_text_change_nothing_and_tokens_before_it_do(eot_id):
    model = tower(eot_id=eot_id)
    eot = EOT if eot_id is not None else VOCAB - 1  # None: the row's largest id is its end of text
    tokens = rows(eot)
    with torch.no_grad():
        base = model(tokens)
        after = tokens.clone()
        after[0, 4:] = torch.arange(3, 3 + CONTEXT - 4)  # row 0's eot is at 3: padding replaced by text
        after[1, 6] = eot  # a second end-of-text token: the first one is pooled
        before = tokens.clone()
        before[:, 1] = torch.where(before[:, 1] == 5, 6, 5)
        changed_after, changed_before = model(after), model(before)
    assert torch.allclose(changed_after, base, atol=1e-6)
    assert (changed_before - base).abs().amax(dim=1).min() > 1e-3  # every row moved


def test_a_row_cut_after_its_end_of_text_gives_the_same_feature():
    model = tower()
    tokens = rows()
    with torch.no_grad():
        full, cut = model(tokens[:2]), model(tokens[:2, :6])  # rows 0 and 1 end at positions 3 and 5
    assert torch.allclose(full, cut, atol=1e-6)


def test_train_and_eval_paths_agree():
    """Without dropout, training mode (the autograd path) and eval under no_grad (torch's fused path) agree."""
    model = tower()
    with torch.no_grad():
        fused = model(rows())
    model.train()
    assert torch.allclose(model(rows()), fused, atol=1e-5)


def test_gradients_reach_every_parameter():
    model = tower().train()
    model(rows()).square().sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert model.token_embedding.weight.grad[VOCAB - 1].abs().sum() == 0  # an id not in the batch gets none


def one_line(error: pytest.ExceptionInfo) -> str:
    text = str(error.value)
    assert "\n" not in text
    return text


def test_too_many_tokens_is_a_one_line_error():
    with pytest.raises(UserError) as error:
        tower()(torch.ones(2, CONTEXT + 1, dtype=torch.long))
    assert "context_length is 10" in one_line(error)


@pytest.mark.parametrize("bad", [VOCAB, -1])
def test_a_token_outside_the_vocabulary_is_a_one_line_error(bad):
    tokens = rows()
    tokens[1, 2] = bad
    with pytest.raises(UserError) as error:
        tower()(tokens)
    assert "vocab_size" in one_line(error)


@pytest.mark.parametrize(
    "options, words",
    [({"heads": 5}, "not a multiple of heads"), ({"layers": 0}, "layers must be >= 1"), ({"eot_id": VOCAB}, "eot_id")],
)
def test_bad_options_are_one_line_errors(options, words):
    with pytest.raises(UserError) as error:
        tower(**options)
    assert words in one_line(error)
