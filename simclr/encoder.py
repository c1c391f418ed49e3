"""ResNet encoder f(.) giving the representation h (SimCLR section 2.1: "h_i = f(x_i) = ResNet(x_i)")."""

import torch
from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from simclr.errors import UserError
from simclr.small_maps import use_small_map_convs


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
            torchvision's `resnet18()` etc.
        stage_widths: the four stages' channels, overriding `width` x (1, 2, 4, 8), e.g. [48, 96, 192,
            768] for a wider last stage: h is stage_widths[3] (x 4 with bottlenecks) wide. On small images
            the last stage runs on 1x1 maps, where channels are cheap.
        max_pool: keep the ImageNet stem's 3x3 stride-2 max-pool (the CIFAR stem never has one); False
            keeps twice the resolution in every stage (4x the compute), e.g. for 28 px images.
        small_map_gemm: on the CPU, compute convolutions on maps of at most 2x2 pixels as one dense
            matrix product (`simclr.small_maps`): the same function, 1.43-1.56x faster training steps for the
            width-32 ResNet-10 on Fashion-MNIST (benchmarks/small_map_conv.py), whose layer3/layer4 run on 2x2 and 1x1 maps. No effect on CUDA.
    """

    def __init__(
        self,
        layers: list[int] = [2, 2, 2, 2],
        bottleneck: bool = False,
        cifar_stem: bool = False,
        in_channels: int = 3,
        zero_init_residual: bool = False,
        width: int = 64,
        small_map_gemm: bool = True,
        max_pool: bool = True,
        stage_widths: list[int] | None = None,
    ):
        super().__init__()
        self._init_kwargs = dict(
            layers=list(layers), bottleneck=bottleneck, cifar_stem=cifar_stem, in_channels=in_channels,
            zero_init_residual=zero_init_residual, width=width,
            small_map_gemm=small_map_gemm, max_pool=max_pool,
            stage_widths=None if stage_widths is None else list(stage_widths),
        )  # for `fresh_copy`
        if len(layers) != 4 or min(layers) < 1:
            raise ValueError(f"ResNetEncoder layers must be 4 positive block counts, e.g. [2, 2, 2, 2]; got {layers}")
        widths = [width * m for m in (1, 2, 4, 8)] if stage_widths is None else list(stage_widths)
        if len(widths) != 4 or min(widths) < 1:
            raise ValueError(f"ResNetEncoder stage_widths must be 4 positive channel counts, e.g. [48, 96, 192, 768]; got {stage_widths}")
        width = widths[0]
        self.in_channels = in_channels
        self.cifar_stem = cifar_stem
        block = Bottleneck if bottleneck else BasicBlock
        if widths != [64, 128, 256, 512]:
            # torchvision fixes the widths at 64-512; build the same modules at other widths with its
            # own `_make_layer`, so the block code, init and state_dict keys stay torchvision's.
            self.net = _resnet_with_widths(block, list(layers), widths, zero_init_residual)
        else:
            self.net = ResNet(block, list(layers), zero_init_residual=zero_init_residual)
        if cifar_stem:
            self.net.conv1 = nn.Conv2d(in_channels, width, kernel_size=3, stride=1, padding=1, bias=False)
            self.net.maxpool = nn.Identity()
        elif in_channels != 3:
            self.net.conv1 = nn.Conv2d(in_channels, width, kernel_size=7, stride=2, padding=3, bias=False)
        if not max_pool:
            self.net.maxpool = nn.Identity()
        if cifar_stem or in_channels != 3:
            nn.init.kaiming_normal_(self.net.conv1.weight, mode="fan_out", nonlinearity="relu")
        self.feature_dim: int = self.net.fc.in_features  # 512 for BasicBlock, 2048 for Bottleneck
        self.net.fc = nn.Identity()
        if small_map_gemm:
            use_small_map_convs(self.net)

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


def _resnet_with_widths(block: type[nn.Module], layers: list[int], widths: list[int], zero_init_residual: bool) -> ResNet:
    """A torchvision ResNet whose four stages have `widths` channels instead of (64, 128, 256, 512)."""
    net = ResNet(block, [1, 1, 1, 1])  # the skeleton: stem, pooling, fc; stages rebuilt below
    net.inplanes = widths[0]
    net.conv1 = nn.Conv2d(3, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
    net.bn1 = nn.BatchNorm2d(widths[0])
    net.layer1 = net._make_layer(block, widths[0], layers[0])
    net.layer2 = net._make_layer(block, widths[1], layers[1], stride=2)
    net.layer3 = net._make_layer(block, widths[2], layers[2], stride=2)
    net.layer4 = net._make_layer(block, widths[3], layers[3], stride=2)
    net.fc = nn.Linear(widths[3] * block.expansion, 1000)
    for m in net.modules():  # torchvision's initialisation
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    if zero_init_residual:
        for m in net.modules():
            last_bn = getattr(m, "bn3", None) if isinstance(m, Bottleneck) else getattr(m, "bn2", None) if isinstance(m, BasicBlock) else None
            if last_bn is not None:
                nn.init.zeros_(last_bn.weight)
    return net
