"""ResNet encoder f(.) giving the representation h (SimCLR section 2.1: "h_i = f(x_i) = ResNet(x_i)")."""

import math
from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from simclr.errors import UserError
from simclr.models.checkpointing import checkpoint_sequential_blocks
from simclr.models.small_map_conv_cpu import use_small_map_convs


class ResNetEncoder(nn.Module):
    """torchvision ResNet without its classifier: images (B, C, H, W) -> h (B, feature_dim).

    The network inside is a plain `torchvision.models.resnet.ResNet`, so its state_dict loads into
    torchvision (see `backbone_state_dict`). Common depths: ResNet-18 `layers=[2, 2, 2, 2]`,
    ResNet-34 `[3, 4, 6, 3]`, ResNet-50 `[3, 4, 6, 3]` with `bottleneck=True`.

    Args:
        layers: residual blocks per stage (four stages).
        bottleneck: Bottleneck blocks (ResNet-50 and deeper) instead of BasicBlock.
        cifar_stem: SimCLR's CIFAR-10 stem (appendix B.9): a 3x3 stride-1 first conv and no max-pool,
            for small images. False keeps the ImageNet stem (7x7 stride-2 conv and max-pool).
        in_channels: image channels (1 for Fashion-MNIST, 3 for RGB).
        zero_init_residual: start each residual branch at zero (torchvision's option).
        width: channels of the first stage (torchvision: 64); stages use width x (1, 2, 4, 8). Compute
            scales with width^2, so 32 or 16 makes CPU runs practical. Only width 64 loads into
            torchvision's `resnet18()` etc. Default 64 when `stage_widths` is not given.
        stage_widths: the four stages' channels instead of `width` x (1, 2, 4, 8), e.g. [48, 96, 192, 768]
            for a wider last stage: h is stage_widths[3] (x 4 with bottlenecks) wide. On small images the
            last stage runs on 1x1 maps, where channels are cheap. Give `width` or `stage_widths`, not both.
        max_pool: the stem's 3x3 stride-2 max-pool; default: on for the ImageNet stem, off for the CIFAR
            stem (which never has one). False on the ImageNet stem keeps twice the resolution in every
            stage (4x the compute), e.g. for 28 px images.
        small_map_gemm: CPU workaround, off by default: convolutions on maps of at most 2x2 pixels run as
            one dense matrix product (`simclr.models.small_map_conv_cpu`), because oneDNN's backward is
            slow there. The same function; no effect on CUDA. Worth it for small images on the CPU
            (configs/trainer/cpu_demo.yaml turns it on); figures in docs/speed.md.
        norm: the normalisation after every convolution: batch (BatchNorm, torchvision's) or group (GroupNorm,
            32 groups): no batch statistics, so gradient caching (`SimCLR(chunk_size=...)`) gives exactly the
            full-batch gradient; its state_dict loads into torchvision's ResNet built with GroupNorm.
        checkpointing: recompute each residual block's activations in the backward pass instead of keeping
            them (`simclr.models.checkpointing`): less memory, about one more forward pass of compute.
    """

    def __init__(
        self,
        layers: list[int] = [2, 2, 2, 2],
        bottleneck: bool = False,
        cifar_stem: bool = False,
        in_channels: int = 3,
        zero_init_residual: bool = False,
        width: int | None = None,
        stage_widths: list[int] | None = None,
        max_pool: bool | None = None,
        small_map_gemm: bool = False,
        norm: Literal["batch", "group"] = "batch",
        checkpointing: bool = False,
    ):
        super().__init__()
        self._init_kwargs = dict(
            layers=list(layers),
            bottleneck=bottleneck,
            cifar_stem=cifar_stem,
            in_channels=in_channels,
            zero_init_residual=zero_init_residual,
            width=width,
            stage_widths=None if stage_widths is None else list(stage_widths),
            max_pool=max_pool,
            small_map_gemm=small_map_gemm,
            norm=norm,
            checkpointing=checkpointing,
        )  # for `fresh_copy`
        widths = check_architecture(list(layers), width, stage_widths, cifar_stem, max_pool, in_channels)
        self.in_channels = in_channels
        self.cifar_stem = cifar_stem
        if norm not in NORM_LAYERS:
            raise UserError(f"ResNetEncoder norm is {norm!r}; pass batch (BatchNorm) or group (GroupNorm)")
        block = Bottleneck if bottleneck else BasicBlock
        norm_layer = NORM_LAYERS[norm]
        if widths != [64, 128, 256, 512] or norm != "batch":
            # torchvision fixes the widths at 64-512; build the same modules at other widths with its
            # own `_make_layer`, so the block code, init and state_dict keys stay torchvision's.
            self.net = _resnet_with_widths(block, list(layers), widths, zero_init_residual, norm_layer)
        else:
            self.net = ResNet(block, list(layers), zero_init_residual=zero_init_residual)
        stem = widths[0]
        if cifar_stem:
            self.net.conv1 = nn.Conv2d(in_channels, stem, kernel_size=3, stride=1, padding=1, bias=False)
        elif in_channels != 3:
            self.net.conv1 = nn.Conv2d(in_channels, stem, kernel_size=7, stride=2, padding=3, bias=False)
        if cifar_stem or max_pool is False:
            self.net.maxpool = nn.Identity()
        if cifar_stem or in_channels != 3:
            nn.init.kaiming_normal_(self.net.conv1.weight, mode="fan_out", nonlinearity="relu")
        self.feature_dim: int = self.net.fc.in_features  # stage_widths[3] for BasicBlock, 4x for Bottleneck
        self.net.fc = nn.Identity()
        if small_map_gemm:
            use_small_map_convs(self.net)
        if checkpointing:
            for stage in (self.net.layer1, self.net.layer2, self.net.layer3, self.net.layer4):
                checkpoint_sequential_blocks(stage)

    def forward(self, images: Tensor) -> Tensor:
        """images (B, in_channels, H, W) float -> h (B, feature_dim)."""
        if images.shape[1] != self.in_channels:
            raise UserError(
                f"ResNetEncoder expects {self.in_channels}-channel images but got {images.shape[1]} channels; "
                f"set model.encoder.init_args.in_channels to {images.shape[1]}"
            )
        return self.net(images)

    def fresh_copy(self) -> "ResNetEncoder":
        """A new encoder of the same architecture, randomly initialised (e.g. a random-weights baseline)."""
        return type(self)(**self._init_kwargs)

    def backbone_state_dict(self) -> dict[str, Tensor]:
        """State dict in torchvision's layout (keys `conv1.weight`, ..., `fc.*` of a zero classifier).

        Loads with `strict=True` into `torchvision.models.resnet18()` (ResNet-18 layers, ImageNet stem,
        3 channels); with the CIFAR stem or other channel counts, build the torchvision model and set
        its `conv1`/`maxpool` the same way first. The classifier is zeros of shape (1000, feature_dim);
        replace it for fine-tuning.
        """
        state = {k: v.detach().clone() for k, v in self.net.state_dict().items()}
        state["fc.weight"] = torch.zeros(1000, self.feature_dim)
        state["fc.bias"] = torch.zeros(1000)
        return state


