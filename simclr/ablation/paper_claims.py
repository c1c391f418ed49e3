"""The papers' statements each results page tests (`simclr.ablation.claims.Claim`), in the words and with the
references of the page's "Against the paper" section: for each, the row the paper expects to be higher and
the row it is compared with, on the linear top-1 of h unless a metric is named.

Only statements that compare two rows of the page's own data are here; the rest stay prose on the page.
"""

from __future__ import annotations

from simclr.ablation.claims import Claim
from simclr.ablation.variant_runs import KNN, H, Z

_BATCH = (
    "SimCLR Figure 9 and section 5.2, ResNet-50, B = 256-8192, 100-800 epochs; at 100 epochs 57.5 at B = 256 "
    "against 64.8 at 8192, at 800 epochs 66.6 against 69.0, Table B.1"
)
_EQUAL_EPOCHS = "Larger batches help at equal epochs, most when the epochs are few"
BATCH_SIZE = (
    Claim(_EQUAL_EPOCHS, _BATCH, "B 128 above B 32 at equal images", "b128_300steps", "b32_equal_images"),
    Claim(_EQUAL_EPOCHS, _BATCH, "B 512 above B 128 at equal images", "b512_equal_images", "b128_300steps"),
    Claim(_EQUAL_EPOCHS, _BATCH, "B 4096 (gradient cache) above B 512 at equal images",
          "b4096_cached_equal_images", "b512_300steps"),
)  # fmt: skip

_STRONGER = "Stronger colour distortion is better, up to strength 1"
_TABLE_1 = "SimCLR Table 1, 1/8 to 1: 59.6 to 63.2 top-1"
COLOR_STRENGTH = (
    Claim("Crop alone is not enough; crop with colour is", "SimCLR Figure 5 and section 3",
          "crop + colour above crop alone", "color_0.5", "crop_only"),
    Claim(_STRONGER, _TABLE_1, "colour 0.5 above 0.25", "color_0.5", "color_0.25"),
    Claim(_STRONGER, _TABLE_1, "colour 1.0 above 0.5", "color_1.0", "color_0.5"),
)  # fmt: skip

_MODERATE = (
    "SimCLR Table 5: 0.1 of 0.05 / 0.1 / 0.5 / 1 with normalisation, 64.4 against 59.7 / 60.7 / 58.0, the "
    "contrastive distribution over 4096 examples"
)
TEMPERATURE = (
    *(Claim("l2 normalisation beats raw dot products under linear evaluation", "SimCLR Table 5",
            f"cosine above dot product at tau {t}", f"norm_t{t}", f"dot_t{t}")
      for t in ("0.05", "0.1", "0.2", "0.5", "1.0")),
    *(Claim("A moderate temperature is best", _MODERATE, f"tau 0.1 above {t}", "norm_t0.1", f"norm_t{t}")
      for t in ("0.05", "0.5", "1.0")),
)  # fmt: skip

DEMO = (
    Claim("h is a better representation than z = g(h)", "SimCLR section 4.2: by more than 10%",
          "h above z", "demo", "demo", H, Z),
)  # fmt: skip

PROJECTION_HEAD = (
    Claim("A projection head helps h", "SimCLR Figure 8: no projection is more than 10% below a nonlinear one",
          "a head helps h", "nonlinear_2", "none"),
    Claim("A nonlinear head beats a linear one on h", "SimCLR Figure 8: by about 3%", "nonlinear above linear head",
          "nonlinear_2", "linear"),
    Claim("h is a better representation than z = g(h)", "SimCLR section 4.2: by more than 10%", "h above z",
          "nonlinear_2", "nonlinear_2", H, Z),
)  # fmt: skip

_HARD = "SimCLR section 5.1 and Table 2: NT-Xent weighs negatives by their hardness through the temperature"
_SIGLIP = (
    "SigLIP, Zhai et al. 2023, Figure 2 and section 1: significantly ahead below a batch of 16 k, the gap closing "
    "above it; image-text batches far larger than these"
)
_SIGMOID = "The sigmoid loss is ahead of the softmax at small batches and the two meet as the batch grows"
NEGATIVES = (
    Claim("Hard negatives carry the signal", _HARD, "dropping the hardest half costs h", "keep_all", "drop_hardest"),
    Claim("Hard negatives carry the signal", _HARD, "dropping the hardest half costs kNN", "keep_all",
          "drop_hardest", KNN),
    Claim("Hard negatives carry the signal", _HARD, "dropping the hardest half costs more than a random half",
          "drop_random", "drop_hardest"),
    Claim(_SIGMOID, _SIGLIP, "sigmoid above softmax at B 32", "sigmoid_b32", "softmax_b32"),
    Claim(_SIGMOID, _SIGLIP, "sigmoid above softmax at B 128", "sigmoid_b128", "keep_all"),
    Claim(_SIGMOID, _SIGLIP, "sigmoid above softmax at B 512", "sigmoid_b512", "softmax_b512"),
)  # fmt: skip

AUGMENTATION_GRID = (
    Claim("No single transformation suffices; composing them improves the representation",
          "SimCLR section 3, Figure 5", "crop + colour above crop alone", "crop+color", "crop"),
    Claim("Crop and colour stand out as a pair", "SimCLR Figure 5, section 3.1", "crop + colour above blur + colour",
          "crop+color", "blur+color"),
    Claim("Colour alone teaches little", "SimCLR Figure 5's colour diagonal; section 3.1: no single transformation "
          "suffices, though the model almost perfectly identifies the positive pairs",
          "crop + colour above colour alone", "crop+color", "color"),
)  # fmt: skip


def method_claims(batch: int) -> tuple[Claim, ...]:
    """The claims of docs/methods.md on its data file at batch size `batch` (methods-b<batch>)."""
    data = f"methods-b{batch}"
    return (
        Claim("Multi-crop improves SimCLR", "SwAV, Caron et al. 2020, section 5.2 and Figure 3: by 2-4 points of "
              "top-1 for every method it was applied to", f"multi-crop above SimCLR at B {batch}", "multicrop",
              "simclr", data=data),
        Claim("MoCo v2 matches or beats SimCLR at small batches", "MoCo v2, Chen et al. 2020, Table 2: MoCo v2 at "
              "B = 256 above SimCLR at B = 256 and 8192, 200 epochs", f"MoCo v2 above SimCLR at B {batch}",
              "moco_v2", "simclr", data=data),
        Claim("BYOL beats SimCLR without negatives", "BYOL, Grill et al. 2020, Table 1: 74.3 against 69.3 top-1",
              f"BYOL above SimCLR at B {batch}", "byol", "simclr", data=data),
    )  # fmt: skip
