"""ResNet encoder f(.) giving the representation h (SimCLR section 2.1: "h_i = f(x_i) = ResNet(x_i)")."""

import torch
from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet


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
    """

    def __init__(
        self,
        layers: list[int] = [2, 2, 2, 2],
        bottleneck: bool = False,
        cifar_stem: bool = False,
        in_channels: int = 3,
        zero_init_residual: bool = False,
    ):
        super().__init__()
        if len(layers) != 4 or min(layers) < 1:
            raise ValueError(f"ResNetEncoder layers must be 4 positive block counts, e.g. [2, 2, 2, 2]; got {layers}")
        self.in_channels = in_channels
        self.cifar_stem = cifar_stem
        block = Bottleneck if bottleneck else BasicBlock
        self.net = ResNet(block, list(layers), zero_init_residual=zero_init_residual)
        if cifar_stem:
            self.net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
            self.net.maxpool = nn.Identity()
        elif in_channels != 3:
            self.net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        if cifar_stem or in_channels != 3:
            nn.init.kaiming_normal_(self.net.conv1.weight, mode="fan_out", nonlinearity="relu")
        self.feature_dim: int = self.net.fc.in_features  # 512 for BasicBlock, 2048 for Bottleneck
        self.net.fc = nn.Identity()

    def forward(self, images: Tensor) -> Tensor:
        """images (B, in_channels, H, W) float -> h (B, feature_dim)."""
        if images.shape[1] != self.in_channels:
            raise ValueError(
                f"ResNetEncoder expects {self.in_channels}-channel images but got {images.shape[1]} channels; "
                f"set model.encoder.init_args.in_channels to {images.shape[1]}"
            )
        return self.net(images)

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
