"""Knowledge distillation: losses on tensors, the loss spec, and the objective `train.fit` takes.

Losses (tensors in, a scalar out; shapes in each docstring):

* `kd_loss`: Hinton et al. 2015, KL(teacher || student) of temperature-softened distributions x T^2
* `dkd_loss`: decoupled KD (Zhao et al. 2022), a target-class and a non-target-class part
* `feature_mse`: FitNet-style MSE of feature maps, through a learned 1x1 adapter when widths differ
* `feature_mmd`: squared MMD between normalised student and teacher channels (channels as
  samples, as in neural style transfer), RBF or polynomial kernel
* `attention_transfer`: Zagoruyko and Komodakis 2017, normalised spatial attention maps
* `patch_kd`: a logit (KD) or BCE loss per spatial patch of a feature map through a shared 1x1
  head, pooled over patches (mean by default)

A loss spec combines them with weights, each on named layers (student=teacher) or on the
model's default layer (`DEFAULT_LAYERS`):

    kd:1.0,at:0.5@groups.1+groups.2,mmd:0.1@groups.2=groups.2,fitnet:1@groups.1

`Distillation(teacher, parse_loss_spec(text), DistillOptions(...))` is the objective of
`train.fit(objective=...)`: the teacher, frozen in eval mode without gradients on the student's
device, sees the same augmented batch as the student, and the loss is

    (1 - alpha) * label loss + alpha * warm-up * sum_i weight_i * loss_i

(the warm-up rises from 0 to 1 over `DistillOptions.warmup_fraction` of the steps; 1 without).

Cross-modal distillation (data with several modalities, `Dataset.modalities`): the student is
trained on some modalities (`train.fit(modalities=...)`), and `teacher_channels` names the
channels of the data the teacher reads, e.g. every one of rgb, depth and ir while the student
sees rgb: the teacher gets its channels of the same augmented batch (`Batch.inputs`), the student
only its own. Feature losses pair named layers of the two models as usual.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .train import Batch, FeatureHooks

# The layer a feature loss uses when the spec names none: the last feature map before pooling.
DEFAULT_LAYERS = {"FastNet": "groups.2", "ResNet18": "stages", "LeNet5": "conv", "MLP": "body",
                  "FusionNet": "groups.1"}


# ---------------------------------------------------------------- losses


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 4.0) -> torch.Tensor:
    """Hinton's distillation loss: KL(softmax(t / T) || softmax(s / T)), summed over classes,
    averaged over samples, times T^2 (so its gradients keep their scale as T changes).

    student_logits, teacher_logits : (B, K)
    """
    log_student = F.log_softmax(student_logits.float() / temperature, dim=1)
    log_teacher = F.log_softmax(teacher_logits.float() / temperature, dim=1)
    return (log_teacher.exp() * (log_teacher - log_student)).sum(1).mean() * temperature**2


def dkd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor,
             temperature: float = 4.0, alpha: float = 1.0, beta: float = 8.0) -> torch.Tensor:
    """Decoupled KD (Zhao et al. 2022): alpha * TCKD + beta * NCKD, both times T^2.

    TCKD is the KL between the binary distributions (p of the target class, p of the rest) of
    teacher and student; NCKD the KL between their distributions over the non-target classes
    alone (the softmax of the other K - 1 logits).

    student_logits, teacher_logits : (B, K), K >= 2;  labels : (B,) int64
    """
    s, t = student_logits.float() / temperature, teacher_logits.float() / temperature
    batch, classes = s.shape
    target = F.one_hot(labels, classes).bool()  # (B, K)
    p_s, p_t = s.softmax(1), t.softmax(1)
    binary_s = torch.stack([p_s[target], p_s.masked_fill(target, 0).sum(1)], 1)  # (B, 2)
    binary_t = torch.stack([p_t[target], p_t.masked_fill(target, 0).sum(1)], 1)
    tckd = (torch.xlogy(binary_t, binary_t) - binary_t * binary_s.clamp_min(1e-12).log()).sum(1).mean()
    others_s, others_t = s[~target].view(batch, classes - 1), t[~target].view(batch, classes - 1)
    nckd = kd_loss(others_s, others_t, 1.0)  # the logits are divided by T already
    return (alpha * tckd + beta * nckd) * temperature**2


def _match_size(student: torch.Tensor, teacher: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Feature maps (B, C, H, W) average-pooled to the smaller of their two spatial sizes."""
    if student.dim() != 4 or student.shape[-2:] == teacher.shape[-2:]:
        return student, teacher
    size = (min(student.shape[-2], teacher.shape[-2]), min(student.shape[-1], teacher.shape[-1]))
    return F.adaptive_avg_pool2d(student, size), F.adaptive_avg_pool2d(teacher, size)


