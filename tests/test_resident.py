"""Device-resident data mode (simclr/resident.py via ImageDataModule(device_resident=True))."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from helpers.fakedata import write_cifar10, write_fashion_mnist, write_image_folder, write_stl10
from test_module import tiny_model

from simclr.data import datamodules as data
from simclr.data.resident import IndexBatch


def resident_batches(dm: data.ImageDataModule, loader, device) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [dm.transfer_batch_to_device(batch, device, 0) for batch in loader]


@pytest.mark.parametrize("name", ["cifar10", "stl10"])
def test_resident_batches_equal_the_host_gathered_images(tmp_path, device, name):
    if name == "cifar10":
        kwargs = dict(root=str(write_cifar10(tmp_path, n_train=20, n_test=12)))
        module = data.CIFAR10
    else:  # unlabeled + train: a ConcatImages, concatenated on the device
        kwargs = dict(root=str(write_stl10(tmp_path, n_train=8, n_test=12, n_unlabeled=12)))
        module = data.STL10
    dm = module(batch_size=8, val_batch_size=5, device_resident=True, **kwargs)
    dm.setup("fit")
    torch.manual_seed(0)
    index_batches = list(dm.train_dataloader())
    assert all(isinstance(b, IndexBatch) and b.indices.dtype == torch.long for b in index_batches)
    assert len(index_batches) == 2  # 20 images, batch 8, last short batch dropped as in host mode
    train = dm.dataset("train")
    for batch in index_batches:
        images, labels = dm.transfer_batch_to_device(batch, device, 0)
        ref_images, ref_labels = train.__getitems__(batch.indices.tolist())
        assert images.device.type == device.type and images.dtype == torch.uint8
        assert torch.equal(images.cpu(), ref_images) and torch.equal(labels.cpu(), ref_labels)
    val = resident_batches(dm, dm.val_dataloader(), device)
    assert [len(labels) for _, labels in val] == [5, 5, 2]  # in order, last short batch kept
    assert torch.equal(torch.cat([x for x, _ in val]).cpu(), dm.dataset("val").images)


def test_resident_epoch_is_a_permutation_and_the_set_is_copied_once(tmp_path, device):
    dm = data.FashionMNIST(
        str(write_fashion_mnist(tmp_path, n_train=20, n_test=12)), batch_size=4, device_resident=True
    )
    dm.setup("fit")
    seen = torch.cat([b.indices for b in dm.train_dataloader()])
    assert sorted(seen.tolist()) == list(range(20))  # every image once per epoch
    resident_batches(dm, dm.train_dataloader(), device)
    held = dm._resident._tensors["train"][0]
    assert held.device.type == device.type and held.shape == (20, 1, 28, 28)
    resident_batches(dm, dm.train_dataloader(), device)
    assert dm._resident._tensors["train"][0] is held  # reused, not copied again
    dm.teardown("fit")
    assert not dm._resident._tensors


def test_host_mode_is_unchanged(tmp_path):
    dm = data.FashionMNIST(str(write_fashion_mnist(tmp_path, n_train=20, n_test=12)), batch_size=4)
    dm.setup("fit")
    images, labels = next(iter(dm.train_dataloader()))
    assert images.dtype == torch.uint8 and images.shape == (4, 1, 28, 28)
    moved = dm.transfer_batch_to_device((images, labels), torch.device("cpu"), 0)
    assert torch.equal(moved[0], images)


def test_resident_mode_rejects_image_folders(tmp_path):
    write_image_folder(tmp_path / "val", n_per_class=6, size=(20, 24))
    dm = data.ImageFolder(
        str(write_image_folder(tmp_path / "train", n_per_class=10)), image_size=16, batch_size=4, device_resident=True
    )
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    with pytest.raises(TypeError, match="device_resident: false"):
        dm.transfer_batch_to_device(batch, torch.device("cpu"), 0)


def test_fit_with_resident_data_trains(tmp_path):
    torch.manual_seed(0)
    dm = data.FashionMNIST(
        str(write_fashion_mnist(tmp_path, n_train=32, n_test=16)), batch_size=8, device_resident=True
    )
    model = tiny_model()
    before = model.encoder.net.conv1.weight.detach().clone()
    fit = L.Trainer(
        accelerator="cpu",
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    fit.fit(model, datamodule=dm)
    assert fit.global_step == 4
    assert torch.isfinite(fit.callback_metrics["train/loss"]) and torch.isfinite(fit.callback_metrics["val/loss"])
    assert not torch.equal(before, model.encoder.net.conv1.weight)
    assert not dm._resident._tensors  # freed at teardown


@pytest.mark.parametrize("device_resident", [False, True])
def test_loaders_pin_host_memory_exactly_when_cuda_is_used(tmp_path, device_resident):
    # Pinned uint8 batches (or index batches) let Lightning's non_blocking copy overlap with compute.
    dm = data.FashionMNIST(
        str(write_fashion_mnist(tmp_path, n_train=20, n_test=12)), batch_size=4, device_resident=device_resident
    )
    dm.setup("fit")
    assert dm.train_dataloader().pin_memory == torch.cuda.is_available()
    unpinned = data.FashionMNIST(dm.root, batch_size=4, pin_memory=False, device_resident=device_resident)
    unpinned.setup("fit")
    assert unpinned.train_dataloader().pin_memory is False
