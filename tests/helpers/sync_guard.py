"""A CPU-side check that code never reads a tensor back to the host (a host sync on CUDA).

On the CPU a host read costs nothing and `torch.cuda.set_sync_debug_mode` does not exist, so a CPU-only CI
needs another way to prove a step sync-free. `NoHostReads` combines two nets:
- a TorchDispatchMode that sees every aten op run in this thread, forward and backward, and raises on
  the ops that need a device value on the host: `_local_scalar_dense` (behind `.item()`, `bool(t)`,
  `float(t)`, `if t:`), `nonzero`, `masked_select`, `unique*`, and indexing with a boolean mask;
- patched Tensor methods that leave the dispatcher without an op: `tolist`, `numpy`, `cpu`.
"""

from __future__ import annotations

import torch
from torch.utils._python_dispatch import TorchDispatchMode

aten = torch.ops.aten
SYNC_OPS = {
    aten._local_scalar_dense.default,  # .item(), bool(t), float(t), int(t)
    aten.nonzero.default,  # output size depends on the values
    aten.masked_select.default,
    aten._unique2.default,
    aten.unique_dim.default,
    aten.unique_consecutive.default,
}
HOST_METHODS = ("tolist", "numpy", "cpu")


class HostReadError(AssertionError):
    """Raised when guarded code reads a tensor value back to the host."""


class NoHostReads(TorchDispatchMode):
    """Context manager that raises HostReadError on a host read.

    Args:
        patch_methods: also patch `tolist` / `numpy` / `cpu` (leave False around host-side code that
            legitimately reads CPU tensors, such as a DataLoader's sampler).
    """

    def __init__(self, patch_methods: bool = True):
        super().__init__()
        self.patch_methods = patch_methods

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in SYNC_OPS:
            raise HostReadError(f"host sync: aten.{func.__name__}")
        if func in (aten.index.Tensor, aten.index_put.default, aten.index_put_.default):
            indices = args[1] if len(args) > 1 else kwargs.get("indices", [])
            if any(i is not None and i.dtype == torch.bool for i in indices):
                raise HostReadError(f"host sync: boolean-mask indexing (aten.{func.__name__})")
        return func(*args, **kwargs)

    def __enter__(self):
        self._saved = {name: getattr(torch.Tensor, name) for name in HOST_METHODS} if self.patch_methods else {}
        for name in self._saved:
            setattr(torch.Tensor, name, _raiser(name))
        return super().__enter__()

    def __exit__(self, *exc):
        try:
            return super().__exit__(*exc)
        finally:
            for name, method in self._saved.items():
                setattr(torch.Tensor, name, method)


def _raiser(name: str):
    def host_read(self, *args, **kwargs):
        raise HostReadError(f"host sync: Tensor.{name}")

    return host_read
