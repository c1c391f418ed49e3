"""Image-text losses against a plain loop over the N x N pairs of the papers' pseudo-code, their closed forms,
symmetry, the logit-scale clamp, retrieval recall on a hand-made case, and DDP (2 gloo processes) equal to one
process on the concatenated batch."""

import math
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from simclr.errors import UserError
from simclr.losses import CLIPLoss, SigLIPLoss, clip_loss, siglip_loss
from simclr.losses.retrieval import gather_rows, retrieval_recall

GRID = [(2, 3), (3, 8), (7, 16), (16, 4)]  # (N, D)


def unit(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=1, keepdim=True)


def clip_loop(image: torch.Tensor, text: torch.Tensor, scale: float) -> float:
    """CLIP Figure 3 written out: the mean over images and over texts of -log softmax of its pair."""
    image, text = unit(image.double()), unit(text.double())
    n = image.shape[0]
    s = [[scale * float(image[i] @ text[j]) for j in range(n)] for i in range(n)]
    rows = sum(-s[i][i] + math.log(sum(math.exp(s[i][j]) for j in range(n))) for i in range(n)) / n
    columns = sum(-s[j][j] + math.log(sum(math.exp(s[i][j]) for i in range(n))) for j in range(n)) / n
    return (rows + columns) / 2


def siglip_loop(image: torch.Tensor, text: torch.Tensor, t: float, b: float) -> float:
    """SigLIP Algorithm 1 written out: -sum_ij log sigmoid(z_ij (t x_i . y_j + b)) / n, z = +1 on the diagonal."""
    image, text = unit(image.double()), unit(text.double())
    n = image.shape[0]
    total = 0.0
    for i in range(n):
        for j in range(n):
            z = 1.0 if i == j else -1.0
            total -= math.log(1 / (1 + math.exp(-z * (t * float(image[i] @ text[j]) + b))))
    return total / n


@pytest.mark.parametrize("n, d", GRID)
@pytest.mark.parametrize("scale", [1.0, 1 / 0.07, 100.0])
def test_clip_loss_equals_the_loop(n, d, scale):
    g = torch.Generator().manual_seed(n * d)
    image, text = torch.randn(n, d, generator=g), torch.randn(n, d, generator=g)
    assert clip_loss(image, text, scale).item() == pytest.approx(clip_loop(image, text, scale), rel=1e-4, abs=1e-5)


@pytest.mark.parametrize("n, d", GRID)
@pytest.mark.parametrize("t, b", [(10.0, -10.0), (1.0, 0.0), (50.0, -3.0)])
def test_siglip_loss_equals_the_loop(n, d, t, b):
    g = torch.Generator().manual_seed(n * d + 1)
    image, text = torch.randn(n, d, generator=g), torch.randn(n, d, generator=g)
    assert siglip_loss(image, text, t, b).item() == pytest.approx(siglip_loop(image, text, t, b), rel=1e-4, abs=1e-5)


@pytest.mark.parametrize("n", [2, 5, 32])
def test_closed_forms_when_every_embedding_is_the_same(n):
    same = torch.randn(1, 6).expand(n, 6)
    assert clip_loss(same, same, 1 / 0.07).item() == pytest.approx(math.log(n), rel=1e-5)  # every logit equal
    t, b = 10.0, -10.0  # every cosine 1: the diagonal scores softplus(-(t + b)), the rest softplus(t + b)
    expected = math.log1p(math.exp(-(t + b))) + (n - 1) * math.log1p(math.exp(t + b))
    assert siglip_loss(same, same, t, b).item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("loss", [lambda a, b: clip_loss(a, b, 14.0), lambda a, b: siglip_loss(a, b, 10.0, -10.0)])
def test_both_losses_are_symmetric_in_the_towers(loss):
    g = torch.Generator().manual_seed(3)
    image, text = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    assert torch.allclose(loss(image, text), loss(text, image), atol=1e-6)


def test_scale_invariance_and_float32_result():
    image, text = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    assert clip_loss(image, text, 5.0).dtype == torch.float32
    assert torch.allclose(clip_loss(3 * image, text, 5.0), clip_loss(image, text, 5.0))  # inputs are normalised


def test_modules_start_where_the_papers_do():
    clip, siglip = CLIPLoss(), SigLIPLoss()
    assert clip.temperature.log_inv.item() == pytest.approx(math.log(1 / 0.07))
    assert clip.logit_scale().item() == pytest.approx(1 / 0.07, rel=1e-6)
    assert siglip.temperature.log_inv.item() == pytest.approx(math.log(10))
    assert siglip.bias.item() == -10.0
    image, text = torch.randn(5, 4), torch.randn(5, 4)
    assert torch.allclose(siglip(image, text), siglip_loss(image, text, 10.0, -10.0), atol=1e-5)
    assert not list(CLIPLoss(learnable=False).parameters())
    assert not list(SigLIPLoss(learnable=False).parameters())


