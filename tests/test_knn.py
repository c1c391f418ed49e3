"""Weighted kNN: known neighbours, temperature weighting, chunking, k > N."""

import math

import torch

from simclr.eval.knn import knn_predict, knn_top1


def circle(angles_deg: list[float]) -> torch.Tensor:
    """Points on the unit circle (n, 2) at the given angles."""
    a = torch.tensor(angles_deg) * math.pi / 180
    return torch.stack([a.cos(), a.sin()], dim=1)


def test_clusters_on_the_circle():
    train = circle([0, 10, -10, 90, 100, 80, 180, 190, 170]) * 3  # scale must not matter (cosine)
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2])
    test = circle([5, 95, 175, -3])
    assert torch.equal(knn_predict(train, labels, test, 3, k=3), torch.tensor([0, 1, 2, 0]))
    assert knn_top1(train, labels, test, torch.tensor([0, 1, 2, 1]), 3, k=3) == 0.75


def test_temperature_weighting_flips_a_two_to_one_vote():
    # One class-0 neighbour very close (cos 1), two class-1 neighbours at 60 degrees (cos 0.5).
    train = circle([0, 60, -60])
    labels = torch.tensor([0, 1, 1])
    test = circle([0])
    # tau = 0.1: weights e^0 = 1 vs 2 e^-5 ~ 0.013, the single close neighbour wins
    assert knn_predict(train, labels, test, 2, k=3, temperature=0.1).item() == 0
    # tau = 10: weights ~1 each, the majority wins 2 to 1
    assert knn_predict(train, labels, test, 2, k=3, temperature=10.0).item() == 1
    # tiny tau does not overflow
    assert knn_predict(train, labels, test, 2, k=3, temperature=1e-4).item() == 0


def test_chunking_matches_one_chunk_and_k_larger_than_n():
    gen = torch.Generator().manual_seed(0)
    train, test = torch.randn(50, 6, generator=gen), torch.randn(37, 6, generator=gen)
    labels = torch.randint(0, 4, (50,), generator=gen)
    whole = knn_predict(train, labels, test, 4, k=7, chunk_size=1000)
    assert torch.equal(whole, knn_predict(train, labels, test, 4, k=7, chunk_size=5))
    big_k = knn_predict(train, labels, test, 4, k=500, temperature=1e3)  # all 50 vote about equally
    assert big_k.shape == (37,) and big_k.dtype == torch.long
    assert torch.equal(big_k, torch.full((37,), int(torch.bincount(labels).argmax())))
