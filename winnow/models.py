"""A registry of image classifiers by name.

Every model is a `Classifier`: `forward_features(x)` maps images (B, C, H, W) to penultimate
features (B, D) and `head` maps those to logits (B, K). Selection strategies need the features,
so every architecture exposes them the same way.

    model = create_model("fastnet", num_classes=10, in_channels=3)
    list_models("fastnet*")
"""

from __future__ import annotations

import fnmatch
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

_MODELS: dict[str, Callable[..., "Classifier"]] = {}
_RECIPES: dict[str, dict] = {}  # model name -> the recipe fields it sets on top of any preset
_PRETRAINED_RECIPES: dict[str, dict] = {}  # model name -> the fields it sets when it starts from pretrained weights
_TAKES_MODALITIES: set[str] = set()  # models built per modality: create_model passes them the data's
# What every model sets when it starts from pretrained weights (fine-tuning): the backbone learns
# at a tenth of the head's rate, so the new head settles before the features move far.
PRETRAINED_RECIPE = {"backbone_lr_scale": 0.1}


def register_model(name: str, recipe: dict | None = None, pretrained_recipe: dict | None = None,
                   takes_modalities: bool = False):
    """Decorator: register a factory `fn(num_classes, in_channels, **kwargs) -> Classifier`.

    recipe : recipe fields this model needs whatever the preset (e.g. bias_lr_scale 1 for a
        model whose normalisation is not fastnet's fixed-scale BatchNorm); `model_recipe`.
    pretrained_recipe : fields set on top of those (and of `PRETRAINED_RECIPE`) when the model
        starts from pretrained weights, e.g. the input size the weights were trained at.
    takes_modalities : the factory takes `modalities` (name -> channel count, as
        `Dataset.modalities`), the split of its input channels into views (a fusion model);
        `create_model` passes it. Other models see the modalities as stacked channels (early fusion).
    """

    def decorator(factory):
        if name in _MODELS:
            raise ValueError(f"model {name!r} is already registered")
        _MODELS[name] = factory
        if takes_modalities:
            _TAKES_MODALITIES.add(name)
        _RECIPES[name] = dict(recipe or {})
        _PRETRAINED_RECIPES[name] = dict(pretrained_recipe or {})
        return factory

    return decorator


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style pattern, sorted."""
    return sorted(name for name in _MODELS if fnmatch.fnmatch(name, pattern))


def model_recipe(name: str, pretrained: bool = False) -> dict:
    """The recipe fields model `name` sets on top of any preset (the user's overrides win);
    `pretrained`: with those it sets when starting from pretrained weights."""
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(list_models())}")
    return {**_RECIPES[name], **(PRETRAINED_RECIPE | _PRETRAINED_RECIPES[name] if pretrained else {})}


def create_model(name: str, num_classes: int, in_channels: int = 3, modalities: dict[str, int] | None = None,
                 **kwargs) -> "Classifier":
    """Build the registered model `name` for `num_classes` outputs and `in_channels` inputs.

    modalities : the data's modalities (`Dataset.modalities`, name -> channel count, summing to
        in_channels), passed to the models built per modality (`register_model(takes_modalities=True)`);
        the others see the channels stacked (early fusion) and ignore it.
    """
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(list_models())}")
    if num_classes < 1 or in_channels < 1:
        raise ValueError(f"num_classes and in_channels must be positive, got {num_classes}, {in_channels}")
    if modalities and sum(modalities.values()) != in_channels:
        raise ValueError(f"the modalities {dict(modalities)} have {sum(modalities.values())} channels, not "
                         f"in_channels={in_channels}")
    if name in _TAKES_MODALITIES:
        kwargs["modalities"] = dict(modalities) if modalities else None
    return _MODELS[name](num_classes=num_classes, in_channels=in_channels, **kwargs)


class Classifier(nn.Module):
    """Base class: input normalisation, then `features`, then a linear `head`.

    Inputs are float images in [0, 1], (B, C, H, W). The per-channel mean and std used to
    normalise them are buffers, set by the trainer from the training images, so saved weights
    carry everything needed to predict.
    """

    head: nn.Module
    head_scale: float = 1.0

    def __init__(self, in_channels: int):
        super().__init__()
        self.register_buffer("input_mean", torch.full((1, in_channels, 1, 1), 0.5))
        self.register_buffer("input_std", torch.full((1, in_channels, 1, 1), 0.25))

    def set_input_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Per-channel mean and std (C,) of the training images, in [0, 1] units."""
        self.input_mean.copy_(mean.view_as(self.input_mean))
        self.input_std.copy_(std.clamp_min(1e-3).view_as(self.input_std))

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.input_mean) / self.input_std

    def features(self, x: torch.Tensor) -> torch.Tensor:  # normalised (B, C, H, W) -> (B, D)
        raise NotImplementedError

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, D)
        return self.features(self.normalize(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, K)
        return self.head(self.forward_features(x)) * self.head_scale

    def init_from_data(self, images: torch.Tensor) -> None:
        """Data-dependent initialisation from a batch of normalised training images (optional)."""

    backbone_frozen: bool = False

    def freeze_backbone(self) -> None:
        """Train the head only (linear probing): every other parameter stops requiring gradients,
        and the rest of the network stays in eval mode under `train()` (BatchNorm statistics and
        dropout fixed), so nothing but the head changes."""
        head = {id(p) for p in self.head.parameters()}
        for p in self.parameters():
            if id(p) not in head:
                p.requires_grad_(False)
        self.backbone_frozen = True
        self.train(self.training)

    def train(self, mode: bool = True) -> "Classifier":
        super().train(mode)
        if mode and self.backbone_frozen:
            for module in self.modules():
                module.training = False
            self.training = True
            self.head.train()
        return self


# --------------------------------------------------------------------------------------------
# fastnet: a small fast CNN in the style of the fastest known CIFAR-10 trainers (airbench):
# a frozen patch-whitening stem, three conv groups with max pooling, BatchNorm without a
# learned scale, GELU, and a scaled linear head.


class _BatchNorm(nn.BatchNorm2d):
    """BatchNorm with a fixed scale of 1 and a learned shift, as in the fast CIFAR trainers."""

    def __init__(self, channels: int, momentum: float = 0.6, eps: float = 1e-12):
        super().__init__(channels, eps=eps, momentum=1 - momentum)
        self.weight.requires_grad = False


def _pool2(x: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(x, 2) if min(x.shape[-2:]) >= 2 else x


class _ConvGroup(nn.Module):
    def __init__(self, channels_in: int, channels_out: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False)
        self.norm1 = _BatchNorm(channels_out)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, padding=1, bias=False)
        self.norm2 = _BatchNorm(channels_out)
        for conv in (self.conv1, self.conv2):  # identity-like init: Dirac plus small noise
            weight = conv.weight.data
            nn.init.dirac_(weight[: weight.size(1)])

    def forward(self, x):
        x = F.gelu(self.norm1(_pool2(self.conv1(x))))
        return F.gelu(self.norm2(self.conv2(x)))


class FastNet(Classifier):
    """Whitening stem (2x2 patches) -> 3 conv groups -> global max pool -> linear head."""

    def __init__(self, num_classes: int, in_channels: int, widths=(64, 256, 256), head_scale=1 / 9,
                 stem_stride: int = 1):
        super().__init__(in_channels)
        stem_channels = 2 * in_channels * 4  # +/- eigenvectors of the 2x2 patch covariance
        self.whiten = nn.Conv2d(in_channels, stem_channels, 2, stride=stem_stride, padding=0, bias=True)
        self.whiten.weight.requires_grad = False
        self.groups = nn.Sequential(
            _ConvGroup(stem_channels, widths[0]),
            _ConvGroup(widths[0], widths[1]),
            _ConvGroup(widths[1], widths[2]),
        )
        self.head = nn.Linear(widths[2], num_classes, bias=False)
        self.head_scale = head_scale
        self.num_features = widths[2]

    @torch.no_grad()
    def init_from_data(self, images: torch.Tensor, eps: float = 5e-4) -> None:
        """Set the stem to whiten 2x2 patches of `images` (B, C, H, W), already normalised."""
        _whiten_from(self.whiten, images, eps)

    def features(self, x):
        x = F.gelu(self.whiten(x))
        x = self.groups(x)
        return torch.amax(x, dim=(2, 3))  # (B, widths[2])


@torch.no_grad()
def _whiten_from(whiten: nn.Conv2d, images: torch.Tensor, eps: float = 5e-4) -> None:
    """Set a 2x2 stem convolution (2 C 4 filters) to whiten the 2x2 patches of `images` (B, C, H, W)."""
    c = images.size(1)
    patches = images.float().unfold(2, 2, 1).unfold(3, 2, 1)  # (B, C, H-1, W-1, 2, 2)
    patches = patches.transpose(1, 3).reshape(-1, c, 2, 2).flatten(1)  # (P, C*4)
    cov = torch.cov(patches.T)
    eigenvalues, eigenvectors = torch.linalg.eigh(cov)
    eigenvectors = eigenvectors.T.flip(0)  # (C*4, C*4), largest first
    eigenvalues = eigenvalues.flip(0)
    filters = eigenvectors.reshape(c * 4, c, 2, 2) / torch.sqrt(eigenvalues.clamp_min(0) + eps).view(-1, 1, 1, 1)
    whiten.weight.copy_(torch.cat([filters, -filters]).to(whiten.weight.dtype))
    whiten.bias.zero_()


FASTNET_WIDTHS = {
    "fastnet": (64, 256, 256),
    "fastnet_m": (48, 192, 192),
    "fastnet_s": (32, 128, 128),
    "fastnet_xs": (24, 96, 96),
}


def _register_fastnet(name, widths):
    @register_model(name)
    def factory(num_classes, in_channels, **kwargs):
        return FastNet(num_classes, in_channels, widths=kwargs.pop("widths", widths), **kwargs)


for _name, _widths in FASTNET_WIDTHS.items():
    _register_fastnet(_name, _widths)


# --------------------------------------------------------------------------------------------
# Mid fusion of several aligned inputs (rgb, depth, infrared...), from fastnet's pieces: one
# small stem per modality (a whitening conv and a conv group), squeeze-and-excitation over their
# stacked feature maps, then a shared trunk of two conv groups and the head. (Early fusion is any
# model above with the modalities stacked as its input channels.)


class _SqueezeExcite(nn.Module):
    """Channel attention (Hu et al. 2018): each channel scaled by a gate in (0, 1) computed from
    the global average of every channel, so the fused maps of one modality can be turned up or
    down per image. `gate` is kept for inspection."""

    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        hidden = max(4, channels // reduction)
        self.squeeze = nn.Linear(channels, hidden)
        self.excite = nn.Linear(hidden, channels)

    def forward(self, x):  # (B, C, H, W) -> (B, C, H, W)
        gate = torch.sigmoid(self.excite(F.relu(self.squeeze(x.mean((2, 3))))))  # (B, C)
        return x * gate[:, :, None, None]


class _ModalityStem(nn.Module):
    """One modality's stem: a 2x2 whitening conv (frozen, set from data) and a conv group."""

    def __init__(self, channels: int, width: int):
        super().__init__()
        self.whiten = nn.Conv2d(channels, 2 * channels * 4, 2, bias=True)
        self.whiten.weight.requires_grad = False
        self.group = _ConvGroup(2 * channels * 4, width)

    def forward(self, x):  # (B, C_m, H, W) -> (B, width, (H - 1) / 2, (W - 1) / 2)
        return self.group(F.gelu(self.whiten(x)))


class FusionNet(Classifier):
    """Per-modality stems -> concatenated maps -> squeeze-and-excitation -> 1x1 conv -> two conv
    groups -> global max pool -> linear head.

    modalities : name -> channel count (`Dataset.modalities`), the split of the input channels in
        order; None: the whole input is one modality ("image"). Layers are named `stems.NAME`,
        `fusion` (the SE gate on the stacked maps), `mix` (the 1x1 conv) and `groups.0`, `groups.1`
        (the last map, at 1/8 of the input size as fastnet's groups.2).
    """

    def __init__(self, num_classes: int, in_channels: int, modalities: dict[str, int] | None = None,
                 widths=(32, 128, 128), head_scale=1 / 9):
        super().__init__(in_channels)
        modalities = dict(modalities) if modalities else {"image": in_channels}
        if sum(modalities.values()) != in_channels:
            raise ValueError(f"the modalities {modalities} have {sum(modalities.values())} channels, not "
                             f"in_channels={in_channels}")
        self.modalities = modalities
        self.stems = nn.ModuleDict({name: _ModalityStem(count, widths[0]) for name, count in modalities.items()})
        stacked = widths[0] * len(modalities)
        self.fusion = _SqueezeExcite(stacked)
        self.mix = nn.Conv2d(stacked, widths[0], 1, bias=False)
        self.groups = nn.Sequential(_ConvGroup(widths[0], widths[1]), _ConvGroup(widths[1], widths[2]))
        self.head = nn.Linear(widths[2], num_classes, bias=False)
        self.head_scale = head_scale
        self.num_features = widths[2]

    def _views(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        views, start = {}, 0
        for name, count in self.modalities.items():
            views[name] = x[:, start:start + count]
            start += count
        return views

    @torch.no_grad()
    def init_from_data(self, images: torch.Tensor, eps: float = 5e-4) -> None:
        """Each stem whitens the 2x2 patches of its modality of `images` (B, C, H, W), normalised."""
        for name, view in self._views(images).items():
            _whiten_from(self.stems[name].whiten, view, eps)

    def features(self, x):
        maps = [self.stems[name](view) for name, view in self._views(x).items()]  # M x (B, w0, h, w)
        x = self.mix(self.fusion(torch.cat(maps, 1)))  # (B, w0, h, w)
        x = self.groups(x)
        return torch.amax(x, dim=(2, 3))  # (B, widths[2])


FUSION_WIDTHS = {"fusion": (64, 256, 256), "fusion_s": (32, 128, 128), "fusion_xs": (24, 96, 96)}


def _register_fusion(name, widths):
    @register_model(name, takes_modalities=True)
    def factory(num_classes, in_channels, modalities=None, **kwargs):
        return FusionNet(num_classes, in_channels, modalities, widths=kwargs.pop("widths", widths), **kwargs)


for _name, _widths in FUSION_WIDTHS.items():
    _register_fusion(_name, _widths)


# --------------------------------------------------------------------------------------------
# CIFAR-style ResNet-18: a 3x3 stem without max pooling, four stages of two basic blocks.


class _BasicBlock(nn.Module):
    def __init__(self, channels_in: int, channels_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels_out)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or channels_in != channels_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(channels_in, channels_out, 1, stride, bias=False), nn.BatchNorm2d(channels_out)
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet18(Classifier):
    def __init__(self, num_classes: int, in_channels: int, width: int = 64):
        super().__init__(in_channels)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU()
        )
        stages, channels = [], width
        for i, stride in enumerate((1, 2, 2, 2)):
            out = width * 2**i
            stages += [_BasicBlock(channels, out, stride), _BasicBlock(out, out, 1)]
            channels = out
        self.stages = nn.Sequential(*stages)
        self.head = nn.Linear(channels, num_classes)
        self.num_features = channels

    def features(self, x):
        x = self.stages(self.stem(x))
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)  # (B, 8 * width)


@register_model("resnet18", recipe={"bias_lr_scale": 1.0})
def resnet18(num_classes, in_channels, **kwargs):
    return ResNet18(num_classes, in_channels, **kwargs)


# --------------------------------------------------------------------------------------------
# ImageNet-layout ResNets (He et al. 2016): a 7x7 stride-2 stem and max pooling, then four stages
# of basic blocks (ResNet-18) or bottlenecks (ResNet-50, stride in the 3x3 conv). Every module is
# named as in torchvision's resnet18/resnet50 (conv1, bn1, layer1.0.conv1, layer1.0.downsample.0,
# fc), so their state dict is torchvision's, key for key, and a torchvision or timm checkpoint
# loads (`winnow.weights`). Inputs are normalised with ImageNet's mean and std (fixed buffers
# outside the state dict: the weights expect them); grey images are repeated to three channels.

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class _Basic(nn.Module):
    expansion = 1

    def __init__(self, channels_in: int, width: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels_in, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.downsample = _downsample(channels_in, width * self.expansion, stride)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class _Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, channels_in: int, width: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels_in, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, width * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width * self.expansion)
        self.downsample = _downsample(channels_in, width * self.expansion, stride)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


def _downsample(channels_in: int, channels_out: int, stride: int) -> nn.Module | None:
    """The projection shortcut (1x1 conv and BatchNorm) where the shape changes, else None (identity)."""
    if stride == 1 and channels_in == channels_out:
        return None
    return nn.Sequential(nn.Conv2d(channels_in, channels_out, 1, stride, bias=False), nn.BatchNorm2d(channels_out))


class ImageNetResNet(Classifier):
    """conv1 (7x7, stride 2) -> bn1 -> max pool -> layer1..layer4 -> average pool -> fc (the head).

    blocks : blocks per stage, e.g. (2, 2, 2, 2) of `_Basic` for ResNet-18
    Grey input (in_channels 1) is repeated to three channels, so the stem keeps ImageNet
    weights' shape; other channel counts get a stem of their own (no ImageNet weights fit it).
    Images under `min_size` (64 px) are upsampled to it inside the network: the layout divides
    by 32, and smaller ones would leave the last stages a single position, where BatchNorm over
    a small batch is degenerate (ResNet-50 diverges in one step on 2 images of 32 px).
    """

    min_size = 64

    def __init__(self, num_classes: int, in_channels: int, block: type = _Basic, blocks=(2, 2, 2, 2)):
        super().__init__(in_channels)
        stem_channels = 3 if in_channels in (1, 3) else in_channels
        mean, std = (IMAGENET_MEAN, IMAGENET_STD) if stem_channels == 3 else ((0.5,) * stem_channels,
                                                                             (0.25,) * stem_channels)
        # not in the state dict, which is torchvision's exactly; fixed: `set_input_stats` leaves them
        self.register_buffer("input_mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("input_std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)
        self.conv1 = nn.Conv2d(stem_channels, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        channels = 64
        for i, count in enumerate(blocks):
            width, stride = 64 * 2**i, 1 if i == 0 else 2
            stage = []
            for b in range(count):
                stage.append(block(channels, width, stride if b == 0 else 1))
                channels = width * block.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*stage))
        self.fc = nn.Linear(channels, num_classes)
        self.num_features = channels
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    @property
    def head(self) -> nn.Linear:  # torchvision's name for it is fc
        return self.fc

    @head.setter
    def head(self, module: nn.Module) -> None:
        self.fc = module

    def set_input_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Kept at ImageNet's (the weights were trained on them), whatever the data's."""

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        if x.size(1) == 1 and self.conv1.in_channels == 3:
            x = x.expand(-1, 3, -1, -1)  # (B, 3, H, W): grey repeated
        return (x - self.input_mean) / self.input_std

    def features(self, x):
        if min(x.shape[-2:]) < self.min_size:
            scale = self.min_size / min(x.shape[-2:])
            x = F.interpolate(x, size=(round(x.size(2) * scale), round(x.size(3) * scale)), mode="bilinear",
                              align_corners=False)  # (B, C, >= 64, >= 64)
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)  # (B, 512 x expansion)


# Without weights they train at the data's size; with them, images are resized to the 224 px the
# ImageNet weights were trained at, in batches that fit in memory at that size (the learning rate
# follows the batch size). Progressive resizing is off: it would shrink the images.
_IMAGENET_RECIPE = {"bias_lr_scale": 1.0, "resize_schedule": ""}
_IMAGENET_PRETRAINED = {"input_size": 224, "batch_size": 128, "eval_batch_size": 256}


@register_model("resnet18_imagenet", recipe=_IMAGENET_RECIPE, pretrained_recipe=_IMAGENET_PRETRAINED)
def resnet18_imagenet(num_classes, in_channels, **kwargs):
    return ImageNetResNet(num_classes, in_channels, _Basic, (2, 2, 2, 2), **kwargs)


@register_model("resnet50_imagenet", recipe=_IMAGENET_RECIPE, pretrained_recipe=_IMAGENET_PRETRAINED)
def resnet50_imagenet(num_classes, in_channels, **kwargs):
    return ImageNetResNet(num_classes, in_channels, _Bottleneck, (3, 4, 6, 3), **kwargs)


# --------------------------------------------------------------------------------------------
# LeNet-5 and a small MLP. Both pool to a fixed grid before their first linear layer, so one
# model takes any input size (progressive resizing trains at 16 and 24 px, predict runs at the
# data's own size). The grid is the size of the first input the model sees (the trainer's first
# call is on the data at its own size), unless given; the first linear layer is sized then.


def _pool_to(x: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:  # (B, C, H, W) -> (B, C, *grid)
    """Adaptive average pooling to `grid`; smaller inputs are repeated up to it."""
    return x if tuple(x.shape[-2:]) == grid else F.adaptive_avg_pool2d(x, grid)


class _FixedGrid(nn.Module):
    """Pools every input to the spatial size of the first one it saw (or to `grid`)."""

    def __init__(self, grid: int | None):
        super().__init__()
        if grid is not None and grid < 1:
            raise ValueError(f"grid must be positive, got {grid}")
        self.grid = (grid, grid) if grid else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.grid is None:
            self.grid = tuple(x.shape[-2:])
        return _pool_to(x, self.grid)


class LeNet5(Classifier):
    """Two padded 5x5 conv + max-pool stages -> pool to a fixed grid -> 120 -> 84 -> head.

    Padded so that images from 8x8 up work; on the size it first sees (its grid) this is the
    LeNet-5 it always was, and other sizes (progressive resizing) are pooled to that grid.
    """

    def __init__(self, num_classes: int, in_channels: int, grid: int | None = None):
        super().__init__(in_channels)
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),
            nn.Conv2d(6, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),
        )
        self.pool = _FixedGrid(grid)
        self.fc = nn.Sequential(nn.Flatten(), nn.LazyLinear(120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU())
        self.head = nn.Linear(84, num_classes)
        self.num_features = 84

    def features(self, x):
        return self.fc(self.pool(self.conv(x)))  # (B, 16, *grid) -> (B, 84)


# LeNet-5 (tanh, no normalisation) does not train with the SGD presets' learning rates: under the
# `cpu` preset on 15-Scene at 64 px it stayed at chance (loss ln 15 for 1 283 steps); with AdamW
# as in the `small` preset it reached 42 % in a minute (BENCHMARKS.md, scene15 models).
@register_model("lenet5", recipe={"bias_lr_scale": 1.0, "optimizer": "adamw", "lr": 3e-3, "weight_decay": 1e-2})
def lenet5(num_classes, in_channels, **kwargs):
    return LeNet5(num_classes, in_channels, **kwargs)


class MLP(Classifier):
    """Pool the image to a fixed grid -> hidden ReLU layers with dropout -> head.

    The grid is the size of the first image it sees (the data's own size), so every pixel is
    used; other sizes (progressive resizing) are pooled or repeated to it.
    """

    def __init__(self, num_classes: int, in_channels: int, hidden=(256, 128), dropout: float = 0.1,
                 grid: int | None = None):
        super().__init__(in_channels)
        self.pool = _FixedGrid(grid)
        layers: list[nn.Module] = [nn.Flatten()]
        for i, width in enumerate(hidden):
            layers += [nn.LazyLinear(width) if i == 0 else nn.Linear(hidden[i - 1], width), nn.ReLU(), nn.Dropout(dropout)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(hidden[-1], num_classes)
        self.num_features = hidden[-1]

    def features(self, x):
        return self.body(self.pool(x))  # (B, C, *grid) -> (B, hidden[-1])


@register_model("mlp", recipe={"bias_lr_scale": 1.0})
def mlp(num_classes, in_channels, **kwargs):
    return MLP(num_classes, in_channels, **kwargs)
