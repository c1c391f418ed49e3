"""Transformation probes (what h / z keep about rotation and brightness)."""

import torch
from helpers import fakedata
from torch import nn

from simclr.eval.invariance import BRIGHTNESS_LEVELS, brightness_task, rotation_task, transformation_probe
from simclr.eval.linear_probe import ProbeRecipe


def normalise(x):
    return x.float() / 255


def test_rotation_task_turns_image_n_by_n_mod_4():
    images = fakedata.fake_images(8, (1, 6, 6), seed=0)
    turned, labels = rotation_task(images)
    assert labels.tolist() == [0, 1, 2, 3, 0, 1, 2, 3] and turned.dtype == torch.uint8
    for i in range(8):
        assert torch.equal(turned[i], torch.rot90(images[i], int(labels[i]), dims=(-2, -1)))


def test_brightness_task_scales_and_clamps():
    images = torch.full((5, 1, 2, 2), 200, dtype=torch.uint8)
    scaled, labels = brightness_task(images)
    assert labels.tolist() == [0, 1, 2, 3, 4]
    expected = [min(255, round(200 * b)) for b in BRIGHTNESS_LEVELS]  # 120, 160, 200, 240, 255 (clamped)
    assert scaled[:, 0, 0, 0].tolist() == expected


def test_transformation_probe_reads_orientation_from_pixels_but_not_from_an_invariant_feature():
    images = fakedata.fake_images(400, (1, 8, 8), seed=1) // 4  # dim noise ...
    images[:, :, :3, :3] = 255  # ... and a bright top-left corner that the quarter turn moves
    turned, labels = rotation_task(images)
    pixels = nn.Flatten()  # h = raw pixels: the corner's position gives the rotation away
    mean_brightness = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())  # (B, 1): rotation-invariant
    recipe = ProbeRecipe(max_iter=50)
    assert transformation_probe(pixels, None, normalise, turned, labels, recipe)["h"] > 0.95
    invariant = transformation_probe(mean_brightness, None, normalise, turned, labels, recipe)["h"]
    assert invariant < 0.4  # chance is 0.25
