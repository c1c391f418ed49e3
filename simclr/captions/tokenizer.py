"""`CaptionTokenizer`: captions -> fixed-length rows of token ids, and `train_tokenizer`, a byte-level BPE
trained on your own captions with the `tokenizers` library.

Each row is `[<sot>, t_1, ..., t_k, <eot>, <pad>, ..., <pad>]` of length `context_length`, `<pad>` = 0. A
caption longer than the context keeps its first `context_length - 2` tokens, so `<eot>` is still the last
token (position L - 1). Text is NFKC-normalised and lowercased; byte-level pre-tokenisation means every
caption encodes (no unknown token). A special token written in a caption (`"<eot>"`) is encoded as plain
text, never as the special id, so the end-of-text position is always the one this class puts there.

The tokenizer is a tokenizer.json file (the `tokenizers` library's format): plain data, read without running
anything, that a checkpoint can carry as a string (`to_json` / `from_json`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from torch import Tensor

from simclr.errors import UserError, short_reason

PAD, SOT, EOT = "<pad>", "<sot>", "<eot>"
SPECIAL_TOKENS = (PAD, SOT, EOT)  # ids 0, 1, 2 in a trained tokenizer; <pad> must be 0
BYTE_ALPHABET = 256  # byte-level BPE starts from one token per byte
MIN_CONTEXT = 3  # <sot>, one token, <eot>
TOKENIZER_HINT = "train one on your captions: simclr tokenizer --manifest FILE --out tokenizer.json"


def frame_tokens(ids: list[list[int]], sot: int, eot: int, pad: int, length: int) -> Tensor:
    """Rows `[sot, ids..., eot, pad...]` of `length` tokens; ids beyond `length - 2` are cut.

    Args:
        ids: N token-id lists, without special tokens.
        sot, eot, pad: the start-of-text, end-of-text and padding ids.
        length: tokens per row L (>= 3).

    Returns:
        int64 (N, L); the eot of row n is at position min(len(ids[n]), L - 2) + 1.
    """
    rows = torch.full((len(ids), length), pad, dtype=torch.long)  # (N, L)
    for n, row in enumerate(ids):
        kept = row[: length - 2]
        rows[n, : len(kept) + 2] = torch.tensor([sot, *kept, eot], dtype=torch.long)
    return rows


class CaptionTokenizer:
    """Captions to int64 (N, context_length) rows (see the module docstring).

    Args:
        tokenizer: a `tokenizers.Tokenizer` with the tokens <pad> (id 0), <sot> and <eot>.
        context_length: tokens per row, <sot> and <eot> included (>= 3).
        source: what the tokenizer was read from, for error messages.
    """

    def __init__(self, tokenizer: Tokenizer, context_length: int = 32, source: str = "the tokenizer"):
        if context_length < MIN_CONTEXT:
            raise UserError(
                f"context_length is {context_length}; pass at least {MIN_CONTEXT} (<sot>, a token, <eot>), e.g. 32"
            )
        ids = {token: tokenizer.token_to_id(token) for token in SPECIAL_TOKENS}
        missing = [token for token, i in ids.items() if i is None]
        if missing or ids[PAD] != 0:
            what = f"has no {', '.join(missing)} token" if missing else f"gives {PAD} the id {ids[PAD]}, not 0"
            raise UserError(f"{source} {what}; {TOKENIZER_HINT}")
        tokenizer.no_padding()
        tokenizer.no_truncation()
        tokenizer.encode_special_tokens = True  # "<eot>" in a caption is text, not the end of text
        self._tokenizer = tokenizer
        self.context_length = context_length
        self.pad_id, self.sot_id, self.eot_id = ids[PAD], ids[SOT], ids[EOT]

    @property
    def vocab_size(self) -> int:
        """Token ids are in 0 .. vocab_size - 1 (special tokens included)."""
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    def encode(self, captions: list[str], where: str | list[str] = "the captions") -> Tensor:
        """Token rows of `captions`.

        Args:
            captions: N captions.
            where: what the captions come from, for the error an empty caption raises: one description for all
                (the error names `caption n of <where>`), or one per caption (e.g. "line 7 of train.csv").

        Returns:
            int64 (N, context_length), rows as in the module docstring.
        """
        for n, caption in enumerate(captions):
            if not caption.strip():
                place = where[n] if isinstance(where, list) else f"caption {n} of {where}"
                raise UserError(f"the caption of {place} is empty; write a caption there or remove the entry")
        encodings = self._tokenizer.encode_batch(list(captions), add_special_tokens=False)
        return frame_tokens([e.ids for e in encodings], self.sot_id, self.eot_id, self.pad_id, self.context_length)

    def decode(self, tokens: Tensor) -> str:
        """The text of one row int64 (L,): its tokens between <sot> and the first <eot>, normalised (lowercase)."""
        ids = tokens.tolist()
        end = ids.index(self.eot_id) if self.eot_id in ids else len(ids)
        return self._tokenizer.decode([i for i in ids[:end] if i != self.sot_id]).strip()

    def to_json(self) -> str:
        """The tokenizer.json text (data only: `from_json` reads it back without running anything)."""
        return self._tokenizer.to_str()

    @classmethod
    def from_json(cls, text: str, context_length: int = 32, source: str = "the tokenizer JSON") -> CaptionTokenizer:
        """The tokenizer of a tokenizer.json text; a one-line UserError naming `source` if it is not one."""
        try:
            tokenizer = Tokenizer.from_str(text)
        except Exception as e:  # the Rust parser raises a plain Exception
            raise UserError(f"{source} is not a tokenizer.json ({short_reason(e)}); {TOKENIZER_HINT}") from e
        return cls(tokenizer, context_length, source)

    @classmethod
    def from_file(cls, path: str | Path, context_length: int = 32) -> CaptionTokenizer:
        """The tokenizer saved in `path`; a one-line UserError if it is missing or not a tokenizer.json."""
        path = Path(path)
        if not path.is_file():
            raise UserError(f"the tokenizer {path.absolute()} does not exist; {TOKENIZER_HINT}")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise UserError(f"cannot read the tokenizer {path} ({short_reason(e)}); {TOKENIZER_HINT}") from e
        return cls.from_json(text, context_length, f"the tokenizer {path}")

    def __getstate__(self) -> dict:
        return {"json": self.to_json(), "context_length": self.context_length}

    def __setstate__(self, state: dict) -> None:  # DataLoader workers receive a copy through pickle
        self.__init__(Tokenizer.from_str(state["json"]), state["context_length"])


def _nonblank(captions: Iterable[str], counted: list[int]) -> Iterator[str]:
    for caption in captions:
        if caption.strip():
            counted[0] += 1
            yield caption


def train_tokenizer(
    captions: Iterable[str], path: str | Path, vocab_size: int = 8192, context_length: int = 32
) -> CaptionTokenizer:
    """Trains a byte-level BPE on `captions` (streamed once; blank ones skipped) and saves it as tokenizer.json.

    Args:
        captions: the training captions (never validation ones).
        path: the tokenizer.json to write (its folder is made).
        vocab_size: the most tokens, the 256 byte tokens and <pad>, <sot>, <eot> included; merges stop earlier
            when no pair of tokens occurs twice.
        context_length: tokens per row of the returned tokenizer (not saved in the file).

    Returns:
        the trained tokenizer.
    """
    least = BYTE_ALPHABET + len(SPECIAL_TOKENS) + 1
    if vocab_size < least:
        raise UserError(
            f"vocab_size {vocab_size} leaves no room for merges (256 byte tokens and {len(SPECIAL_TOKENS)} special "
            f"tokens come first); pass at least {least}, e.g. 8192"
        )
    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    counted = [0]
    tokenizer.train_from_iterator(_nonblank(captions, counted), trainer)
    if counted[0] == 0:
        raise UserError(f"no captions to train the tokenizer {path} on; pass a manifest with captions")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(path))
    return CaptionTokenizer(tokenizer, context_length, f"the tokenizer {path}")
