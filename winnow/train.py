"""The one trainer: `fit` trains a model on an index set of a dataset, `predict` returns
per-sample logits, probabilities and penultimate features.

Active learning, pruning, cleaning and distillation all call these two functions; nothing else
in Winnow has a training loop. Neither draws anything: both report through an `on_progress`
callback, and `winnow.progress` has the reporters the CLI passes.

    recipe = get_preset("cpu", epochs=12)
    result = fit(model, dataset, dataset.train_indices, recipe)
    outputs = predict(result.model, dataset, dataset.test_indices)
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .augment import apply_library, cutout, drop_modalities, library_pipeline, mix, random_flip, random_translate
from .budget import REPLAN_AT, Budget, plan_budget
from .budget import synchronize as _sync
from .data.dataset import Dataset
from .data.split import stratified_split

log = logging.getLogger("winnow.train")


# The recipe's augmentation strengths (0 = off) beyond flip, translate and cutout.
AUGMENTATION_STRENGTHS = ("crop_scale", "affine_degrees", "affine_scale", "affine_shear", "affine_translate",
                          "perspective", "brightness", "contrast", "saturation", "hue", "sharpness", "blur_sigma",
                          "mixup", "cutmix")


@dataclass
class Recipe:
    """How to train. Every field has a default; unknown keys are an error (`Recipe.from_dict`).

    With SGD, `lr` is the learning rate for a batch of 512 and scales linearly with
    `batch_size` (the linear scaling rule); the decoupled weight decay is multiplied by the
    scaled rate, so neither the step size per sample nor the decay per epoch depends on the
    batch size. With AdamW, `lr` is used as given.
    """

    epochs: float = 10.0
    min_steps: int = 0  # at least this many optimiser steps: fewer epochs' worth on a small set are stretched; 0 = off
    time_budget: float = 0.0  # seconds: the schedule fitted to end on time (epochs set the first plan only); 0 = off
    batch_size: int = 512
    optimizer: str = "sgd"  # "sgd" (Nesterov) or "adamw"
    lr: float = 0.75
    momentum: float = 0.85
    weight_decay: float = 0.009  # decoupled: w <- w * (1 - lr_t * weight_decay) each step
    bias_lr_scale: float = 64.0  # learning-rate multiplier for biases and normalisation shifts
    backbone_lr_scale: float = 1.0  # learning-rate multiplier for every parameter outside the head (fine-tuning)
    freeze: str = ""  # "backbone": train the head only (linear probing, `Classifier.freeze_backbone`); "" = off
    warmup_fraction: float = 0.2  # share of all steps spent warming up linearly from 0
    schedule: str = "linear"  # decay after warm-up: "linear" or "cosine", to final_lr_fraction
    final_lr_fraction: float = 0.0
    label_smoothing: float = 0.2
    ema: float = 0.0  # decay of a moving average of the weights and BatchNorm statistics, the model trained; 0 = off
    flip: bool = True
    translate: int = 2  # pixels, reflect padding
    cutout: int = 0  # square side in pixels, 0 = off
    # kornia batch augmentations (`augment.library_pipeline`), each 0 = off, drawn per image up to the strength:
    crop_scale: float = 0.0  # random resized crop: area in [crop_scale, 1] of the image, aspect 3/4..4/3
    affine_degrees: float = 0.0  # random affine: rotation in [-d, d] degrees
    affine_scale: float = 0.0  # random affine: scale in [1 - s, 1 + s]
    affine_shear: float = 0.0  # random affine: shear in [-d, d] degrees
    affine_translate: float = 0.0  # random affine: shift up to this fraction of the size
    perspective: float = 0.0  # random perspective: distortion scale in (0, 1]
    brightness: float = 0.0  # colour jitter factors; saturation and hue need RGB images
    contrast: float = 0.0
    saturation: float = 0.0
    hue: float = 0.0  # in turns, <= 0.5
    sharpness: float = 0.0  # sharpness factor in [0, s]
    blur_sigma: float = 0.0  # Gaussian blur, sigma in [0.1, s] pixels
    mixup: float = 0.0  # Beta(alpha, alpha) of mixup (soft targets, `augment.mix`); with cutmix: one per batch
    cutmix: float = 0.0  # Beta(alpha, alpha) of CutMix
    modality_dropout: float = 0.0  # several modalities: zero each of an image's with this probability, never all
    resize_schedule: str = ""  # progressive resizing, "16:2,24:3" = 2 epochs at 16 px, 3 at 24, rest full size
    input_size: int = 0  # pixels: the full size, every batch resized to it (pretrained weights' 224); 0 = the data's
    tta: bool = True  # predict with the mean logits of each image and its mirror (only if flip)
    tta_translate: int = 0  # pixels: with tta, also each view shifted this far diagonally both ways; 0 = off
    mixed_precision: bool = True  # bfloat16/float16 autocast on CUDA; ignored on CPU and MPS
    channels_last: bool = True
    compile: bool = False  # torch.compile the training forward pass (inductor); each image size compiles once
    val_fraction: float = 0.0  # validation: stratified hold-out from the training indices (or the data's val split)
    early_stopping_patience: int = 0  # epochs without a better validation accuracy; 0 = off (needs validation, see fit)
    seed: int = 0
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:1", "mps"
    eval_batch_size: int = 1024

    def __post_init__(self):
        for f in dataclasses.fields(self):  # types first: "false" is not a bool, 2.5 not an int
            value, kind = getattr(self, f.name), type(f.default)
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                setattr(self, f.name, float(value))
            elif not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ValueError(f"recipe option {f.name}={value!r} must be a {kind.__name__}")
            if kind is float and not math.isfinite(getattr(self, f.name)):
                raise ValueError(f"recipe option {f.name}={value!r} is not valid: it must be a finite number")
        checks = {
            "epochs": (self.epochs > 0, "must be > 0"),
            "min_steps": (self.min_steps >= 0, "must be >= 0"),
            "time_budget": (self.time_budget >= 0, "must be >= 0 seconds"),
            "batch_size": (self.batch_size >= 1, "must be >= 1"),
            "eval_batch_size": (self.eval_batch_size >= 1, "must be >= 1"),
            "optimizer": (self.optimizer in ("sgd", "adamw"), "must be sgd or adamw"),
            "lr": (self.lr > 0, "must be > 0"),
            "momentum": (0 <= self.momentum < 1, "must be in [0, 1)"),
            "weight_decay": (self.weight_decay >= 0, "must be >= 0"),
            "bias_lr_scale": (self.bias_lr_scale > 0, "must be > 0"),
            "backbone_lr_scale": (self.backbone_lr_scale > 0, "must be > 0 (to train the head only: freeze=backbone)"),
            "freeze": (self.freeze in ("", "backbone"), "must be backbone or empty"),
            "input_size": (self.input_size >= 0, "must be >= 0 pixels (0: the data's own size)"),
            "schedule": (self.schedule in ("linear", "cosine"), "must be linear or cosine"),
            "warmup_fraction": (0 <= self.warmup_fraction <= 1, "must be in [0, 1]"),
            "final_lr_fraction": (0 <= self.final_lr_fraction <= 1, "must be in [0, 1]"),
            "label_smoothing": (0 <= self.label_smoothing < 1, "must be in [0, 1)"),
            "ema": (0 <= self.ema < 1, "must be in [0, 1) (0 = off)"),
            "val_fraction": (0 <= self.val_fraction < 1, "must be in [0, 1)"),
            "translate": (self.translate >= 0, "must be >= 0"),
            "tta_translate": (self.tta_translate >= 0, "must be >= 0 pixels (0 = off)"),
            "cutout": (self.cutout >= 0, "must be >= 0"),
            **{key: (getattr(self, key) >= 0, "must be >= 0 (0 = off)") for key in AUGMENTATION_STRENGTHS},
            "crop_scale": (0 <= self.crop_scale <= 1, "must be in (0, 1] (0 = off)"),
            "affine_scale": (0 <= self.affine_scale < 1, "must be in [0, 1) (0 = off)"),
            "affine_translate": (0 <= self.affine_translate <= 1, "must be in [0, 1] (0 = off)"),
            "perspective": (0 <= self.perspective <= 1, "must be in [0, 1] (0 = off)"),
            "hue": (0 <= self.hue <= 0.5, "must be in [0, 0.5] (0 = off)"),
            "modality_dropout": (0 <= self.modality_dropout < 1, "must be in [0, 1) (0 = off)"),
            "resize_schedule": (sum(e for _, e in self.resize_stages()) <= self.epochs,
                                f"must not last longer than epochs={self.epochs}"),
            "early_stopping_patience": (self.early_stopping_patience >= 0, "must be >= 0"),
            "device": (_is_device_name(self.device), "must be auto, cpu, cuda, cuda:N or mps"),
        }
        for name, (ok, rule) in checks.items():
            if not ok:
                raise ValueError(f"recipe option {name}={getattr(self, name)!r} is not valid: it {rule}")

    def resize_stages(self) -> list[tuple[int, float]]:
        """`resize_schedule` as [(size in pixels, epochs), ...]."""
        stages = []
        for part in filter(None, self.resize_schedule.replace(" ", "").split(",")):
            size, _, epochs = part.partition(":")
            try:
                stages.append((int(size), float(epochs)))
            except ValueError:
                raise ValueError(f"recipe option resize_schedule={self.resize_schedule!r} is not valid: "
                                 "write SIZE:EPOCHS pairs, e.g. 16:2,24:3") from None
            if stages[-1][0] < 1 or stages[-1][1] <= 0:
                raise ValueError(f"recipe option resize_schedule={self.resize_schedule!r} is not valid: "
                                 "sizes and epochs must be positive")
        return stages

    @classmethod
    def from_dict(cls, values: dict) -> "Recipe":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown recipe option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**values)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> "Recipe":
        """The recipe with fields set exactly as given. For a user's overrides use `override`."""
        return Recipe.from_dict({**self.to_dict(), **changes})

    def override(self, **changes) -> "Recipe":
        """The recipe with a user's overrides applied (unknown keys are an error).

        Every override a user gives (`--set`, `--epochs`, a preset's overrides, a proxy's or a
        fold's recipe changes) goes through here, so one rule holds everywhere: a new `epochs`
        without a new `resize_schedule` stretches or shortens the resize schedule with it
        (`with_epochs`), so each stage keeps its share of the training; and it is the length
        asked for, so neither the preset's `min_steps` nor a `time_budget` changes it unless given
        too. Epochs and a time budget together are an error: the budget sets the length. `replace`
        sets fields as given and is for code that means exactly that.
        """
        if changes.get("time_budget") and "epochs" in changes:
            raise ValueError(f"epochs={changes['epochs']!r} and time_budget={changes['time_budget']!r} both set "
                             "the training's length: give one of them")
        recipe = self
        if "epochs" in changes and "resize_schedule" not in changes:
            recipe = recipe.with_epochs(changes["epochs"])
        if "epochs" in changes:
            recipe = recipe.replace(**{key: 0 for key in ("min_steps", "time_budget") if key not in changes})
        return recipe.replace(**changes)

    def with_epochs(self, epochs: float) -> "Recipe":
        """The recipe stretched or shortened to `epochs`: the resize schedule keeps its share."""
        schedule = self.resize_schedule
        if isinstance(epochs, (int, float)) and not isinstance(epochs, bool) and epochs > 0:  # else replace says why
            schedule = ",".join(f"{size}:{stage * epochs / self.epochs:g}" for size, stage in self.resize_stages())
        return self.replace(epochs=epochs, resize_schedule=schedule)


