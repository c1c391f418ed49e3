"""Image patches and multi-crop as views: ids, coverage, counts and sizes."""

import pytest
import torch
from torch import nn

from augmentations.errors import ConfigError
from augmentations.multicrop import MultiCrop
from augmentations.patches import GridPatches, RandomPatches, cut_patches, grid_boxes
from augmentations.presets import simclr_fashion_mnist
from simclr.methods.base import encode_views, global_view_count


class Identity(nn.Module):
    """A pipeline that leaves pixels in [0, 1] unchanged (normalise: uint8 -> float)."""

    def normalise(self, images):
        return images.float() / 255

    def forward(self, x):
        return x


def test_grid_boxes_tile_the_image():
    boxes = grid_boxes(28, 28, 2)
    assert boxes.tolist() == [[0, 0, 14, 14], [14, 0, 28, 14], [0, 14, 14, 28], [14, 14, 28, 28]]
    covered = torch.zeros(12, 12)
    for x0, y0, x1, y1 in grid_boxes(12, 12, 3).long().tolist():
        covered[y0:y1, x0:x1] += 1
    assert torch.equal(covered, torch.ones(12, 12))  # every pixel in exactly one cell


def test_grid_patches_of_one_image_share_its_row_and_cover_the_grid():
    b, side = 3, 8
    # pixel value = 10 * image id + cell id (cells of 4 x 4), so a patch says where it came from
    cell = torch.arange(4).view(2, 2).repeat_interleave(4, 0).repeat_interleave(4, 1)  # (8, 8)
    images = (10 * torch.arange(b).view(b, 1, 1, 1) + cell).to(torch.uint8)  # (3, 1, 8, 8)
    views = GridPatches(Identity(), grid=2, size=side // 2)(images)
    assert len(views) == 4 and all(v.shape == (b, 1, 4, 4) for v in views)
    for v, view in enumerate(views):
        values = (view * 255).round().long()
        for image in range(b):
            assert torch.all(values[image] == 10 * image + v)  # row b is image b (its id), view v is cell v


def test_random_patches_stay_inside_the_image():
    torch.manual_seed(0)
    images = torch.full((2, 1, 16, 16), 200, dtype=torch.uint8)
    views = RandomPatches(Identity(), n_views=3, fraction=0.5, size=8)(images)
    assert len(views) == 3 and all(v.shape == (2, 1, 8, 8) for v in views)
    assert all(torch.allclose(v, torch.full_like(v, 200 / 255)) for v in views)  # no border padding


def test_cut_patches_is_patch_major():
    images = torch.arange(2.0).view(2, 1, 1, 1).expand(2, 1, 4, 4)
    boxes = torch.tensor([[0.0, 0, 2, 2], [2, 2, 4, 4]])[:, None].expand(2, 2, 4)  # (P, B, 4)
    out = cut_patches(images, boxes, 2)
    assert out.shape == (4, 1, 2, 2)
    assert out.flatten(1).mean(1).tolist() == [0, 1, 0, 1]


def test_multicrop_counts_and_sizes():
    crop = MultiCrop(simclr_fashion_mnist(size=28), simclr_fashion_mnist(size=12), n_global=2, n_local=3)
    views = crop(torch.randint(0, 256, (5, 1, 28, 28), dtype=torch.uint8))
    assert [tuple(v.shape) for v in views] == [(5, 1, 28, 28)] * 2 + [(5, 1, 12, 12)] * 3
    assert global_view_count(views) == 2
    assert crop.normalise(torch.zeros(1, 1, 28, 28, dtype=torch.uint8)).shape == (1, 1, 28, 28)


def test_views_of_each_size_go_through_the_encoder_in_one_call():
    calls = []

    class Recorder(nn.Module):
        def forward(self, x):
            calls.append(tuple(x.shape))
            return x.flatten(1)[:, :3]

    views = [torch.randn(4, 1, 28, 28)] * 2 + [torch.randn(4, 1, 12, 12)] * 3
    h = encode_views(Recorder(), views)
    assert calls == [(8, 1, 28, 28), (12, 1, 12, 12)]
    assert h.shape == (20, 3) and torch.equal(h[8:12], views[2].flatten(1)[:, :3])


def test_bad_view_options_are_config_errors():
    with pytest.raises(ConfigError, match="grid must be >= 2"):
        GridPatches(Identity(), grid=1)
    with pytest.raises(ConfigError, match="fraction must be in"):
        RandomPatches(Identity(), fraction=1.5)
    with pytest.raises(ConfigError, match="2 views in all"):
        MultiCrop(Identity(), Identity(), n_global=1, n_local=0)
