"""Pretrained weights: read them from a file or a named source, and load them into a model.

A source is a file, a state dict saved with `torch.save` (read with `torch.load(weights_only=True)`,
so a file cannot run code) or a `.safetensors` file, or a name from `NAMED_WEIGHTS`, such as
`torchvision:resnet50`, downloaded once from its official URL into `<cache>/weights/`
(`~/.cache/winnow` or `$WINNOW_CACHE`) with its checksum checked.

    state = read_weights("torchvision:resnet18")   # or "~/resnet18-f37072fd.pth"
    model = create_model("resnet18_imagenet", num_classes=15, in_channels=3)
    load_weights(model, state, "torchvision:resnet18")  # a new head for 15 classes

`load_weights` checks every name and shape first, and refuses weights that do not fit in one
line that lists the missing and unexpected keys; a head (the model's `head`, `fc` for the
ImageNet ResNets) of another shape is left out and the model keeps its new one.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

import torch
from torch import nn

from .data.cache import resolve_cache_dir
from .data.download import download_file

log = logging.getLogger("winnow.weights")


@dataclass(frozen=True)
class NamedWeights:
    """A checkpoint with an official URL: the file name's 8 hex digits are the start of its SHA-256."""

    url: str
    sha256: str  # the whole digest, or its start as torchvision's file names carry it
    model: str  # the registered model whose state dict it is


NAMED_WEIGHTS = {
    # torchvision's ImageNet-1k weights (IMAGENET1K_V1 for ResNet-18, IMAGENET1K_V2, its default, for ResNet-50)
    "torchvision:resnet18": NamedWeights("https://download.pytorch.org/models/resnet18-f37072fd.pth", "f37072fd",
                                         "resnet18_imagenet"),
    "torchvision:resnet50": NamedWeights("https://download.pytorch.org/models/resnet50-11ad3fa6.pth", "11ad3fa6",
                                         "resnet50_imagenet"),
    "torchvision:resnet50_v1": NamedWeights("https://download.pytorch.org/models/resnet50-0676ba61.pth", "0676ba61",
                                            "resnet50_imagenet"),
}

_ABBREVIATE_AFTER = 6  # names listed in an error before "... (N in all)"


def weights_model(source: str) -> str | None:
    """The registered model a named source is for (`NAMED_WEIGHTS`), None for a file."""
    named = NAMED_WEIGHTS.get(source)
    return named.model if named else None


def absolute_source(source: str) -> str:
    """`source` as a config records it: a named source as it is, a file as its absolute path."""
    named = source in NAMED_WEIGHTS or source.split(":")[0] in _schemes()  # an unknown name stays one
    return source if named else str(Path(source).expanduser().resolve())


def weights_file(source: str, cache_dir: str | Path | None = None) -> Path:
    """The file of `source`: a named source downloaded into `<cache_dir>/weights/` the first time
    (`data.download.download_file`, checksum checked), else the path itself, which must exist."""
    if source in NAMED_WEIGHTS:
        named = NAMED_WEIGHTS[source]
        target = resolve_cache_dir(cache_dir) / "weights" / PurePosixPath(urlparse(named.url).path).name
        return download_file(named.url, target, named.sha256, "sha256")
    if ":" in source and not Path(source).expanduser().exists() and source.split(":")[0] in _schemes():
        raise ValueError(f"weights {source!r}: unknown name; the named weights are {', '.join(NAMED_WEIGHTS)}")
    path = Path(source).expanduser()
    if not path.is_file():
        raise ValueError(f"weights {source}: no such file (give a state dict file, .pt/.pth or .safetensors, "
                         f"or one of {', '.join(NAMED_WEIGHTS)})")
    return path


def _schemes() -> set[str]:
    return {name.split(":")[0] for name in NAMED_WEIGHTS}


