"""Random streams of a run, kept so that a resumed run draws exactly what an uninterrupted one would.

- `AugmentationRNG`: the training augmentations' stream. Step s on rank r draws from torch's global
  generators (CPU, and the batch's CUDA device) reseeded with `stream_seed(seed, r, s)` inside
  `torch.random.fork_rng`. Reseeding per step, rather than carrying one generator's state, because
  (1) our ops and kornia draw from the global generator (kornia takes no generator argument), (2) the
  state is just (seed, step), the same on every rank, while only rank 0 writes checkpoints, and (3) DDP
  ranks get different augmentation parameters for their shards. The global RNG is left untouched.
- `collect_rng_states` / `set_rng_states`: torch (CPU and CUDA), numpy and Python global states, which
  `simclr.safety.resume.ResumeCallback` keeps in every checkpoint.
The data order is the third stream: `simclr.data.resumable` (seeded per epoch, batches skipped on resume).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch


def stream_seed(seed: int, rank: int, step: int) -> int:
    """A 64-bit seed for (run seed, rank, step), well mixed (numpy SeedSequence): nearby inputs give
    unrelated seeds, so rank 0 step 1 and rank 1 step 0 do not share a stream."""
    entropy = [int(seed) % 2**64, int(rank), int(step)]
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0])


class AugmentationRNG:
    """The stream of the training augmentations; its state (seed, step) goes into checkpoints.

    Args:
        seed: the run's seed; default `torch.initial_seed()`, i.e. the seed `seed_everything` set.
    """

    def __init__(self, seed: int | None = None):
        self.seed = torch.initial_seed() if seed is None else int(seed)
        self.step = 0  # training batches augmented so far

    @contextmanager
    def draw(self, device: torch.device | str, rank: int = 0) -> Iterator[None]:
        """Inside the block, torch's global CPU generator (and `device`'s, if CUDA) give this step's draws;
        outside, they are as before. Each use advances the stream by one step. No host-device sync."""
        device = torch.device(device)
        cuda = device.type == "cuda"
        index = (device.index if device.index is not None else torch.cuda.current_device()) if cuda else None
        with torch.random.fork_rng(devices=[index] if cuda else [], device_type="cuda"):
            seed = stream_seed(self.seed, rank, self.step)
            torch.default_generator.manual_seed(seed)
            if cuda:
                torch.cuda.default_generators[index].manual_seed(seed)
            yield
        self.step += 1

    def state_dict(self) -> dict[str, int]:
        return {"seed": self.seed, "step": self.step}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.seed, self.step = int(state["seed"]), int(state["step"])


def collect_rng_states() -> dict[str, Any]:
    """torch CPU and CUDA, numpy and Python global RNG states, as types `torch.load(weights_only=True)` accepts
    (Lightning's `_collect_rng_states` keeps numpy's state as an ndarray, which weights-only loading refuses)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "torch.cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss)],
        "python": random.getstate(),
    }


def set_rng_states(states: dict[str, Any]) -> None:
    """Restores what `collect_rng_states` returned; CUDA states only onto as many devices as were saved."""
    torch.set_rng_state(states["torch"])
    cuda = states.get("torch.cuda") or []
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    kind, keys, pos, has_gauss, gauss = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = states["python"]
    random.setstate((version, tuple(internal), gauss_next))