# Named recipes, each with the model it was tuned for. `get_preset(name, **overrides)`.
PRESETS: dict[str, dict] = {
    # 2 CPU cores, CIFAR-10, about 5.5 minutes: progressive resizing (2 epochs at 16 px, 3 at 24 px,
    # the rest at full size). At least 400 steps (CIFAR-10 has 1 228), so a small set such as
    # scene15's 1 500 images trains for 80 epochs instead of 32 steps. See BENCHMARKS.md.
    "cpu": dict(model="fastnet_s", recipe=dict(epochs=6.3, min_steps=400, batch_size=256, warmup_fraction=0.16,
                                               resize_schedule="16:2,24:3")),
    # A CUDA GPU, CIFAR-10: airbench-style width and schedule; at least CIFAR-10's 480 steps
    # (10 epochs of 48), so an active-learning cycle on 5 000 labels trains as long.
    # (airbench's hyper-parameters restated for a mean loss and decoupled decay; not yet measured
    # on a GPU with Winnow, see BENCHMARKS.md.)
    "gpu": dict(model="fastnet", recipe=dict(epochs=10, min_steps=480, batch_size=1024, lr=0.75, momentum=0.85,
                                             weight_decay=0.009, bias_lr_scale=64.0, label_smoothing=0.2,
                                             warmup_fraction=0.2)),
    # Small images such as the embedded digits: an MLP with AdamW, no augmentation.
    "small": dict(model="mlp", recipe=dict(epochs=30, batch_size=128, optimizer="adamw", lr=3e-3,
                                           weight_decay=1e-2, warmup_fraction=0.07, bias_lr_scale=1.0,
                                           label_smoothing=0.0, flip=False, translate=0)),
    # The common tutorial recipe: SGD lr 0.01 at batch 128, crop and flip, cosine.
    # (lr is given for batch 512; weight decay 5e-3 decoupled matches L2 5e-4 under momentum 0.9.)
    "tutorial": dict(model="resnet18", recipe=dict(epochs=200, batch_size=128, lr=0.01 * 512 / 128,
                                                   momentum=0.9, weight_decay=5e-3, bias_lr_scale=1.0,
                                                   label_smoothing=0.0, schedule="cosine", warmup_fraction=0.0,
                                                   translate=4, tta=False)),
}