def read_weights(source: str, cache_dir: str | Path | None = None) -> dict[str, torch.Tensor]:
    """The state dict of `source` (a file or a named source, `weights_file`): name -> tensor.

    A checkpoint that holds the state dict under "state_dict" or "model" (timm's and many
    training scripts' layout) and names with DataParallel's "module." prefix are read too.
    Files are read once (by path, size and modification time); treat the tensors as read-only.
    """
    path = weights_file(source, cache_dir).resolve()
    stat = path.stat()
    return _read(str(path), stat.st_size, stat.st_mtime_ns, source)


@functools.lru_cache(maxsize=2)
def _read(path: str, size: int, mtime_ns: int, source: str) -> dict[str, torch.Tensor]:
    """The state dict in the file `path` (size and mtime_ns: the cache's key); errors name `source`."""
    if path.endswith(".safetensors"):
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            state = load_file(path)
        except (SafetensorError, OSError, ValueError) as error:
            raise ValueError(f"weights {source}: not a readable safetensors file ({_first_line(error)})") from None
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # pickle, zip and torch's own errors: all say the file is not a state dict
            raise ValueError(f"weights {source}: not a state dict torch.load(weights_only=True) can read "
                             f"({_first_line(error)})") from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"weights {source}: holds no state dict (a mapping of names to tensors)")
    if all(name.startswith("module.") for name in state):
        state = {name.removeprefix("module."): tensor for name, tensor in state.items()}
    return dict(state)


def load_weights(model: nn.Module, state: dict[str, torch.Tensor], source: str = "the weights", *,
                 quiet: bool = False) -> bool:
    """Copy `state` into `model`. Returns whether the model keeps its own new head: when the
    weights' head (the entries under the model's `head`, e.g. "fc.") has another shape (another
    number of classes) or the weights have none, those entries are left out.

    Every other name and shape must match: anything missing (BatchNorm's num_batches_tracked
    aside, which older checkpoints lack), unexpected or of another shape is a one-line
    ValueError naming `source` and the keys (abbreviated when many). Logs a new head unless `quiet`.
    """
    own = model.state_dict()
    head = _head_prefix(model)

    def in_head(name: str) -> bool:
        return head is not None and name.startswith(head)

    their_head = {name: tensor for name, tensor in state.items() if in_head(name)}
    new_head = head is not None and (not their_head or any(name in own and tensor.shape != own[name].shape
                                                           for name, tensor in their_head.items()))
    given = {name: tensor for name, tensor in state.items() if not (new_head and in_head(name))}
    missing = [name for name in own if name not in given and not (new_head and in_head(name))
               and not name.endswith("num_batches_tracked")]
    unexpected = [name for name in given if name not in own]
    wrong = [f"{name} {tuple(given[name].shape)} vs {tuple(own[name].shape)}" for name in given
             if name in own and given[name].shape != own[name].shape]
    if missing or unexpected or wrong:
        parts = [f"{what} {_listed(names)}" for what, names in (("missing keys", missing),
                 ("unexpected keys", unexpected), ("shapes differ (weights vs model)", wrong)) if names]
        raise ValueError(f"weights {source} do not fit model {type(model).__name__} ({len(state)} entries, the "
                         f"model has {len(own)}): {'; '.join(parts)}")
    model.load_state_dict(given, strict=False)  # not strict: a new head, and num_batches_tracked
    if new_head and not quiet:
        outputs = next((tuple(t.shape)[0] for n, t in their_head.items() if n.endswith("weight")), None)
        log.info("weights %s: %s; the model's new head for its %s classes is trained from scratch", source,
                 f"their head ({outputs} classes) is replaced" if outputs else "they have no head",
                 _outputs(model))
    return new_head


def _head_prefix(model: nn.Module) -> str | None:
    """The state-dict prefix of `model.head` ("fc.", "head."), None when it has none."""
    head = getattr(model, "head", None)
    if head is None:
        return None
    return next((f"{name}." for name, module in model.named_modules() if module is head and name), None)


def _outputs(model: nn.Module) -> int:
    weight = getattr(model.head, "weight", None)
    return int(weight.shape[0]) if weight is not None else -1


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:_ABBREVIATE_AFTER])
    return shown + (f", ... ({len(names)} in all)" if len(names) > _ABBREVIATE_AFTER else "")


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
