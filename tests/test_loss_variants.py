"""Multi-view NT-Xent, sigmoid loss, SupCon, learnt temperature and negative pruning against plain loops."""

import math

import pytest
import torch
import torch.nn.functional as F

from simclr.losses.nt_xent import NTXentLoss, multiview_nt_xent, nt_xent
from simclr.losses.pairs import contrastive_pairs
from simclr.losses.pruning import NegativePruning, prune_mask
from simclr.losses.sigmoid import SigmoidLoss, sigmoid_loss
from simclr.losses.supcon import SupConLoss, supcon
from simclr.losses.temperature import Temperature
from simclr.training.pair_budget import ConstantPairsBudget, constant_pairs_factor


def flat(z, ids):
    """(V, N, D) -> list of (embedding, id) in the loss's anchor order (view-major), float64 unit vectors."""
    return [(F.normalize(z[v, i].double(), dim=0), ids[i]) for v in range(z.shape[0]) for i in range(z.shape[1])]


def nce_loop(z, ids, tau, pruned=None):
    """-1/|P(a)| sum_p log exp(s_ap/tau) / sum_{k != a, k not pruned} exp(s_ak/tau), mean over anchors a."""
    e = flat(z, ids)
    total = 0.0
    for a, (za, ya) in enumerate(e):
        denom = sum(
            torch.exp(za @ zk / tau) for k, (zk, _) in enumerate(e) if k != a and (pruned is None or not pruned[a][k])
        )
        pos = [p for p, (_, yp) in enumerate(e) if p != a and yp == ya]
        total += sum(-torch.log(torch.exp(za @ e[p][0] / tau) / denom) for p in pos) / len(pos)
    return total / len(e)


def sigmoid_loop(z, tau, b):
    e = flat(z, list(range(z.shape[1])))
    total = 0.0
    for a, (za, ya) in enumerate(e):
        for k, (zk, yk) in enumerate(e):
            if k != a:
                y = 1.0 if yk == ya else -1.0
                total += -math.log(1 / (1 + math.exp(-y * ((za @ zk).item() / tau + b))))
    return total / len(e)


GRID = [(v, n, d, tau) for v in (2, 3) for n in (2, 5) for d in (3, 16) for tau in (0.1, 0.5)]


@pytest.mark.parametrize("v,n,d,tau", GRID)
def test_multiview_nt_xent_matches_loop(v, n, d, tau):
    z = torch.randn(v, n, d, generator=torch.Generator().manual_seed(v * 1000 + n * 10 + d))
    expected = nce_loop(z, list(range(n)), tau)
    assert multiview_nt_xent(z, tau).item() == pytest.approx(expected.item(), rel=1e-5, abs=1e-5)


@pytest.mark.parametrize("v,n,d,tau", GRID)
def test_supcon_matches_loop(v, n, d, tau):
    g = torch.Generator().manual_seed(v * 1000 + n * 10 + d)
    z, labels = torch.randn(v, n, d, generator=g), torch.randint(0, 2, (n,), generator=g)
    expected = nce_loop(z, labels.tolist(), tau)
    assert supcon(z, labels, tau).item() == pytest.approx(expected.item(), rel=1e-5, abs=1e-5)


@pytest.mark.parametrize("v,n,d,tau", GRID)
@pytest.mark.parametrize("b", [-10.0, 0.0])
def test_sigmoid_matches_loop(v, n, d, tau, b):
    z = torch.randn(v, n, d, generator=torch.Generator().manual_seed(v * 1000 + n * 10 + d))
    assert sigmoid_loss(z, tau, b).item() == pytest.approx(sigmoid_loop(z, tau, b), rel=1e-5, abs=1e-5)


def test_two_view_forms_agree():
    z_a, z_b = torch.randn(6, 8), torch.randn(6, 8)
    z = torch.stack([z_a, z_b])
    assert torch.equal(nt_xent(z_a, z_b, 0.3), multiview_nt_xent(z, 0.3))
    assert torch.equal(NTXentLoss(0.3)(z_a, z_b), nt_xent(z_a, z_b, 0.3))
    assert torch.allclose(supcon(z, torch.arange(6), 0.3), nt_xent(z_a, z_b, 0.3))  # unique labels = NT-Xent


