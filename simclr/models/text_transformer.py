"""Text tower of image-text models: tokens (B, L) -> the end-of-text feature (B, width), as in CLIP.

CLIP (Radford et al. 2021, section 2.4): "The text encoder is a Transformer ... The text sequence is bracketed
with [SOS] and [EOS] tokens and the activations of the highest layer of the transformer at the [EOS] token
are treated as the feature representation of the text which is layer normalized ... Masked self-attention
was used in the text encoder". The causal mask lets position i attend to positions <= i only, so the
feature at the end-of-text position never depends on the padding (or anything) after it.
"""

import math

import torch
from torch import Tensor, nn

from simclr.errors import UserError


class TextTransformer(nn.Module):
    """Token + learned position embeddings, pre-LN Transformer blocks with a causal mask, final LayerNorm,
    pooled at the end-of-text token: tokens int64 (B, L') -> (B, width), L' <= context_length.

    Args:
        vocab_size: number of token ids (ids 0 .. vocab_size - 1); at least the tokenizer's vocab_size.
        context_length: the longest token sequence (L); at least the tokenizer's context_length.
        width: model width, the size of the feature (`feature_dim`).
        layers: Transformer blocks (CLIP: 12).
        heads: attention heads; `width` must be a multiple of it (CLIP: 8 at width 512).
        mlp_ratio: hidden size of each block's MLP over `width` (CLIP: 4).
        dropout: dropout inside the blocks (CLIP: none).
        eot_id: the end-of-text token id; each row is pooled at its first occurrence. Default 2, the id of
            <eot> in this toolkit's tokenizers (`simclr.captions.CaptionTokenizer`: <pad> 0, <sot> 1, <eot> 2).
            None: CLIP's rule, the position of the row's largest id ("text.argmax(dim=-1)"), for a tokenizer
            whose end-of-text token has the largest id of its vocabulary.
    """

    def __init__(
        self,
        vocab_size: int,
        context_length: int = 32,
        width: int = 256,
        layers: int = 4,
        heads: int = 4,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        eot_id: int | None = 2,
    ):
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("context_length", context_length), ("width", width),
                            ("layers", layers), ("heads", heads)):  # fmt: skip
            if value < 1:
                raise UserError(
                    f"TextTransformer {name} must be >= 1, got {value}; set model.text_encoder.init_args.{name}"
                )
        if width % heads:
            raise UserError(
                f"TextTransformer width {width} is not a multiple of heads {heads}; set "
                f"model.text_encoder.init_args.heads to a divisor of the width (e.g. {math.gcd(width, 8)})"
            )
        if not (mlp_ratio > 0 and math.isfinite(mlp_ratio)) or not 0 <= dropout < 1:
            raise UserError(
                f"TextTransformer needs mlp_ratio > 0 and dropout in [0, 1), got {mlp_ratio} and {dropout}; CLIP uses 4 and 0"
            )
        if eot_id is not None and not 0 <= eot_id < vocab_size:
            raise UserError(
                f"TextTransformer eot_id {eot_id} is not a token id of the vocabulary of {vocab_size}; set "
                f"model.text_encoder.init_args.eot_id to the tokenizer's eot_id, or null for the largest id"
            )
        self.vocab_size = vocab_size
        self.context_length = context_length
        self.eot_id = eot_id
        self.feature_dim: int = width
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.position_embedding = nn.Parameter(torch.empty(context_length, width))
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(
                width,
                heads,
                dim_feedforward=round(mlp_ratio * width),
                dropout=dropout,
                activation="gelu",
                batch_first=True,
                norm_first=True,
            )
            for _ in range(layers)
        )
        self.final_norm = nn.LayerNorm(width)
        causal = torch.full((context_length, context_length), float("-inf")).triu(1)  # (L, L): -inf above the diagonal
        self.register_buffer("causal_mask", causal, persistent=False)
        self.reset_parameters(layers)

    def reset_parameters(self, layers: int) -> None:
        """CLIP's initialisation: embeddings N(0, 0.02) and N(0, 0.01); the output projection of every residual
        branch scaled down by sqrt(2 * layers), so the residual stream's variance does not grow with depth."""
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.position_embedding, std=0.01)
        width = self.feature_dim
        for block in self.blocks:
            nn.init.normal_(block.self_attn.in_proj_weight, std=width**-0.5)
            nn.init.normal_(block.self_attn.out_proj.weight, std=width**-0.5 * (2 * layers) ** -0.5)
            nn.init.normal_(block.linear1.weight, std=(2 * width) ** -0.5)
            nn.init.normal_(block.linear2.weight, std=width**-0.5 * (2 * layers) ** -0.5)

    def check_tokens(self, tokens: Tensor) -> None:
        """One-line UserError for token rows longer than the context or ids outside the vocabulary (reads the
        largest and smallest id back to the host: an id out of range would otherwise fail inside the embedding,
        on a GPU as an unreadable device-side assert)."""
        if tokens.dim() != 2 or tokens.dtype not in (torch.int64, torch.int32):
            raise UserError(f"TextTransformer takes int64 token ids (B, L), got {tuple(tokens.shape)} {tokens.dtype}")
        if tokens.shape[1] > self.context_length:
            raise UserError(
                f"TextTransformer got {tokens.shape[1]} tokens per text but its context_length is {self.context_length}; "
                f"set model.text_encoder.init_args.context_length >= {tokens.shape[1]} (or tokenize shorter)"
            )
        if tokens.numel() and not 0 <= int(tokens.min()) <= int(tokens.max()) < self.vocab_size:
            raise UserError(
                f"TextTransformer got token id {int(tokens.max())} (smallest {int(tokens.min())}), outside its vocabulary "
                f"of {self.vocab_size}; set model.text_encoder.init_args.vocab_size to the tokenizer's vocab_size"
            )

    def eot_positions(self, tokens: Tensor) -> Tensor:
        """tokens (B, L') -> (B,) int64, each row's end-of-text position (its first `eot_id`, or its largest id)."""
        if self.eot_id is None:
            return tokens.argmax(dim=1)  # the first occurrence of the row's largest id
        return (tokens == self.eot_id).int().argmax(dim=1)  # first eot; 0 for a row without one

    def forward(self, tokens: Tensor) -> Tensor:
        """tokens int64 (B, L'), L' <= context_length -> the layer-normalised end-of-text feature (B, width)."""
        self.check_tokens(tokens)
        length = tokens.shape[1]
        x = self.token_embedding(tokens) + self.position_embedding[:length]  # (B, L', width)
        mask = self.causal_mask[:length, :length]  # (L', L')
        for block in self.blocks:
            x = block(x, src_mask=mask, is_causal=True)  # (B, L', width)
        x = x[torch.arange(x.shape[0], device=x.device), self.eot_positions(tokens)]  # (B, width)
        return self.final_norm(x)
