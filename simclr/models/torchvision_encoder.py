"""Any torchvision classification network as the encoder f(.), with its classifier removed (h = f(x))."""

import math
from typing import Any

import torch
import torchvision
from torch import Tensor, nn

from simclr.errors import UserError
from simclr.models.checkpointing import checkpoint_sequential_blocks

_LIST_HINT = "see python -c 'import torchvision; print(torchvision.models.list_models(module=torchvision.models))'"


class TorchvisionEncoder(nn.Module):
    """A torchvision classifier by name, minus its last classification layer: images (B, C, H, W) -> h (B, feature_dim).

    The network is built with `torchvision.models.get_model(name, weights=weights, **options)`, so every
    builder of `torchvision.models` works (resnet18, convnext_tiny, efficientnet_b0, swin_t, vit_b_16, ...).
    The last `nn.Linear` with `num_classes` outputs (`fc`, `heads.head`, `classifier[-1]`, `head`, ...)
    becomes `nn.Identity`, so h is that layer's input and `feature_dim` its `in_features`.

    `name` may also be a network class of `torchvision.models` whose constructor takes plain values, for
    shapes the builders fix: `VisionTransformer` with `options: {patch_size: 4, num_layers: 6, num_heads: 4,
    hidden_dim: 192, mlp_dim: 768}` and `image_size: 28` is a small ViT for 28 px images (`vit_b_16` fixes
    patch 16 and the ViT-B widths).

    Args:
        name: a torchvision builder (`torchvision.models.list_models()`) or network class, e.g. `resnet18`
            or `VisionTransformer`.
        image_size: input side in pixels, for networks whose shape depends on it (the ViT family:
            position embeddings); None leaves the builder's default. Others reject it.
        in_channels: image channels (1 for Fashion-MNIST, 3 for RGB). Other than 3, the first `nn.Conv2d`
            taking 3 channels is replaced by one of the same configuration taking `in_channels`; its
            weights are the old ones summed over channels (1) or tiled and scaled by 3 / in_channels.
        weights: torchvision weights to load, e.g. `DEFAULT` or `ResNet18_Weights.IMAGENET1K_V1` (this
            downloads them once); None (default) is a random initialisation and never downloads.
        options: further keyword arguments of the builder or class, e.g. `{stochastic_depth_prob: 0.0}`
            for ConvNeXt or the ViT shape above.
        checkpointing: recompute activations in the backward pass instead of keeping them
            (`simclr.models.checkpointing`), per block: ResNet stages' blocks, a ViT's encoder layers, or the
            blocks of each `features` stage (ConvNeXt, EfficientNet, Swin, ...). Less memory, about one more
            forward pass of compute; a network without such blocks is refused in one line.
    """

    def __init__(
        self,
        name: str,
        image_size: int | None = None,
        in_channels: int = 3,
        weights: str | None = None,
        options: dict[str, Any] | None = None,
        checkpointing: bool = False,
    ):
        super().__init__()
        self._init_kwargs = dict(
            name=name,
            image_size=image_size,
            in_channels=in_channels,
            weights=weights,
            options=dict(options or {}),
            checkpointing=checkpointing,
        )  # for `fresh_copy`
        if in_channels < 1:
            raise UserError(
                f"TorchvisionEncoder in_channels must be >= 1 (1 for grey images, 3 for RGB); got {in_channels}"
            )
        self.name = name
        self.in_channels = in_channels
        self.image_size = image_size
        kwargs = dict(options or {})
        if image_size is not None:
            kwargs["image_size"] = image_size
        self.net = build(name, weights, kwargs)
        if image_size is not None and getattr(self.net, "image_size", None) != image_size:  # some ignore it
            raise UserError(
                f"TorchvisionEncoder: {name} does not take image_size (the ViT family does); "
                f"set model.encoder.init_args.image_size: null"
            )
        num_classes = _num_classes(self.net, kwargs)
        self._classifier_name, classifier = _last_linear(self.net, num_classes, name)
        self._classifier_has_bias = classifier.bias is not None
        self.num_classes = num_classes
        self.feature_dim: int = classifier.in_features  # h is the classifier's input
        self.net.set_submodule(self._classifier_name, nn.Identity())
        if in_channels != 3:
            conv_name, conv = _first_rgb_conv(self.net, name)
            self.net.set_submodule(conv_name, adapt_first_conv(conv, in_channels))
        if checkpointing:
            stages = block_sequences(self.net)
            if not stages:
                raise UserError(
                    f"TorchvisionEncoder({name}) has no blocks to checkpoint (ResNet layer1-4, a ViT's encoder.layers, "
                    f"or features stages); set model.encoder.init_args.checkpointing: false"
                )
            for stage in stages:
                checkpoint_sequential_blocks(stage)

    def forward(self, images: Tensor) -> Tensor:
        """images (B, in_channels, H, W) float -> h (B, feature_dim)."""
        if images.shape[1] != self.in_channels:
            raise UserError(
                f"TorchvisionEncoder({self.name}) expects {self.in_channels}-channel images but got "
                f"{images.shape[1]} channels; set model.encoder.init_args.in_channels to {images.shape[1]}"
            )
        fixed = getattr(self.net, "image_size", None)  # ViTs only take images of the size they were built for
        if isinstance(fixed, int) and tuple(images.shape[-2:]) != (fixed, fixed):
            raise UserError(
                f"TorchvisionEncoder({self.name}) was built for {fixed}x{fixed} images but got "
                f"{images.shape[-2]}x{images.shape[-1]}; set model.encoder.init_args.image_size: {images.shape[-1]}"
            )
        h = self.net(images)  # (B, feature_dim)
        if not isinstance(h, Tensor):  # GoogLeNet / Inception return their auxiliary outputs while training
            raise UserError(
                f"TorchvisionEncoder({self.name}) returned {type(h).__name__}, not a tensor; "
                f"set model.encoder.init_args.options: {{aux_logits: false}}"
            )
        return h

    def fresh_copy(self) -> "TorchvisionEncoder":
        """A new encoder of the same architecture, randomly initialised (`weights` None; the random baseline)."""
        return type(self)(**{**self._init_kwargs, "weights": None})

    def backbone_state_dict(self) -> dict[str, Tensor]:
        """State dict of the torchvision network, with a zero classifier (num_classes, feature_dim) at its key.

        Loads with `strict=True` into `torchvision.models.get_model(name, **options)` (with `image_size`
        where given); for `in_channels` other than 3 swap its first convolution the same way first.
        Replace the classifier for fine-tuning.
        """
        state = {k: v.detach().clone() for k, v in self.net.state_dict().items()}
        state[f"{self._classifier_name}.weight"] = torch.zeros(self.num_classes, self.feature_dim)
        if self._classifier_has_bias:
            state[f"{self._classifier_name}.bias"] = torch.zeros(self.num_classes)
        return state