@pytest.mark.parametrize("v,n", [(2, 4), (3, 5), (4, 2)])
def test_identical_embeddings_closed_forms(v, n):
    z, tau, b = torch.ones(v, n, 8), 0.3, -2.0
    assert multiview_nt_xent(z, tau).item() == pytest.approx(math.log(v * n - 1), rel=1e-6)
    assert supcon(z, torch.arange(n) % 2, tau).item() == pytest.approx(math.log(v * n - 1), rel=1e-6)
    pos, neg = -F.logsigmoid(torch.tensor(1 / tau + b)), -F.logsigmoid(torch.tensor(-(1 / tau + b)))
    assert sigmoid_loss(z, tau, b).item() == pytest.approx(((v - 1) * pos + (v * n - v) * neg).item(), rel=1e-6)


def test_temperature_edge_cases():
    z = torch.randn(2, 8, 16) * 1e3
    for loss in (multiview_nt_xent(z, 0.01), sigmoid_loss(z, 0.01, -10.0), supcon(z, torch.arange(8) % 3, 0.01)):
        assert torch.isfinite(loss)
    # tau -> infinity: every logit -> 0, the softmax is uniform over the 2N - 1 candidates
    assert multiview_nt_xent(z, 1e6).item() == pytest.approx(math.log(15), rel=1e-5)
    for bad in (0.0, -1.0, float("nan")):
        for call in (
            lambda: multiview_nt_xent(z, bad),
            lambda: sigmoid_loss(z, bad),
            lambda: SupConLoss(bad),
            lambda: SigmoidLoss(bad),
        ):
            with pytest.raises(ValueError, match="temperature must be > 0"):
                call()
    with pytest.raises(ValueError, match="min_temperature"):
        NTXentLoss(0.2, learnable_temperature=True, min_temperature=0.5)


def test_learnt_temperature_starts_at_value_and_is_clamped():
    t = Temperature(0.2, learnable=True, min_value=0.05)
    assert t().item() == pytest.approx(0.2) and t.log_inv.requires_grad
    z = torch.randn(2, 6, 4)
    fixed, learnt = NTXentLoss(0.2), NTXentLoss(0.2, learnable_temperature=True, min_temperature=0.05)
    assert learnt(*z).item() == pytest.approx(fixed(*z).item(), rel=1e-6)
    learnt(*z).backward()
    assert learnt.temperature.log_inv.grad.abs() > 0
    with torch.no_grad():
        learnt.temperature.log_inv.fill_(math.log(1 / 0.001))  # beyond the clamp
    learnt.temperature.log_inv.grad = None
    assert learnt.temperature().item() == pytest.approx(0.05)
    learnt(*z).backward()
    assert learnt.temperature.log_inv.grad.item() == 0.0  # clamped: no gradient pushes it further
    sig = SigmoidLoss()
    assert sig.temperature().item() == pytest.approx(0.1) and sig.bias.item() == -10.0  # SigLIP's t' = log 10, b = -10


def test_losses_reject_wrong_inputs():
    with pytest.raises(ValueError, match="at least 2 views"):
        multiview_nt_xent(torch.randn(1, 4, 3))
    with pytest.raises(ValueError, match="at least 2 images"):
        sigmoid_loss(torch.randn(2, 1, 3))
    with pytest.raises(ValueError, match="needs the batch's labels"):
        SupConLoss()(torch.randn(4, 3), torch.randn(4, 3))
    with pytest.raises(ValueError, match="one label per image"):
        supcon(torch.randn(2, 4, 3), torch.arange(5))


@pytest.mark.parametrize("fraction", [0.0, 0.25, 0.5, 0.9])
@pytest.mark.parametrize("drop", ["random", "hardest", "easiest"])
def test_pruning_drops_exactly_the_requested_negatives(fraction, drop):
    z, labels = torch.randn(2, 7, 5), torch.tensor([0, 1, 1, 2, 0, 0, 3])  # SupCon masks: rows differ in negatives
    for pairs in (contrastive_pairs(z), contrastive_pairs(z, labels)):
        pruned = prune_mask(pairs.sim, pairs.neg_mask, fraction, drop)
        assert not (pruned & ~pairs.neg_mask).any()  # never a positive or the anchor itself
        for a in range(pairs.sim.shape[0]):
            negs = pairs.neg_mask[a].nonzero().squeeze(1).tolist()
            k = math.floor(fraction * len(negs) + 1e-6)
            assert int(pruned[a].sum()) == k
            by_sim = sorted(negs, key=lambda c: pairs.sim[a, c].item(), reverse=drop == "hardest")
            if drop != "random":
                assert set(pruned[a].nonzero().squeeze(1).tolist()) == set(by_sim[:k])