def get_preset(name: str, **overrides) -> Recipe:
    """The recipe of preset `name`, with `overrides` applied by `Recipe.override` (unknown keys
    are an error; a new `epochs` stretches the resize schedule unless it is overridden too)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return Recipe.from_dict(PRESETS[name]["recipe"]).override(**overrides)


def check_no_seed(overrides: dict | None, seed_option: str) -> None:
    """For commands that set the recipe seed themselves (from `seed_option`, e.g. "--seeds"):
    a seed among the user's recipe overrides is an error, with the same message in every command."""
    if overrides and "seed" in overrides:
        raise ValueError(f"the seed is set by {seed_option}, not by --set seed=...")


def preset_model(name: str) -> str:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]["model"]


@dataclass
class TrainResult:
    """What `fit` returns: the trained model (in eval mode) and its per-epoch record.

    train_indices : (N,) the samples trained on (the given ones minus any validation hold-out)
    correct_history : (E, N) int8, per epoch and sample of `train_indices`: 1 if the sample was
        classified correctly in the training step that used it (augmented, in training mode),
        0 if not, -1 if no step used it in that epoch (the dropped last partial batch, or the
        unfinished last epoch). Forgetting events are counted from it.
    """

    model: nn.Module
    history: list[dict] = field(default_factory=list)  # one dict per epoch
    train_seconds: float = 0.0
    device: str = "cpu"
    recipe: Recipe | None = None
    val_indices: np.ndarray | None = None
    best_epoch: int | None = None
    train_indices: np.ndarray | None = None
    correct_history: np.ndarray | None = None
    steps: int = 0  # optimiser steps taken (the recipe's `epochs` are the steps planned, in epochs)
    compile_seconds: float = 0.0  # with `recipe.compile`: the first step at each image size, compilation included


@dataclass(frozen=True)
class Progress:
    """What `fit` and `predict` pass to `on_progress` after every training step or prediction batch.

    stage : "training" or "predicting"
    step : steps (training) or batches (predicting) done so far, 1 .. total_steps
    total_steps : the steps or batches of the whole run as planned
    epoch, num_epochs : the epoch of the step, 1 .. num_epochs; both 0 when predicting
    elapsed_seconds : since the run started (training: after the model was prepared)
    done : True on the run's last call: its last step, or, when early stopping ends training
        before `total_steps`, one more call with the same step
    """

    stage: str
    step: int
    total_steps: int
    epoch: int
    num_epochs: int
    elapsed_seconds: float
    done: bool = False


@dataclass
class Outputs:
    """Per-sample outputs of `predict` for an index set, in the order of `indices`.

    logits, probs : (N, K) float32;  features : (N, D) float32;  labels : (N,) int64
    mc_probs : (T, N, K) float32 probabilities of T MC-dropout passes, when asked for
    """

    indices: np.ndarray
    logits: np.ndarray
    probs: np.ndarray
    features: np.ndarray
    labels: np.ndarray
    mc_probs: np.ndarray | None = None

    @property
    def predictions(self) -> np.ndarray:
        return self.probs.argmax(1)

    @property
    def accuracy(self) -> float:
        return float((self.predictions == self.labels).mean()) if len(self.labels) else float("nan")


@dataclass
class Batch:
    """What an objective (`fit(objective=...)`) sees of one training step.

    images : (B, C, H, W) float in [0, 1], augmented and resized exactly as the model saw them
    labels : (B,) int64
    logits : (B, K) float32, the model's
    features : layer name -> that module's output in this forward pass, for the names the
        objective asked for in `feature_layers` (e.g. (B, C, H, W) of a conv group)
    label_loss : the scalar loss `fit` trains on without an objective (the recipe's
        cross-entropy with label smoothing)
    step, total_steps : this step (0 .. total_steps - 1) and the steps of the whole training,
        for an objective with a schedule of its own (a warm-up)
    inputs : (B, C_all, H, W) every channel of the training data, augmented alike, before
        modality dropout and before the model's modalities are chosen (`fit(modalities=...)`): what
        a teacher that sees other modalities reads; for ordinary data the same tensor as `images`
    """

    images: torch.Tensor
    labels: torch.Tensor
    logits: torch.Tensor
    features: dict[str, torch.Tensor]
    label_loss: torch.Tensor
    step: int = 0
    total_steps: int = 1
    inputs: torch.Tensor | None = None