def block_sequences(net: nn.Module) -> list[nn.Sequential]:
    """The `nn.Sequential`s of residual / transformer blocks of a torchvision network: ResNet's layer1-4, a
    ViT's encoder.layers, else each `nn.Sequential` stage inside `features` (or `features` itself)."""
    stages = [getattr(net, f"layer{i}", None) for i in range(1, 5)]
    if all(isinstance(s, nn.Sequential) for s in stages):
        return stages
    layers = getattr(getattr(net, "encoder", None), "layers", None)
    if isinstance(layers, nn.Sequential):
        return [layers]
    features = getattr(net, "features", None)
    if isinstance(features, nn.Sequential):
        inner = [child for child in features if isinstance(child, nn.Sequential)]
        return inner or [features]
    return []


def build(name: str, weights: str | None, kwargs: dict[str, Any]) -> nn.Module:
    """The torchvision network `name` (builder or class) with `weights` and keyword arguments `kwargs`."""
    builders = torchvision.models.list_models(module=torchvision.models)
    cls = getattr(torchvision.models, name, None)
    is_class = isinstance(cls, type) and issubclass(cls, nn.Module)
    if name not in builders and not is_class:
        raise UserError(f"TorchvisionEncoder: no torchvision model named {name!r}; {_LIST_HINT}")
    if name not in builders and weights is not None:
        raise UserError(
            f"TorchvisionEncoder: {name} is a class and has no weights to load; drop weights or name a builder"
        )
    try:
        if name in builders:
            return torchvision.models.get_model(name, weights=weights, **kwargs)
        return cls(**kwargs)
    except (TypeError, ValueError, KeyError, AssertionError) as err:
        message = " ".join(str(err).split()) or type(err).__name__
        raise UserError(
            f"torchvision {name} rejected its arguments {sorted(kwargs)} / weights {weights!r}: {message}; "
            f"fix model.encoder.init_args.image_size / options / weights"
        ) from err