def feature_mse(student: torch.Tensor, teacher: torch.Tensor, adapter: nn.Module | None = None) -> torch.Tensor:
    """FitNet: the mean squared error between the student's features (through `adapter`, a 1x1
    convolution or linear map to the teacher's width, when given) and the teacher's.

    student : (B, Cs, H, W) or (B, Ds);  teacher : (B, Ct, H', W') or (B, Dt); maps of other
    spatial sizes are average-pooled to the smaller.
    """
    if adapter is not None:
        student = adapter(student)
    student, teacher = _match_size(student.float(), teacher.float())
    if student.shape != teacher.shape:
        raise ValueError(f"fitnet: student features {tuple(student.shape)} and teacher features "
                         f"{tuple(teacher.shape)} differ: give an adapter")
    return F.mse_loss(student, teacher)


def _kernel(x: torch.Tensor, y: torch.Tensor, kernel: str, sigma: float, degree: int, coef: float) -> torch.Tensor:
    """(G, N, D), (G, M, D) -> (G, N, M) kernel values."""
    if kernel == "rbf":
        return torch.exp(-torch.cdist(x, y).pow(2) / (2 * sigma**2))
    return (x @ y.transpose(1, 2) + coef).pow(degree)


def feature_mmd(student: torch.Tensor, teacher: torch.Tensor, kernel: str = "rbf", sigma: float = 1.0,
                degree: int = 2, coef: float = 0.0) -> torch.Tensor:
    """The squared maximum mean discrepancy (biased estimate) between student and teacher features.

    Feature maps (B, C, H, W): per image, each channel's map over the H*W positions, scaled to
    unit length, is a sample (so the two widths may differ; spatial sizes are pooled to the
    smaller); the squared MMD is averaged over the images. Vectors (B, D): each image's
    unit-length vector is a sample, one set per batch (the widths must agree).

    MMD^2 = mean k(s, s') + mean k(t, t') - 2 mean k(s, t), with k the RBF kernel
    exp(-|x - y|^2 / (2 sigma^2)) or the polynomial kernel (x . y + coef)^degree (degree 2,
    coef 0: matching Gram matrices, Li et al. 2017, "Demystifying neural style transfer").
    """
    if kernel not in ("rbf", "poly"):
        raise ValueError(f"mmd kernel must be rbf or poly, got {kernel!r}")
    student, teacher = _match_size(student.float(), teacher.float())
    if student.dim() == 4:
        s, t = F.normalize(student.flatten(2), dim=2), F.normalize(teacher.flatten(2), dim=2)  # (B, C, HW)
    else:
        if student.shape[1:] != teacher.shape[1:]:
            raise ValueError(f"mmd of feature vectors needs equal widths, got {student.shape[1]} and "
                             f"{teacher.shape[1]}")
        s, t = F.normalize(student, dim=1)[None], F.normalize(teacher, dim=1)[None]  # (1, B, D)
    k = (lambda x, y: _kernel(x, y, kernel, sigma, degree, coef).mean((1, 2)))
    return (k(s, s) + k(t, t) - 2 * k(s, t)).mean()


def _attention(x: torch.Tensor, p: float) -> torch.Tensor:
    """(B, C, H, W) -> (B, H*W): the mean over channels of |x|^p, scaled to unit length."""
    return F.normalize(x.float().abs().pow(p).mean(1).flatten(1), dim=1)