@pytest.mark.parametrize("make", [CLIPLoss, SigLIPLoss])
def test_the_logit_scale_is_clamped_at_100(make):
    loss = make()
    with torch.no_grad():
        loss.temperature.log_inv.fill_(10.0)  # a scale of e^10 unclamped
    assert float(loss.logit_scale().detach()) == pytest.approx(100.0, rel=1e-5)
    image, text = torch.randn(4, 3), torch.randn(4, 3)
    reference = clip_loss(image, text, 100.0) if make is CLIPLoss else siglip_loss(image, text, 100.0, -10.0)
    value = loss(image, text)
    assert torch.allclose(value, reference, atol=1e-4)
    value.backward()
    assert loss.temperature.log_inv.grad.item() == 0.0  # no gradient while clamped


@pytest.mark.parametrize(
    "build, words",
    [
        (lambda: CLIPLoss(max_logit_scale=10.0), "max_logit_scale"),  # below the initial 1 / 0.07
        (lambda: CLIPLoss(temperature=0.0), "temperature must be > 0"),
        (lambda: SigLIPLoss(bias=math.nan), "bias"),
    ],
)
def test_bad_options_are_one_line_errors(build, words):
    with pytest.raises(UserError) as error:
        build()
    assert words in str(error.value) and "\n" not in str(error.value)


def test_retrieval_recall_on_a_hand_made_case():
    image = torch.eye(3)
    text = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.6, 0.8], [0.8, 0.0, 0.6]])
    # image . text: [[1, 0, .8], [0, .6, 0], [0, .8, .6]]: image 2's caption is second best for it; captions 1 and 2
    # each have another image above their own
    recall = {k: v.item() for k, v in retrieval_recall(image, text, ks=(1, 2)).items()}
    assert recall == pytest.approx({"i2t_r1": 2 / 3, "i2t_r2": 1.0, "t2i_r1": 1 / 3, "t2i_r2": 1.0})
    assert retrieval_recall(image, image, ks=(1,))["i2t_r1"].item() == 1.0


# --- DDP: 2 gloo processes with 4 pairs each against one process with all 8 -------------------------------------
WORLD, N_LOCAL, IN_DIM = 2, 4, 6
LOSSES = {"clip": CLIPLoss, "siglip": lambda: SigLIPLoss(temperature=0.5, bias=-2.0)}


class Towers(nn.Module):
    """Linear image and text towers and a loss with learnt parameters (logit scale, bias)."""

    def __init__(self, name: str):
        super().__init__()
        torch.manual_seed(0)
        self.image, self.text, self.loss = nn.Linear(IN_DIM, 5), nn.Linear(IN_DIM, 5), LOSSES[name]()

    def forward(self, x_image: torch.Tensor, x_text: torch.Tensor) -> torch.Tensor:
        return self.loss(self.image(x_image), self.text(x_text))


def pairs_case(model: nn.Module, name: str, first: int, n: int) -> dict:
    g = torch.Generator().manual_seed(7)
    x_image, x_text = (
        torch.randn(WORLD * N_LOCAL, IN_DIM, generator=g),
        torch.randn(WORLD * N_LOCAL, IN_DIM, generator=g),
    )
    loss = model(x_image[first : first + n], x_text[first : first + n])
    loss.backward()
    return {"loss": loss.detach(), "grads": {k: p.grad.clone() for k, p in model.named_parameters()}}


def ddp_worker(rank: int, store_path: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", store=dist.FileStore(store_path, WORLD), rank=rank, world_size=WORLD)
    try:
        results = {}
        for name in LOSSES:
            ddp = nn.parallel.DistributedDataParallel(Towers(name))  # averages gradients over ranks
            results[name] = pairs_case(ddp, name, rank * N_LOCAL, N_LOCAL)
        results["gathered"] = gather_rows(torch.arange(3 + 2 * rank).float()[:, None] + 10 * rank)  # 3 and 5 rows
        torch.save(results, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def ddp_results(tmp_path_factory) -> list[dict]:
    tmp = tmp_path_factory.mktemp("ddp_pairs")
    mp.start_processes(ddp_worker, args=(str(tmp / "store"), str(tmp)), nprocs=WORLD, join=True, start_method="fork")
    return [torch.load(tmp / f"rank{r}.pt") for r in range(WORLD)]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(LOSSES))
def test_ddp_losses_and_parameter_gradients_equal_one_process(ddp_results, name):
    reference = pairs_case(Towers(name), name, 0, WORLD * N_LOCAL)
    mean_loss = torch.stack([r[name]["loss"] for r in ddp_results]).mean()
    assert torch.allclose(mean_loss, reference["loss"], atol=1e-5), (mean_loss, reference["loss"])
    for result in ddp_results:
        grads = {k.removeprefix("module."): v for k, v in result[name]["grads"].items()}
        assert grads.keys() == reference["grads"].keys()
        for key, want in reference["grads"].items():
            assert torch.allclose(grads[key], want, atol=1e-5), (key, (grads[key] - want).abs().max())


@pytest.mark.slow
def test_gather_rows_takes_uneven_rows_in_rank_order(ddp_results):
    expected = torch.cat([torch.arange(3.0), torch.arange(5.0) + 10])[:, None]
    for result in ddp_results:
        assert torch.equal(result["gathered"], expected)