def check_architecture(
    layers: list[int],
    width: int | None,
    stage_widths: list[int] | None,
    cifar_stem: bool,
    max_pool: bool | None,
    in_channels: int,
) -> list[int]:
    """The four stage widths; a one-line UserError for options that contradict or override each other."""
    if len(layers) != 4 or min(layers) < 1:
        raise UserError(f"ResNetEncoder layers must be 4 positive block counts, e.g. [2, 2, 2, 2]; got {layers}")
    if width is not None and stage_widths is not None:
        raise UserError(
            f"ResNetEncoder got both width {width} and stage_widths {list(stage_widths)}; give one: "
            f"--model.encoder.init_args.stage_widths null to use width, or drop width"
        )
    if stage_widths is None:
        if width is not None and width < 1:
            raise UserError(f"ResNetEncoder width must be a positive channel count, e.g. 64; got {width}")
        widths = [(64 if width is None else width) * m for m in (1, 2, 4, 8)]
    else:
        widths = list(stage_widths)
        if len(widths) != 4 or min(widths) < 1:
            raise UserError(
                f"ResNetEncoder stage_widths must be 4 positive channel counts, e.g. [48, 96, 192, 768]; got {widths}"
            )
    if cifar_stem and max_pool:
        raise UserError(
            "ResNetEncoder: the CIFAR stem has no max-pool, but max_pool is true; drop max_pool or set cifar_stem: false"
        )
    if in_channels < 1:
        raise UserError(f"ResNetEncoder in_channels must be >= 1 (1 for grey images, 3 for RGB); got {in_channels}")
    return widths


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with 32 groups (Wu & He 2018), or the largest divisor of `channels` below that."""
    return nn.GroupNorm(math.gcd(32, channels), channels)


NORM_LAYERS = {"batch": nn.BatchNorm2d, "group": group_norm}


def _resnet_with_widths(
    block: type[nn.Module],
    layers: list[int],
    widths: list[int],
    zero_init_residual: bool,
    norm_layer: Callable[[int], nn.Module] = nn.BatchNorm2d,
) -> ResNet:
    """A torchvision ResNet whose four stages have `widths` channels instead of (64, 128, 256, 512), and
    `norm_layer` (BatchNorm2d or `group_norm`) after every convolution."""
    net = ResNet(block, [1, 1, 1, 1], norm_layer=norm_layer)  # the skeleton: stem, pooling, fc; stages rebuilt below
    net.inplanes = widths[0]
    net.conv1 = nn.Conv2d(3, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
    net.bn1 = norm_layer(widths[0])
    net.layer1 = net._make_layer(block, widths[0], layers[0])
    net.layer2 = net._make_layer(block, widths[1], layers[1], stride=2)
    net.layer3 = net._make_layer(block, widths[2], layers[2], stride=2)
    net.layer4 = net._make_layer(block, widths[3], layers[3], stride=2)
    net.fc = nn.Linear(widths[3] * block.expansion, 1000)
    for m in net.modules():  # torchvision's initialisation
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    if zero_init_residual:
        for m in net.modules():
            last_bn = (
                getattr(m, "bn3", None)
                if isinstance(m, Bottleneck)
                else getattr(m, "bn2", None)
                if isinstance(m, BasicBlock)
                else None
            )
            if last_bn is not None:
                nn.init.zeros_(last_bn.weight)
    return net
