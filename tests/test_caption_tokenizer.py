"""The caption tokenizer: sot/eot/padding rows, truncation, round trips and one-line errors."""

from __future__ import annotations

import json
import pickle

import pytest
import torch
from helpers.captions import WORDS, one_line, tokenizer

from simclr.captions import CaptionTokenizer, train_tokenizer
from simclr.errors import UserError

# --- tokenizer -------------------------------------------------------------------------------------------------


def test_rows_are_sot_tokens_eot_then_padding(tokenizer_file):
    tok = tokenizer(tokenizer_file)
    assert (tok.pad_id, tok.context_length) == (0, 12) and tok.vocab_size <= 320
    rows = tok.encode(["a red dress", "boot"])
    assert rows.dtype == torch.int64 and rows.shape == (2, 12)
    assert (rows[:, 0] == tok.sot_id).all()
    eot = (rows == tok.eot_id).int().argmax(1)
    last = (rows != tok.pad_id).int().cumsum(1).argmax(1)  # the last non-pad position
    assert torch.equal(eot, last) and (rows == tok.eot_id).sum(1).tolist() == [1, 1]
    for row, end in zip(rows, eot, strict=True):
        assert (row[end + 1 :] == 0).all() and (row[: end + 1] != 0).all()
    assert tok.decode(rows[0]) == "a red dress"


def test_a_long_caption_is_cut_so_eot_stays_last(tokenizer_file):
    tok = tokenizer(tokenizer_file, context_length=6)
    row = tok.encode([" ".join(WORDS)])[0]
    assert row.shape == (6,) and row[0] == tok.sot_id and row[-1] == tok.eot_id
    assert (row == tok.eot_id).sum() == 1 and (row != tok.pad_id).all()


def test_special_token_text_in_a_caption_is_plain_text(tokenizer_file):
    tok = tokenizer(tokenizer_file)
    row = tok.encode(["a <eot> dress <pad>"])[0]
    assert (row == tok.eot_id).sum() == 1 and (row[: (row == tok.eot_id).int().argmax()] != 0).all()


def test_json_and_pickle_round_trips_encode_the_same(tokenizer_file):
    tok = tokenizer(tokenizer_file)
    captions = ["a red dress", "the <sot> boot", " ".join(WORDS)]
    again = CaptionTokenizer.from_json(tok.to_json(), 12)
    copied = pickle.loads(pickle.dumps(tok))  # what a DataLoader worker receives
    for other in (again, copied):
        assert torch.equal(other.encode(captions), tok.encode(captions))
        assert (other.vocab_size, other.sot_id, other.eot_id) == (tok.vocab_size, tok.sot_id, tok.eot_id)


def test_tokenizer_mistakes_are_one_line_errors(tokenizer_file, tmp_path):
    tok = tokenizer(tokenizer_file)
    with pytest.raises(UserError) as e:
        tok.encode(["a dress", "  \t"], where=["line 2 of a.csv", "line 3 of a.csv"])
    assert "line 3 of a.csv" in one_line(e)
    with pytest.raises(UserError, match="caption 0 of x.txt is empty"):
        tok.encode([""], where="x.txt")
    with pytest.raises(UserError) as e:
        CaptionTokenizer.from_file(tmp_path / "nope.json")
    assert "nope.json does not exist" in one_line(e) and "simclr tokenizer" in str(e.value)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(UserError) as e:
        CaptionTokenizer.from_file(tmp_path / "bad.json")
    assert "bad.json is not a tokenizer.json" in one_line(e)
    no_eot = json.loads(tok.to_json())
    no_eot["added_tokens"] = [t for t in no_eot["added_tokens"] if t["content"] != "<eot>"]
    del no_eot["model"]["vocab"]["<eot>"]
    with pytest.raises(UserError, match="has no <eot> token"):
        CaptionTokenizer.from_json(json.dumps(no_eot))
    with pytest.raises(UserError, match="context_length is 2"):
        CaptionTokenizer.from_json(tok.to_json(), 2)
    with pytest.raises(UserError, match="vocab_size 100 leaves no room"):
        train_tokenizer(["a dress"], tmp_path / "t.json", vocab_size=100)
    with pytest.raises(UserError, match="no captions"):
        train_tokenizer([" ", ""], tmp_path / "t.json")