def _num_classes(net: nn.Module, kwargs: dict[str, Any]) -> int:
    """The network's classifier width: its `num_classes` attribute or argument, else 1000 (ImageNet)."""
    value = getattr(net, "num_classes", kwargs.get("num_classes", 1000))
    return int(value)


def _last_linear(net: nn.Module, num_classes: int, name: str) -> tuple[str, nn.Linear]:
    """The qualified name and module of the last `nn.Linear` with `num_classes` outputs (the classifier)."""
    found = [(n, m) for n, m in net.named_modules() if isinstance(m, nn.Linear) and m.out_features == num_classes]
    if not found:
        raise UserError(
            f"TorchvisionEncoder: {name} has no nn.Linear classifier with {num_classes} outputs to remove "
            f"(e.g. SqueezeNet classifies with a convolution); use a network with a linear classifier"
        )
    return found[-1]


def _first_rgb_conv(net: nn.Module, name: str) -> tuple[str, nn.Conv2d]:
    """The qualified name and module of the first `nn.Conv2d` taking 3 channels (the stem)."""
    for n, m in net.named_modules():
        if isinstance(m, nn.Conv2d) and m.in_channels == 3:
            return n, m
    raise UserError(f"TorchvisionEncoder: {name} has no 3-channel nn.Conv2d to adapt; use in_channels: 3")


def adapt_first_conv(conv: nn.Conv2d, in_channels: int) -> nn.Conv2d:
    """`conv` (3 -> C_out) rebuilt for `in_channels` inputs, keeping its kernel, stride, padding and bias.

    Weights (C_out, 3, kh, kw) become their sum over channels (1 channel) or the channels tiled and scaled
    by 3 / in_channels, so a constant image gives the same response (as timm's `adapt_input_conv`); for a
    random fan-in initialisation the summed weights also have the std that fan-in `in_channels` asks for.
    """
    if conv.groups != 1:
        raise UserError(f"TorchvisionEncoder: the first convolution is grouped ({conv.groups}); use in_channels: 3")
    new = nn.Conv2d(
        in_channels,
        conv.out_channels,
        conv.kernel_size,
        stride=conv.stride,
        padding=conv.padding,
        dilation=conv.dilation,
        bias=conv.bias is not None,
        padding_mode=conv.padding_mode,
        device=conv.weight.device,
        dtype=conv.weight.dtype,
    )
    with torch.no_grad():
        w = conv.weight  # (C_out, 3, kh, kw)
        if in_channels == 1:
            new.weight.copy_(w.sum(dim=1, keepdim=True))  # (C_out, 1, kh, kw)
        else:
            tiled = w.repeat(1, math.ceil(in_channels / 3), 1, 1)[:, :in_channels]  # (C_out, in_channels, kh, kw)
            new.weight.copy_(tiled * (3 / in_channels))
        if conv.bias is not None:
            new.bias.copy_(conv.bias)
    return new