class FeatureHooks:
    """Forward hooks that keep the outputs of named sub-modules of `model` (names as in
    `model.named_modules()`, e.g. "groups.2"): after `model(x)`, `hooks.outputs[name]`.

        hooks = FeatureHooks(model, ["groups.2"])
        logits = model(x)
        feature_map = hooks.outputs["groups.2"]  # (B, C, H, W)
        hooks.remove()

    An unknown name is a ValueError listing the names that exist (`check`).
    """

    def __init__(self, model: nn.Module, names: Sequence[str], role: str = "the model"):
        modules = self.check(model, names, role)
        self.outputs: dict[str, torch.Tensor] = {}
        self._handles = [modules[name].register_forward_hook(self._keeper(name)) for name in dict.fromkeys(names)]

    @staticmethod
    def check(model: nn.Module, names: Sequence[str], role: str = "the model") -> dict[str, nn.Module]:
        """name -> module of `model`; a ValueError for the first name it does not have."""
        modules = dict(model.named_modules())
        for name in names:
            if not name or name not in modules:
                known = ", ".join(n for n in modules if n)
                raise ValueError(f"{role} has no layer {name!r}; its layers are: {known}")
        return modules

    def _keeper(self, name: str):
        def keep(module, inputs, output):
            self.outputs[name] = output
        return keep

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles, self.outputs = [], {}