def test_drop_names_what_leaves_the_loss():
    """drop="easiest" keeps the hard negatives (the literature's hard-negative variant), drop="hardest" the easy."""
    pairs = contrastive_pairs(torch.randn(2, 16, 8, generator=torch.Generator().manual_seed(1)))
    neg = pairs.neg_mask
    for drop, kept_are_harder in (("easiest", True), ("hardest", False)):
        pruned = NegativePruning(0.5, drop)(pairs.sim, neg)
        kept = neg & ~pruned
        for a in range(neg.shape[0]):
            lowest_kept, highest_dropped = pairs.sim[a][kept[a]].min(), pairs.sim[a][pruned[a]].max()
            highest_kept, lowest_dropped = pairs.sim[a][kept[a]].max(), pairs.sim[a][pruned[a]].min()
            if kept_are_harder:
                assert lowest_kept >= highest_dropped
            else:
                assert highest_kept <= lowest_dropped
    assert NegativePruning(0.5, drop="easiest").drop == "easiest"
    assert "drop=easiest" in repr(NegativePruning(0.5, drop="easiest"))


def test_random_pruning_differs_between_anchors_and_calls():
    pairs = contrastive_pairs(torch.randn(2, 32, 8))
    a, b = prune_mask(pairs.sim, pairs.neg_mask, 0.5, "random"), prune_mask(pairs.sim, pairs.neg_mask, 0.5, "random")
    assert not torch.equal(a, b)
    assert not torch.equal(a[0, 32:], a[1, 32:])


@pytest.mark.parametrize("drop", ["hardest", "easiest"])
def test_pruned_losses_match_loop(drop):
    g = torch.Generator().manual_seed(3)
    z, labels, tau = torch.randn(2, 5, 4, generator=g), torch.tensor([0, 1, 0, 2, 1]), 0.2
    pruning = NegativePruning(0.5, drop)
    for ids, loss in (
        (None, multiview_nt_xent(z, tau, pruning=pruning)),
        (labels, supcon(z, labels, tau, pruning=pruning)),
    ):
        pairs = contrastive_pairs(z, ids)
        pruned = prune_mask(pairs.sim, pairs.neg_mask, 0.5, drop).tolist()
        expected = nce_loop(z, list(range(5)) if ids is None else labels.tolist(), tau, pruned)
        assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    unpruned = multiview_nt_xent(z, tau)
    pruned_loss = multiview_nt_xent(z, tau, pruning=pruning)
    # dropping the hardest negatives lowers the loss more than dropping the easiest
    assert (pruned_loss < unpruned) and (
        drop == "easiest" or pruned_loss < multiview_nt_xent(z, tau, pruning=NegativePruning(0.5, "easiest"))
    )


def test_pruning_rejects_bad_settings():
    with pytest.raises(ValueError, match="fraction must be in"):
        NegativePruning(1.0)
    with pytest.raises(ValueError, match="drop must be"):
        NegativePruning(0.5, "middle")


def test_constant_pairs_factor_and_callback():
    assert (
        constant_pairs_factor(0.5) == 2.0 and constant_pairs_factor(0.0) == 1.0 and constant_pairs_factor(0.75) == 4.0
    )

    class Module:
        loss = NTXentLoss(pruning=NegativePruning(0.75))

    import lightning as L

    trainer = L.Trainer(max_epochs=3, logger=False, enable_checkpointing=False)
    ConstantPairsBudget().setup(trainer, Module(), "fit")
    assert trainer.max_epochs == 12
    trainer = L.Trainer(max_steps=10, logger=False, enable_checkpointing=False)
    ConstantPairsBudget().setup(trainer, Module(), "fit")
    assert trainer.max_steps == 40
    Module.loss = NTXentLoss()
    with pytest.raises(ValueError, match="needs a loss with `pruning` set"):
        ConstantPairsBudget().setup(trainer, Module(), "fit")
