"""Greyscale image folders: `ImageFolder(channels=1)` gives the BT.601 luma of the RGB images."""

import pytest
import torch
from helpers.fakedata import write_image_folder

from simclr.data.channels import as_channels
from simclr.data.image_folder import ImageFolder
from simclr.errors import UserError


def test_image_folder_greyscale(tmp_path):
    """channels=1: each image is the luma of the RGB one, in both the train and the test split."""
    root = str(write_image_folder(tmp_path / "train", n_per_class=10))
    write_image_folder(tmp_path / "val", n_per_class=4)
    rgb, grey = ImageFolder(root, image_size=16), ImageFolder(root, image_size=16, channels=1)
    rgb.setup("fit")
    grey.setup("fit")
    for split in ("train", "test"):
        image, _ = grey.labelled_dataset(split)[0]
        assert image.shape == (1, 16, 16) and image.dtype == torch.uint8
        assert torch.equal(image, as_channels(rgb.labelled_dataset(split)[0][0], 1))
    with pytest.raises(UserError, match="channels is 2"):
        ImageFolder(root, channels=2)