def attention_transfer(student: torch.Tensor, teacher: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    """Attention transfer (Zagoruyko and Komodakis 2017): the mean squared difference of the
    normalised spatial attention maps (the mean over channels of |A|^p, unit length per image).

    student : (B, Cs, H, W);  teacher : (B, Ct, H', W') (pooled to the smaller size)
    """
    student, teacher = _match_size(student, teacher)
    return (_attention(student, p) - _attention(teacher, p)).pow(2).mean()


def patch_kd(student_map: torch.Tensor, teacher_logits: torch.Tensor, head: nn.Module, temperature: float = 4.0,
             mode: str = "kd", pool: str = "mean") -> torch.Tensor:
    """Patch-level KD: `head` (a 1x1 convolution, Cs -> K) gives logits at every spatial
    position of the student's map; each patch is taught the teacher's whole-image prediction,
    by `mode` "kd" (`kd_loss` per patch) or "bce" (binary cross-entropy of sigmoid(patch / T)
    against softmax(teacher / T), averaged over classes), and the patch losses are pooled per
    image by `pool` ("mean", found better than "max" in earlier experiments), then averaged.

    student_map : (B, Cs, H, W);  teacher_logits : (B, K)
    """
    logits = head(student_map)  # (B, K, H, W)
    batch, classes, height, width = logits.shape
    patches = logits.float().permute(0, 2, 3, 1).reshape(batch, height * width, classes) / temperature  # (B, P, K)
    soft_teacher = (teacher_logits.float() / temperature).softmax(1)[:, None].expand_as(patches)
    if mode == "kd":
        log_teacher = soft_teacher.clamp_min(1e-12).log()
        per_patch = (soft_teacher * (log_teacher - patches.log_softmax(2))).sum(2) * temperature**2  # (B, P)
    elif mode == "bce":
        per_patch = F.binary_cross_entropy_with_logits(patches, soft_teacher, reduction="none").mean(2)
    else:
        raise ValueError(f"patch mode must be kd or bce, got {mode!r}")
    if pool == "mean":
        return per_patch.mean(1).mean()
    if pool == "max":
        return per_patch.amax(1).mean()
    raise ValueError(f"patch pool must be mean or max, got {pool!r}")


# ---------------------------------------------------------------- the loss spec


# name -> (what it reads, how many layer pairs: 0 none, 1 exactly one, None one or more)
LOSSES = {"kd": ("logits", 0), "dkd": ("logits", 0), "fitnet": ("features", 1), "mmd": ("features", None),
          "at": ("features", None), "patch": ("student map", 1)}


@dataclass(frozen=True)
class Term:
    """One weighted loss of a spec; `layers` are (student layer, teacher layer) pairs, None for
    the model's default layer (`DEFAULT_LAYERS`)."""

    name: str
    weight: float = 1.0
    layers: tuple[tuple[str | None, str | None], ...] = ()

    def __str__(self) -> str:
        text = f"{self.name}:{self.weight:g}"
        pairs = [f"{s or ''}" + (f"={t}" if t and t != s else "") for s, t in self.layers if s or t]
        return text + ("@" + "+".join(pairs) if pairs else "")


def parse_loss_spec(text: str) -> list[Term]:
    """`kd:1.0,at:0.5@groups.1+groups.2,mmd:0.1@groups.2=groups.2` as Terms.

    A term is NAME[:WEIGHT][@LAYER[+LAYER...]] with LAYER = STUDENT[=TEACHER] (the teacher's
    layer defaults to the student's name when given, else each model's default layer). Unknown
    losses, bad or negative weights, layers on a logit loss and repeated losses are one-line
    ValueErrors naming the term.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"--loss is empty; write e.g. kd:1.0 or kd:1.0,at:0.5 (losses: {', '.join(LOSSES)})")
    terms, seen = [], set()
    for part in text.split(","):
        part = part.strip()
        head, at, layers = part.partition("@")
        name, colon, weight_text = head.partition(":")
        name = name.strip().lower()
        if name not in LOSSES:
            raise ValueError(f"--loss {text!r}: unknown loss {name!r}; known: {', '.join(LOSSES)}")
        if name in seen:
            raise ValueError(f"--loss {text!r}: {name} is given twice")
        seen.add(name)
        try:
            weight = float(weight_text) if colon else 1.0
        except ValueError:
            raise ValueError(f"--loss {text!r}: the weight of {name} must be a number, got {weight_text!r}") from None
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(f"--loss {text!r}: the weight of {name} must be >= 0, got {weight_text}")
        pairs = []
        if at:
            for pair in layers.split("+"):
                student, eq, teacher = (s.strip() for s in pair.partition("="))
                if not student or (eq and not teacher) or not re.fullmatch(r"[\w.]+", student + teacher):
                    raise ValueError(f"--loss {text!r}: bad layer {pair!r} in {name}; write STUDENT or "
                                     "STUDENT=TEACHER, e.g. groups.2=groups.1")
                pairs.append((student, teacher or student))
        reads, count = LOSSES[name]
        if count == 0 and pairs:
            raise ValueError(f"--loss {text!r}: {name} reads the logits and takes no layers")
        if count == 1 and len(pairs) > 1:
            raise ValueError(f"--loss {text!r}: {name} takes one layer pair, got {len(pairs)}")
        if name == "patch" and any(s != t for s, t in pairs):
            raise ValueError(f"--loss {text!r}: patch reads a student layer only (patch@LAYER)")
        terms.append(Term(name, weight, tuple(pairs) if pairs else (((None, None),) if count != 0 else ())))
    return terms


def format_loss_spec(terms: list[Term]) -> str:
    """The canonical spec of `terms` (weights as %g, default layers left out)."""
    return ",".join(str(term) for term in terms)


@dataclass(frozen=True)
class DistillOptions:
    """How the terms are combined and their settings; every value checked once.

    temperature : T of kd, dkd and patch (> 0)
    alpha : loss = (1 - alpha) * label loss + alpha * sum of weighted terms; in [0, 1]
    dkd_alpha, dkd_beta : the weights of DKD's target and non-target parts (the paper's 1 and 8)
    mmd_kernel : rbf (sigma `mmd_sigma` on unit-length samples) or poly (degree 2, coef 0)
    patch_mode, patch_pool : kd or bce; mean or max over the patches
    warmup_fraction : the share of the training steps over which the terms' weight rises
        linearly from 0 to alpha (DKD's paper warms up over 20 of 240 epochs: 0.083); 0 = off
    """

    temperature: float = 4.0
    alpha: float = 0.5
    dkd_alpha: float = 1.0
    dkd_beta: float = 8.0
    mmd_kernel: str = "rbf"
    mmd_sigma: float = 1.0
    patch_mode: str = "kd"
    patch_pool: str = "mean"
    warmup_fraction: float = 0.0

    def __post_init__(self):
        def number(name, ok, rule):
            value = getattr(self, name)
            number_ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            if not number_ok or not ok(value):
                raise ValueError(f"distillation option {name}={value!r} is not valid: it must be {rule}")
        number("temperature", lambda v: v > 0, "a number > 0")
        number("alpha", lambda v: 0 <= v <= 1, "in [0, 1]")
        number("dkd_alpha", lambda v: v >= 0, ">= 0")
        number("dkd_beta", lambda v: v >= 0, ">= 0")
        number("mmd_sigma", lambda v: v > 0, "> 0")
        number("warmup_fraction", lambda v: 0 <= v <= 1, "in [0, 1]")
        for name, choices in (("mmd_kernel", ("rbf", "poly")), ("patch_mode", ("kd", "bce")),
                              ("patch_pool", ("mean", "max"))):
            if getattr(self, name) not in choices:
                raise ValueError(f"distillation option {name}={getattr(self, name)!r} is not valid: it must be "
                                 f"{' or '.join(choices)}")

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------- the objective


def default_layer(model: nn.Module, role: str) -> str:
    """The layer a feature loss uses on `model` when the spec names none."""
    name = DEFAULT_LAYERS.get(type(model).__name__)
    if name is None:
        raise ValueError(f"{role} ({type(model).__name__}) has no default feature layer: name one, e.g. at@LAYER")
    return name


@dataclass
class _Pair:
    student: str
    teacher: str
    module: nn.Module | None = None  # fitnet's adapter or patch's head


@dataclass
class _Resolved:
    term: Term
    pairs: list[_Pair] = field(default_factory=list)


class Distillation:
    """The objective of `train.fit(objective=...)`: `terms` taught by `teacher`.

    `setup` (called by `fit` once the student is prepared) resolves the layers, checks them
    and their shapes on a sample (a ValueError naming the layer), moves the teacher to the
    student's device in eval mode without gradients, and makes the adapters and patch heads,
    which are trained with the student. Then every step: the teacher's logits and features of
    the same batch, and the loss of the module docstring. `close()` removes the teacher's hooks.
    """

    def __init__(self, teacher: nn.Module, terms: list[Term], options: DistillOptions | None = None, *,
                 teacher_channels: list[int] | None = None, student_channels: list[int] | None = None):
        if not terms:
            raise ValueError("distillation needs at least one loss term")
        self.teacher, self.terms, self.options = teacher, list(terms), options or DistillOptions()
        # the channels of the data (Batch.inputs, setup's sample) each model reads; None: all of them
        self.teacher_channels = None if teacher_channels is None else list(teacher_channels)
        self.student_channels = None if student_channels is None else list(student_channels)
        self.feature_layers: tuple[str, ...] = ()
        self.trainable = nn.ModuleList()
        self._resolved: list[_Resolved] = []
        self._teacher_hooks: FeatureHooks | None = None

    def setup(self, model: nn.Module, sample: torch.Tensor, device: torch.device | str = "cpu",
              memory_format=torch.contiguous_format) -> list[nn.Parameter]:
        """Resolve and check layers on `sample` (S, C, H, W: every channel of the data, of which
        each model reads its own); returns the trainable parameters."""
        self.close()
        student_sample, teacher_sample = _channels(sample, self.student_channels), _channels(sample,
                                                                                            self.teacher_channels)
        resolved = []
        for term in self.terms:
            pairs = [_Pair(s or default_layer(model, "the student"), t or default_layer(self.teacher, "the teacher"))
                     for s, t in term.layers]
            resolved.append(_Resolved(term, pairs))
        student_layers = [p.student for r in resolved for p in r.pairs]
        teacher_layers = [p.teacher for r in resolved for p in r.pairs if r.term.name != "patch"]
        FeatureHooks.check(model, student_layers, "the student")
        FeatureHooks.check(self.teacher, teacher_layers, "the teacher")
        self.teacher.to(device)
        self.teacher.eval()
        student_hooks = FeatureHooks(model, student_layers, "the student")
        teacher_hooks = FeatureHooks(self.teacher, teacher_layers, "the teacher")
        was_training = model.training
        try:
            with torch.no_grad():
                model.eval()
                student_logits = model(student_sample)
                teacher_logits = self.teacher(teacher_sample)  # (materialises the lazy layers of an untrained teacher)
            student_shapes = {k: tuple(v.shape) for k, v in student_hooks.outputs.items()}
            teacher_shapes = {k: tuple(v.shape) for k, v in teacher_hooks.outputs.items()}
        finally:
            model.train(was_training)
            student_hooks.remove()
            teacher_hooks.remove()
        if teacher_logits.shape[1] != student_logits.shape[1]:
            raise ValueError(f"the teacher predicts {teacher_logits.shape[1]} classes, the student "
                             f"{student_logits.shape[1]}")
        self.teacher.to(memory_format=memory_format)
        self.teacher.requires_grad_(False)
        self.trainable = nn.ModuleList()
        for r in resolved:
            for pair in r.pairs:
                pair.module = self._make_module(r.term.name, pair, student_shapes[pair.student],
                                                teacher_shapes.get(pair.teacher), student_logits.shape[1])
                if pair.module is not None:
                    self.trainable.append(pair.module)
        self.trainable.to(device)
        self._resolved = resolved
        self.feature_layers = tuple(dict.fromkeys(student_layers))
        self._teacher_hooks = FeatureHooks(self.teacher, teacher_layers, "the teacher")
        return list(self.trainable.parameters())

    def _make_module(self, name: str, pair: _Pair, student: tuple, teacher: tuple | None, classes: int):
        where = f"{name}@{pair.student}" + (f"={pair.teacher}" if name != "patch" else "")
        if name in ("at", "patch") and len(student) != 4:
            raise ValueError(f"{where}: {name} needs a feature map (B, C, H, W); the student's {pair.student!r} "
                             f"gives {student}")
        if name == "at" and len(teacher) != 4:
            raise ValueError(f"{where}: at needs a feature map (B, C, H, W); the teacher's {pair.teacher!r} "
                             f"gives {teacher}")
        if name in ("fitnet", "mmd") and len(student) != len(teacher):
            raise ValueError(f"{where}: the student's {pair.student!r} gives {student} and the teacher's "
                             f"{pair.teacher!r} {teacher}: both must be feature maps or both vectors")
        if name == "mmd" and len(student) == 2 and student[1] != teacher[1]:
            raise ValueError(f"{where}: mmd of feature vectors needs equal widths, got {student[1]} and {teacher[1]}")
        if name == "fitnet" and student[1] != teacher[1]:
            return (nn.Conv2d(student[1], teacher[1], 1, bias=False) if len(student) == 4
                    else nn.Linear(student[1], teacher[1], bias=False))
        if name == "patch":
            return nn.Conv2d(student[1], classes, 1)
        return None

    def __call__(self, batch: Batch) -> torch.Tensor:
        with torch.no_grad():
            inputs = batch.images if batch.inputs is None else batch.inputs  # every channel, before modality dropout
            teacher_logits = self.teacher(_channels(inputs, self.teacher_channels)).float()
        teacher_features = self._teacher_hooks.outputs
        options = self.options
        total = batch.label_loss.new_zeros(())
        for r in self._resolved:
            name = r.term.name
            if name == "kd":
                loss = kd_loss(batch.logits, teacher_logits, options.temperature)
            elif name == "dkd":
                loss = dkd_loss(batch.logits, teacher_logits, batch.labels, options.temperature, options.dkd_alpha,
                                options.dkd_beta)
            else:
                loss = 0.0
                for pair in r.pairs:
                    student = batch.features[pair.student]
                    if name == "patch":
                        loss = loss + patch_kd(student, teacher_logits, pair.module, options.temperature,
                                               options.patch_mode, options.patch_pool)
                        continue
                    teacher = teacher_features[pair.teacher].detach()
                    if name == "fitnet":
                        loss = loss + feature_mse(student, teacher, pair.module)
                    elif name == "mmd":
                        loss = loss + feature_mmd(student, teacher, options.mmd_kernel, options.mmd_sigma)
                    else:
                        loss = loss + attention_transfer(student, teacher)
            total = total + r.term.weight * loss
        teacher_features.clear()
        return (1 - options.alpha) * batch.label_loss + options.alpha * self.warmup(batch) * total

    def warmup(self, batch: Batch) -> float:
        """The terms' share at this step: rising linearly to 1 over `warmup_fraction` of the steps."""
        steps = self.options.warmup_fraction * batch.total_steps
        return 1.0 if steps <= 0 else min(1.0, (batch.step + 1) / steps)

    def close(self) -> None:
        """Remove the hooks on the teacher (the objective can be set up again)."""
        if self._teacher_hooks is not None:
            self._teacher_hooks.remove()
            self._teacher_hooks = None


def _channels(images: torch.Tensor, channels: list[int] | None) -> torch.Tensor:
    """The channels of a batch (B, C, H, W) a model reads; the batch itself for None (all)."""
    if channels is None:
        return images
    index = torch.tensor(channels, device=images.device)
    memory_format = torch.channels_last if images.is_contiguous(memory_format=torch.channels_last) and \
        not images.is_contiguous() else torch.contiguous_format
    return images.index_select(1, index).contiguous(memory_format=memory_format)


def check_teacher(teacher: nn.Module, num_classes: int, in_channels: int, what: str = "the teacher") -> None:
    """A ValueError unless `teacher` predicts `num_classes` classes from `in_channels` channels."""
    head = getattr(teacher, "head", None)
    classes = getattr(head, "out_features", None)
    if classes is not None and classes != num_classes:
        raise ValueError(f"{what} predicts {classes} classes, the data has {num_classes}")
    mean = getattr(teacher, "input_mean", None)
    if mean is not None and mean.shape[1] != in_channels:
        raise ValueError(f"{what} takes {mean.shape[1]}-channel images, the data has {in_channels} channels")