def _is_device_name(name: str) -> bool:
    """Whether `name` is "auto" or a device torch can parse (whether it is there: `resolve_device`)."""
    if name == "auto":
        return True
    try:
        torch.device(name)
    except (RuntimeError, ValueError):
        return False
    return True


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def resolve_device(name: str = "auto") -> torch.device:
    """The device `name` names ("auto": CUDA, else MPS, else the CPU); a ValueError naming it
    when it is not a device name or this machine does not have it."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if not _is_device_name(name):
        raise ValueError(f"device {name!r} is not a device: use auto, cpu, cuda, cuda:N or mps")
    device = torch.device(name)
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise ValueError(f"device {name!r} is not available: this machine has {count} CUDA device(s)"
                         + ("" if count else " (or torch was built without CUDA)"))
    if device.type == "mps" and not _mps_available():
        raise ValueError(f"device {name!r} is not available on this machine")
    return device


def _to_float(images_uint8: torch.Tensor, channels_last: bool) -> torch.Tensor:
    x = images_uint8.float().div_(255)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def _autocast(device: torch.device, recipe: Recipe):
    enabled = recipe.mixed_precision and device.type == "cuda"
    dtype = torch.bfloat16 if enabled and torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast(device.type, dtype=dtype, enabled=enabled)


def _make_optimizer(model: nn.Module, recipe: Recipe, extra: Sequence[nn.Parameter] = ()) -> torch.optim.Optimizer:
    """Weights (dim > 1) at `lr`; biases and norm shifts at `lr * bias_lr_scale`, with their decay
    divided by the same factor so every parameter decays by the same fraction per step. `extra`
    parameters (an objective's) join the model's, after them, by the same rule. With a
    `backbone_lr_scale` other than 1, the model's parameters outside its `head` are in two more
    groups (weights, biases) at that multiple of those rates."""
    lr = recipe.lr * recipe.batch_size / 512 if recipe.optimizer == "sgd" else recipe.lr
    scale, backbone = recipe.bias_lr_scale, recipe.backbone_lr_scale
    head = None  # ids of the parameters at the head's rate, when the backbone has its own
    if backbone != 1:
        if getattr(model, "head", None) is None:
            raise ValueError(f"recipe option backbone_lr_scale={backbone} needs a model with a head "
                             "(a winnow Classifier)")
        head = {id(p) for p in [*model.head.parameters(), *extra]}
    weights, biases, backbone_weights, backbone_biases = [], [], [], []
    for p in [*model.parameters(), *extra]:
        if p.requires_grad:
            outside = head is not None and id(p) not in head
            if p.dim() > 1:
                (backbone_weights if outside else weights).append(p)
            else:
                (backbone_biases if outside else biases).append(p)
    groups = [dict(params=weights, lr=lr, base_lr=lr, decay=recipe.weight_decay),
              dict(params=biases, lr=lr * scale, base_lr=lr * scale, decay=recipe.weight_decay / scale)]
    groups += [dict(params=found, lr=lr * rate * backbone, base_lr=lr * rate * backbone,
                    decay=recipe.weight_decay / rate)
               for found, rate in ((backbone_weights, 1.0), (backbone_biases, scale)) if found]
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(groups, weight_decay=0.0)
    return torch.optim.SGD(groups, momentum=recipe.momentum, nesterov=recipe.momentum > 0)


def _lr_factor(step: int, total_steps: int, warmup_steps: int, recipe: Recipe) -> float:
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    low = recipe.final_lr_fraction
    if recipe.schedule == "cosine":
        return low + (1 - low) * 0.5 * (1 + math.cos(math.pi * progress))
    return low + (1 - low) * (1 - progress)


def _check_indices(dataset: Dataset, indices, name: str) -> np.ndarray:
    indices = np.asarray(indices, dtype=np.int64)
    if indices.ndim != 1 or len(indices) == 0:
        raise ValueError(f"{name} must be a non-empty 1-D index array")
    bad = np.flatnonzero((indices < 0) | (indices >= len(dataset)))
    if len(bad):
        raise ValueError(f"{name}[{bad[0]}] = {indices[bad[0]]} is outside the dataset of {len(dataset)} images")
    return indices


def fit(
    model: nn.Module,
    dataset: Dataset,
    train_indices: Sequence[int] | np.ndarray,
    recipe: Recipe | None = None,
    *,
    val_indices: Sequence[int] | np.ndarray | None = None,
    on_epoch_end: Callable[[dict], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    prepare: bool = True,
    objective: Callable[[Batch], torch.Tensor] | None = None,
    modalities: Sequence[str] | None = None,
) -> TrainResult:
    """Train `model` from its current weights on `dataset[train_indices]` following `recipe`.

    Validation, when the recipe asks for it (`val_fraction > 0` or `early_stopping_patience > 0`)
    and `val_indices` is not given, uses the dataset's own val split (`dataset.val_indices`, e.g.
    a folder's val/ images) when it has a non-empty one, with any of its images left out of
    training; otherwise a stratified `val_fraction` of `train_indices` is held out.
    Early stopping without any of the three (`val_indices`, a val split, `val_fraction`) is an
    error. With `early_stopping_patience` the best epoch's weights are restored.

    With `recipe.time_budget` the number of steps is fitted to the budget (`winnow.budget`: a
    probe of the step costs, then a few re-plans with the measured times) and `train_seconds`
    includes the probe; the returned recipe has the steps trained as its `epochs`.

    `on_epoch_end(record)` is called after every epoch with the record that is also appended to
    `history`; `on_progress(Progress)` after every training step (`winnow.progress` has the
    reporters). Same seed and device give the same result. NumPy's global generator is neither
    used nor seeded.

    objective : the loss to train on instead of the label loss (distillation, `winnow.distill`):
        called in every step, under the same autocast as the model, with a `Batch` (the
        augmented images, labels, logits, the outputs of the layers named by its
        `feature_layers` attribute, read after `setup`, and the label loss), it returns the
        scalar loss. If it has a `setup(model, sample, device, memory_format)` method, that is
        called once before the first step with the prepared model and a (S, C, H, W) float
        sample of the training images on the device (the first 64); the parameters it returns
        (e.g. adapters) are trained with the model's, and the random state it uses leaves the
        model's training unchanged. Without an objective (None) training is exactly as it always was.
        With `modalities`, `setup`'s sample holds every channel of the data, like `Batch.inputs`.

    modalities : data with several modalities (`Dataset.modalities`): the ones the model sees, in
        order (default all). Every modality is augmented alike (colour jitter on rgb only,
        `augment.library_pipeline`), then the model's are taken, then `recipe.modality_dropout`
        zeroes some of them (`augment.drop_modalities`). Validation (and `predict` afterwards) is
        on `dataset.with_modalities(modalities)`.
    """
    recipe = recipe or Recipe()
    train_indices = _check_indices(dataset, train_indices, "train_indices")
    labels_all = dataset.labels.numpy()
    if (labels_all[train_indices] < 0).any():
        i = int(train_indices[np.flatnonzero(labels_all[train_indices] < 0)[0]])
        raise ValueError(f"image {i} in train_indices has no label")
    if val_indices is None and (recipe.val_fraction > 0 or recipe.early_stopping_patience > 0):
        train_indices, val_indices = _hold_out(dataset, train_indices, recipe)
    val_indices = None if val_indices is None else _check_indices(dataset, val_indices, "val_indices")

    view, channels = _model_view(dataset, modalities, recipe)
    device = resolve_device(recipe.device)
    torch.manual_seed(recipe.seed)
    generator = torch.Generator(device=device).manual_seed(recipe.seed)
    memory_format = torch.channels_last if recipe.channels_last else torch.contiguous_format

    images = dataset.images[torch.from_numpy(train_indices)].to(device)  # (N, C, H, W) uint8, every modality
    labels = dataset.labels[torch.from_numpy(train_indices)].to(device)
    if channels is not None:
        channels = channels.to(device)
    seen_images = images if channels is None else images.index_select(1, channels)  # (N, C_model, H, W)
    if prepare:
        _prepare_model(model, seen_images, device, memory_format, generator)
    else:
        model.to(device=device, memory_format=memory_format)
    if recipe.freeze:
        if not hasattr(model, "freeze_backbone"):
            raise ValueError(f"recipe option freeze={recipe.freeze!r} needs a model with a head (a winnow Classifier)")
        model.freeze_backbone()
    hooks, extra = None, []
    if objective is not None:
        if hasattr(objective, "setup"):
            with torch.random.fork_rng(devices=[]):  # the objective's own initialisation draws nothing of the model's
                torch.manual_seed(recipe.seed)
                extra = list(objective.setup(model, _to_float(images[:64], recipe.channels_last), device,
                                             memory_format) or [])
        hooks = FeatureHooks(model, getattr(objective, "feature_layers", ()), "the model")
    optimizer = _make_optimizer(model, recipe, extra)
    average = WeightAverage(model, recipe.ema) if recipe.ema else None
    pipeline = library_pipeline(recipe.to_dict(), tuple(images.shape[-2:]), images.shape[1], dataset.modalities)

    n = len(train_indices)
    recipe, batch_size, steps_per_epoch, total_steps = _schedule(recipe, n)
    start, budget = time.perf_counter(), None
    if recipe.time_budget:
        budget = _plan_budget(model, seen_images, labels, recipe, device)
        total_steps = budget.total_steps(elapsed=budget.probe_seconds)
        recipe = recipe.with_epochs(total_steps / steps_per_epoch)
        log.info("time budget %.0f s: a step takes %s (probe %.1f s); %d steps planned (%.2f epochs)",
                 budget.seconds, ", ".join(f"{c:.3f} s at {f'{s} px' if s else 'full size'}"
                                           for s, c in budget.step_cost.items()),
                 budget.probe_seconds, total_steps, recipe.epochs)
    warmup_steps = round(recipe.warmup_fraction * total_steps)
    num_epochs = math.ceil(total_steps / steps_per_epoch)
    resize_stages = recipe.resize_stages()
    replans = list(REPLAN_AT) if budget else []
    budget_seconds = budget.probe_seconds if budget else 0.0  # where the last step ended
    forward = torch.compile(model, dynamic=False) if recipe.compile else model  # same parameters, same hooks
    compiled_shapes, compile_seconds = set(), 0.0

    history: list[dict] = []
    correct_history: list[torch.Tensor] = []
    best = (-1.0, None, None)  # (val accuracy, epoch, state)
    step, epoch = 0, 0
    try:
        while step < total_steps:
            epoch += 1
            model.train()
            order = torch.randperm(n, device=device, generator=generator)
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), device=device)
            presented = torch.full((n,), -1, dtype=torch.int8, device=device)  # per sample: -1, 0 wrong, 1 right
            seen = 0
            for b in range(steps_per_epoch):
                if step >= total_steps:
                    break
                batch = order[b * batch_size : (b + 1) * batch_size]
                x = _augment(_to_float(images[batch], recipe.channels_last), recipe, generator, pipeline)
                size = _train_size(step / steps_per_epoch, resize_stages)
                x = _resized(x, size or recipe.input_size or None)
                y = labels[batch]
                targets = None  # soft targets (B, K) of mixup / CutMix
                if recipe.mixup or recipe.cutmix:
                    x, targets = mix(x, y, dataset.num_classes, recipe.mixup, recipe.cutmix, generator)
                inputs = x  # every channel: what an objective's teacher may read
                if channels is not None:
                    x = x.index_select(1, channels).contiguous(memory_format=memory_format)
                if recipe.modality_dropout:
                    x = drop_modalities(x, view.modalities, recipe.modality_dropout, generator)
                for g in optimizer.param_groups:
                    g["lr"] = g["base_lr"] * _lr_factor(step, total_steps, warmup_steps, recipe)
                first = recipe.compile and x.shape not in compiled_shapes
                if first:
                    compiled_shapes.add(x.shape)
                    started_step = time.perf_counter()
                logits, loss = _train_step(forward, optimizer, x, y, recipe, device, objective, hooks,
                                           (step, total_steps), targets, inputs)
                hits = logits.detach().argmax(1) == y
                if average is not None:
                    average.update(model, step)
                if first:
                    _sync(device)
                    compile_seconds += time.perf_counter() - started_step
                presented[batch] = hits.to(torch.int8)
                loss_sum += loss.detach() * len(batch)
                correct += hits.sum()
                seen += len(batch)
                step += 1
                if budget:
                    ended = time.perf_counter() - start
                    budget.observe(size, ended - budget_seconds)
                    budget_seconds = ended
                if replans and step >= replans[0] * total_steps:
                    while replans and step >= replans[0] * total_steps:
                        replans.pop(0)
                    total_steps = budget.replan(step, budget_seconds)
                    recipe = recipe.with_epochs(total_steps / steps_per_epoch)
                    warmup_steps = round(recipe.warmup_fraction * total_steps)
                    num_epochs = math.ceil(total_steps / steps_per_epoch)
                    resize_stages = recipe.resize_stages()
                if on_progress is not None:
                    on_progress(Progress("training", step, total_steps, epoch, num_epochs, time.perf_counter() - start,
                                         done=step == total_steps))
            record = {
                "epoch": epoch,
                "train_loss": float(loss_sum) / max(seen, 1),
                "train_accuracy": float(correct) / max(seen, 1),
                "lr": optimizer.param_groups[0]["lr"],
                "seconds": time.perf_counter() - start,
            }
            if val_indices is not None:
                judged = model if average is None else average.model  # the model the training will return
                validated = predict(judged, view, val_indices, recipe)
                record["val_accuracy"] = validated.accuracy
                record["val_loss"] = float(F.cross_entropy(torch.from_numpy(validated.logits),
                                                           torch.from_numpy(validated.labels)))
                if record["val_accuracy"] > best[0]:
                    state = {k: v.detach().clone() for k, v in judged.state_dict().items()}
                    best = (record["val_accuracy"], epoch, state)
            history.append(record)
            correct_history.append(presented.cpu())
            log.info("epoch %d/%d %s", epoch, num_epochs,
                     " ".join(f"{k}={v:.4f}" for k, v in record.items() if isinstance(v, float)))
            if on_epoch_end is not None:
                on_epoch_end(record)
            patience = recipe.early_stopping_patience
            if patience and best[1] is not None and epoch - best[1] >= patience:
                log.info("early stopping at epoch %d (best %d)", epoch, best[1])
                if on_progress is not None and step < total_steps:
                    on_progress(Progress("training", step, total_steps, epoch, num_epochs, time.perf_counter() - start,
                                         done=True))
                break
    finally:
        if hooks is not None:
            hooks.remove()
    if average is not None:
        model.load_state_dict(average.model.state_dict())
    if recipe.early_stopping_patience and best[2] is not None:
        model.load_state_dict(best[2])
    _sync(device)
    train_seconds = time.perf_counter() - start
    model.eval()
    return TrainResult(model=model, history=history, train_seconds=train_seconds, device=str(device),
                       recipe=recipe, val_indices=val_indices, best_epoch=best[1], train_indices=train_indices,
                       steps=step, compile_seconds=compile_seconds,
                       correct_history=torch.stack(correct_history).numpy() if correct_history
                       else np.zeros((0, n), dtype=np.int8))


def tta_views(images: torch.Tensor, recipe: Recipe) -> tuple[torch.Tensor, torch.Tensor]:
    """The views `predict` averages over and their weights: (V * B, C, H, W) stacked view by view,
    and (V,) summing to 1. Without `recipe.tta` the images alone. With it, the images and (if
    `recipe.flip`) their mirror images, equally weighted; with `recipe.tta_translate` = p each of
    those also shifted by (p, p) and by (-p, -p) pixels, edges filled by reflection (as
    `random_translate` does in training), weighted 1/4 each beside the unshifted view's 1/2."""
    base = [images, images.flip(-1)] if recipe.tta and recipe.flip else [images]
    pad = recipe.tta_translate if recipe.tta else 0
    if not pad:  # one view is the batch itself, not a copy of it
        views = base[0] if len(base) == 1 else torch.cat(base)
        return views, torch.full((len(base),), 1 / len(base), device=images.device)
    h, w = images.shape[-2:]
    if pad >= min(h, w):
        raise ValueError(f"recipe option tta_translate={pad} must be smaller than the images ({h}x{w} px)")
    views = []
    for view in base:
        padded = F.pad(view, (pad, pad, pad, pad), mode="reflect")
        views += [view, padded[..., :h, :w], padded[..., 2 * pad :, 2 * pad :]]  # as is, moved down-right, up-left
    weights = torch.tensor([0.5, 0.25, 0.25] * len(base), device=images.device) / len(base)
    return torch.cat(views), weights


class WeightAverage:
    """An exponential moving average of a model's weights and buffers (`Recipe.ema`), kept in a
    copy of the model: after step t, average <- d average + (1 - d) weights with
    d = min(decay, (1 + t) / (10 + t)), so the first steps, far from where training ends, weigh
    little. Integer buffers (BatchNorm's step counts) are copied."""

    def __init__(self, model: nn.Module, decay: float):
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        weight = 1 - min(self.decay, (1 + step) / (10 + step))
        current = model.state_dict()
        for name, value in self.model.state_dict().items():
            if value.is_floating_point():
                value.lerp_(current[name], weight)
            else:
                value.copy_(current[name])


def _model_view(dataset: Dataset, modalities, recipe: Recipe) -> tuple[Dataset, torch.Tensor | None]:
    """(the dataset as the model sees it, the data's channels it reads as an index tensor, or
    None for all of them); errors for modalities the data lacks and for a modality dropout
    without two modalities to drop from."""
    view, channels = dataset, None
    if modalities is not None:
        if not dataset.modalities:
            raise ValueError(f"modalities {', '.join(map(str, modalities))} given, but the data has one input "
                             "(no modalities)")
        view = dataset.with_modalities(modalities)
        channels = torch.tensor(dataset.channel_indices(modalities), dtype=torch.int64)
    if recipe.modality_dropout and len(view.modalities or {}) < 2:
        raise ValueError(f"recipe option modality_dropout={recipe.modality_dropout} zeroes whole modalities: the "
                         f"model needs two or more, it sees {', '.join(view.modalities or {}) or 'one input'}")
    return view, channels


def _hold_out(dataset: Dataset, train_indices: np.ndarray, recipe: Recipe) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) indices for a recipe that asks for validation: the dataset's own val
    split if it has a non-empty one (its images taken out of training), else a stratified
    `recipe.val_fraction` of `train_indices`."""
    split = getattr(dataset, "val_indices", None)  # a folder's val/ images
    if split is not None and len(split):
        split = _check_indices(dataset, split, "dataset.val_indices")
        kept = train_indices[~np.isin(train_indices, split)]
        if not len(kept):
            raise ValueError("train_indices hold only images of the dataset's val split; nothing is left to train on")
        log.info("validating on the dataset's val split (%d images)", len(split))
        return kept, split
    if recipe.val_fraction <= 0:
        raise ValueError(f"recipe option early_stopping_patience={recipe.early_stopping_patience} needs validation "
                         "images: set val_fraction > 0, pass val_indices, or use data with a val split")
    parts = stratified_split(dataset.labels.numpy()[train_indices], recipe.val_fraction, recipe.seed)
    if not len(parts["test"]) or not len(parts["train"]):
        raise ValueError(f"recipe option val_fraction={recipe.val_fraction} "
                         + ("holds out no image" if not len(parts["test"]) else "leaves no image to train on")
                         + f" of the {len(train_indices)} training images (each class gives round(n x val_fraction))")
    return train_indices[parts["train"]], train_indices[parts["test"]]


def _schedule(recipe: Recipe, n: int) -> tuple[Recipe, int, int, int]:
    """(the recipe as trained, batch size, steps per epoch, total steps) on `n` samples: when the
    recipe's epochs give fewer than `min_steps` steps (a small training set), its epochs, and
    the resize schedule with them, are stretched to `min_steps` (not under a time budget, which
    sets the length itself)."""
    batch_size = min(recipe.batch_size, n)
    steps_per_epoch = max(1, n // batch_size)  # drop the last partial batch
    if recipe.min_steps and not recipe.time_budget and recipe.epochs * steps_per_epoch < recipe.min_steps:
        log.info("%d samples: %g epochs are %d steps, stretched to min_steps %d (%g epochs)", n, recipe.epochs,
                 round(recipe.epochs * steps_per_epoch), recipe.min_steps, recipe.min_steps / steps_per_epoch)
        recipe = recipe.with_epochs(recipe.min_steps / steps_per_epoch)
    return recipe, batch_size, steps_per_epoch, max(1, round(recipe.epochs * steps_per_epoch))


def _prepare_model(model: nn.Module, images: torch.Tensor, device: torch.device, memory_format,
                   generator: torch.Generator) -> None:
    """Move to the device, set input statistics, materialise lazy layers, data-dependent init,
    all from a random sample of up to 5 000 training images (indices are often sorted by class)."""
    model.to(device)
    chosen = torch.randperm(len(images), device=device, generator=generator)[:5000]
    sample = images[chosen].float().div(255)  # (S, C, H, W)
    if hasattr(model, "set_input_stats"):
        model.set_input_stats(sample.mean(dim=(0, 2, 3)), sample.std(dim=(0, 2, 3)))
    with torch.no_grad():
        model.eval()
        model(sample[:2])  # materialises lazy layers
    model.to(memory_format=memory_format)
    if hasattr(model, "init_from_data"):
        model.init_from_data(model.normalize(sample) if hasattr(model, "normalize") else sample)


def _train_step(model, optimizer, x, y, recipe: Recipe, device: torch.device, objective=None,
                hooks: FeatureHooks | None = None, schedule: tuple[int, int] = (0, 1), targets=None, inputs=None):
    """One optimisation step on the batch (x, y); returns its logits and mean loss (the
    objective's, when there is one). `targets` (B, K): soft targets of mixup / CutMix to learn
    instead of y (label smoothing then mixes them with the uniform distribution). `inputs`: every
    channel of the batch, for the objective (`Batch.inputs`; default x)."""
    with _autocast(device, recipe):
        logits = model(x)
        loss = F.cross_entropy(logits.float(), y if targets is None else targets,
                               label_smoothing=recipe.label_smoothing)
        if objective is not None:
            loss = objective(Batch(x, y, logits.float(), dict(hooks.outputs), loss, *schedule,
                                   inputs=x if inputs is None else inputs))
            hooks.outputs.clear()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    _decoupled_decay(optimizer)
    return logits, loss


def _plan_budget(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, recipe: Recipe,
                 device: torch.device) -> Budget:
    """`winnow.budget.plan_budget` with a throw-away copy of `model` at learning rate 0."""
    probe = copy.deepcopy(model).train()
    optimizer = _make_optimizer(probe, recipe)
    for group in optimizer.param_groups:
        group["lr"] = 0.0
    return plan_budget(lambda x, y: _train_step(probe, optimizer, x, y, recipe, device), images, labels, recipe,
                       recipe.time_budget,
                       lambda x, size: _resized(_to_float(x, recipe.channels_last), size or recipe.input_size or None))


def _resized(x: torch.Tensor, size: int | None) -> torch.Tensor:
    """The batch at `size` pixels (progressive resizing, `input_size`); None = as it is."""
    if size is None or x.shape[-2:] == (size, size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)


def _train_size(epoch: float, stages: list[tuple[int, float]]) -> int | None:
    """The image size of progressive resizing at (fractional) `epoch`; None = full size."""
    for size, epochs in stages:
        if epoch < epochs:
            return size
        epoch -= epochs
    return None


def _augment(x: torch.Tensor, recipe: Recipe, generator: torch.Generator, pipeline=None) -> torch.Tensor:
    """Flip, translate, the kornia `pipeline` (`augment.library_pipeline`), then cutout."""
    if recipe.flip:
        x = random_flip(x, generator)
    if recipe.translate:
        x = random_translate(x, recipe.translate, generator)
    x = apply_library(x, pipeline, generator)
    if recipe.cutout:
        x = cutout(x, recipe.cutout, generator)
    return x


@torch.no_grad()
def augmented_examples(dataset: Dataset, indices, recipe: Recipe) -> torch.Tensor:
    """What a training step of `recipe` makes of `dataset[indices]` (uint8 (B, C, H, W), before
    any resizing): flip, translate, the kornia ops, cutout, then mixup/CutMix within the batch,
    drawn under the recipe's seed. For showing an augmentation, not for training."""
    indices = torch.as_tensor(_check_indices(dataset, indices, "indices"))
    generator = torch.Generator().manual_seed(recipe.seed)
    images = dataset.images[indices]
    pipeline = library_pipeline(recipe.to_dict(), tuple(images.shape[-2:]), images.shape[1], dataset.modalities)
    x = _augment(_to_float(images, False), recipe, generator, pipeline)
    if recipe.mixup or recipe.cutmix:
        x, _ = mix(x, dataset.labels[indices], dataset.num_classes, recipe.mixup, recipe.cutmix, generator)
    return x.mul(255).round_().clamp_(0, 255).to(torch.uint8).contiguous()


@torch.no_grad()
def _decoupled_decay(optimizer: torch.optim.Optimizer) -> None:
    for g in optimizer.param_groups:
        if g["decay"]:
            torch._foreach_mul_(g["params"], 1 - g["lr"] * g["decay"])


@torch.no_grad()
def predict(
    model: nn.Module,
    dataset: Dataset,
    indices: Sequence[int] | np.ndarray,
    recipe: Recipe | None = None,
    *,
    mc_passes: int = 0,
    mc_dropout: float = 0.5,
    on_progress: Callable[[Progress], None] | None = None,
) -> Outputs:
    """Per-sample logits, probabilities and penultimate features for `dataset[indices]`.

    Runs in batches of `recipe.eval_batch_size` on `recipe.device`; with `recipe.tta` the logits
    (and features) of several views of each image are averaged (`tta_views`): the image and its
    mirror image (if `recipe.flip`), and with `recipe.tta_translate` each of those shifted too.

    mc_passes : T > 0 also gives `mc_probs`, T Monte-Carlo dropout passes: dropout with
        probability `mc_dropout` on the penultimate features, then the head. The networks here
        have no dropout layers of their own, so the dropout is applied where the head reads the
        features (last-layer MC dropout); each pass costs one head evaluation, not a network
        pass. Seeded by `recipe.seed`.
    on_progress : called with a `Progress` record (stage "predicting") after every batch
    """
    if isinstance(mc_passes, bool) or not isinstance(mc_passes, int) or mc_passes < 0:
        raise ValueError(f"mc_passes must be an int >= 0, got {mc_passes!r}")
    if not 0 <= mc_dropout < 1:
        raise ValueError(f"mc_dropout must be in [0, 1), got {mc_dropout!r}")
    recipe = recipe or Recipe()
    indices = _check_indices(dataset, indices, "indices")
    device = next(model.parameters()).device if recipe.device == "auto" else resolve_device(recipe.device)
    # weights in the inputs' memory format, as `fit` leaves them (a model loaded from a file is contiguous)
    model.to(device, memory_format=torch.channels_last if recipe.channels_last else torch.contiguous_format)
    was_training = model.training
    model.eval()
    logits_out, features_out, mc_out = [], [], []
    generator = torch.Generator(device=device).manual_seed(recipe.seed)
    head_scale = getattr(model, "head_scale", 1.0)
    total_batches, started = math.ceil(len(indices) / recipe.eval_batch_size), time.perf_counter()
    for batch, start in enumerate(range(0, len(indices), recipe.eval_batch_size), 1):
        chunk = torch.from_numpy(indices[start : start + recipe.eval_batch_size])
        x = _resized(_to_float(dataset.images[chunk].to(device), recipe.channels_last), recipe.input_size or None)
        views, weights = tta_views(x, recipe)
        with _autocast(device, recipe):
            features = model.forward_features(views).float()
            logits = (model.head(features) * head_scale).float()
        if len(weights) > 1:
            features = torch.einsum("v,vbd->bd", weights, features.view(len(weights), len(x), -1))
            logits = torch.einsum("v,vbk->bk", weights, logits.view(len(weights), len(x), -1))
        if mc_passes:
            keep = torch.rand((mc_passes, *features.shape), device=device, generator=generator) >= mc_dropout
            dropped = features * keep / (1 - mc_dropout)  # (T, B, D)
            with _autocast(device, recipe):
                mc_logits = (model.head(dropped) * head_scale).float()
            mc_out.append(torch.softmax(mc_logits, -1).cpu())  # (T, B, K)
        logits_out.append(logits.cpu())
        features_out.append(features.cpu())
        if on_progress is not None:
            on_progress(Progress("predicting", batch, total_batches, 0, 0, time.perf_counter() - started,
                                 done=batch == total_batches))
    model.train(was_training)
    logits = torch.cat(logits_out)
    return Outputs(
        indices=indices,
        logits=logits.numpy(),
        probs=torch.softmax(logits, 1).numpy(),
        features=torch.cat(features_out).numpy(),
        labels=dataset.labels[torch.from_numpy(indices)].numpy(),
        mc_probs=torch.cat(mc_out, 1).numpy() if mc_passes else None,
    )
