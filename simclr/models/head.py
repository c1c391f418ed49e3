"""Projection head g(.) mapping h to z (SimCLR section 2.1: "z_i = g(h_i) = W2 relu(W1 h_i)")."""

from torch import Tensor, nn

from simclr.errors import UserError


class ProjectionHead(nn.Module):
    """MLP Linear-BN-ReLU x (num_layers - 1), then Linear: h (B, in_dim) -> z (B, out_dim).

    SimCLR v1 uses two layers; SimCLR v2 three, and finds probing from the middle layer helps. Every
    hidden activation is reachable through `layers` (one `nn.Sequential` per layer) and
    `forward_all`, so a linear probe can read each of them.

    Args:
        in_dim: size of h (the encoder's `feature_dim`); the SimCLR module fills it in from its encoder.
        hidden_dim: width of the hidden layers (default 2048); a head of one layer has none, so giving
            it with `num_layers: 1` is an error.
        out_dim: size of z (128 in the paper).
        num_layers: number of Linear layers, >= 1.
        batch_norm_last: BatchNorm on z without affine, as in SimCLR v2's implementation.
    """

    def __init__(
        self,
        in_dim: int,
        hidden_dim: int | None = None,
        out_dim: int = 128,
        num_layers: int = 2,
        batch_norm_last: bool = False,
    ):
        super().__init__()
        if num_layers < 1:
            raise UserError(f"ProjectionHead num_layers must be >= 1, got {num_layers}; SimCLR v1 uses 2, v2 uses 3")
        if num_layers == 1 and hidden_dim is not None:
            raise UserError(
                f"ProjectionHead hidden_dim {hidden_dim} has no layer to size with num_layers 1; drop hidden_dim "
                f"(--model.head.init_args.hidden_dim null) or use num_layers >= 2"
            )
        hidden_dim = 2048 if hidden_dim is None else hidden_dim
        for name, value in (("in_dim", in_dim), ("hidden_dim", hidden_dim), ("out_dim", out_dim)):
            if value < 1:
                raise UserError(f"ProjectionHead {name} must be >= 1, got {value}; the paper uses out_dim 128")
        dims = [in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
        layers = []
        for i in range(num_layers - 1):
            layers.append(
                nn.Sequential(
                    nn.Linear(dims[i], dims[i + 1], bias=False), nn.BatchNorm1d(dims[i + 1]), nn.ReLU(inplace=True)
                )
            )
        last = [nn.Linear(dims[-2], out_dim, bias=not batch_norm_last)]
        if batch_norm_last:
            last.append(nn.BatchNorm1d(out_dim, affine=False))
        layers.append(nn.Sequential(*last))
        self.layers = nn.ModuleList(layers)
        self.out_dim = out_dim
        self.dims = dims[1:]  # output size of each layer

    def forward(self, h: Tensor) -> Tensor:
        """h (B, in_dim) -> z (B, out_dim)."""
        for layer in self.layers:
            h = layer(h)
        return h

    def forward_all(self, h: Tensor) -> list[Tensor]:
        """h (B, in_dim) -> the output of every layer [(B, hidden_dim), ..., z (B, out_dim)]."""
        outs = []
        for layer in self.layers:
            h = layer(h)
            outs.append(h)
        return outs
