"""Weighted k-nearest-neighbour classifier on frozen features (Wu et al. 2018, InstDisc, section 3.4;
the lightly / MoCo-demo recipe): cosine similarity, the k most similar train features vote for their class
with weight exp(sim / temperature).

Pure functions; memory is O(chunk_size x N), so 60000 train features never make an (M, N) matrix.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics.functional.classification import multiclass_accuracy

KNN_K = 200  # neighbours of the kNN probe (Wu et al. 2018's 200-NN)
KNN_TEMPERATURE = 0.1  # vote temperature of the kNN probe


def knn_predict(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    num_classes: int,
    k: int = KNN_K,
    temperature: float = KNN_TEMPERATURE,
    chunk_size: int = 1024,
) -> Tensor:
    """Class predictions of a temperature-weighted kNN vote.

    InstDisc: "the top k nearest neighbours ... each neighbour votes with weight exp(s_i / tau)", and the
    class with the largest summed weight wins. The weights are computed as exp((s_i - s_max) / tau): the
    same ranking without overflow for small tau (exp(1 / 0.01) overflows float32).

    Args:
        train_features: (N, D) features of the labelled reference set (any scale; L2-normalised here).
        train_labels: (N,) int64 in [0, num_classes).
        test_features: (M, D) features to classify.
        num_classes: number of classes C.
        k: neighbours per query; clamped to N.
        temperature: tau of the vote weights; small tau approaches a 1-NN vote, large tau a plain majority.
        chunk_size: test rows per similarity block.

    Returns:
        (M,) int64 predicted classes, on test_features' device.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    train = F.normalize(train_features.float(), dim=1)  # (N, D)
    labels = train_labels.long().to(train.device)  # (N,)
    k = max(1, min(k, len(train)))
    preds = []
    for query in test_features.float().split(chunk_size):
        sim = F.normalize(query.to(train.device), dim=1) @ train.T  # (chunk, N) cosine similarities
        top_sim, top_idx = sim.topk(k, dim=1)  # (chunk, k), most similar first
        weights = ((top_sim - top_sim[:, :1]) / temperature).exp()  # (chunk, k) in (0, 1]
        votes = torch.zeros(len(query), num_classes, device=train.device)  # (chunk, C)
        votes.scatter_add_(1, labels[top_idx], weights)
        preds.append(votes.argmax(1))  # (chunk,)
    if not preds:
        return torch.empty(0, dtype=torch.long, device=test_features.device)
    return torch.cat(preds).to(test_features.device)


def knn_top1(
    train_features: Tensor,
    train_labels: Tensor,
    test_features: Tensor,
    test_labels: Tensor,
    num_classes: int,
    k: int = KNN_K,
    temperature: float = KNN_TEMPERATURE,
    chunk_size: int = 1024,
) -> float:
    """Top-1 accuracy in [0, 1] of `knn_predict` against test_labels (M,); other arguments as there."""
    preds = knn_predict(train_features, train_labels, test_features, num_classes, k, temperature, chunk_size)
    return float(multiclass_accuracy(preds.cpu(), test_labels.long().cpu(), num_classes, average="micro"))
