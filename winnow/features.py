"""Classical image features and the classifiers that go with them: the baselines a CNN has to beat,
and features for choosing samples before any network is trained.

Feature extractors, registered by name (`create_features(name, **options)`, `list_features()`):

* `tiny`: each image shrunk to size x size (16 by default; area averaging, every channel), then
  zero mean and unit norm: a 256-number thumbnail.
* `bovw`: bag of visual words. SIFT descriptors (OpenCV) on a dense grid, or at SIFT keypoints;
  a k-means vocabulary (scikit-learn's MiniBatchKMeans) fitted on a sample of the training
  images' descriptors; per image, the share of its descriptors nearest each word, optionally
  over a spatial pyramid (Lazebnik et al. 2006: the histograms of 1, 2x2, 4x4 cells, weighted
  1/4, 1/4, 1/2 for two levels), so a histogram sums to 1. Needs OpenCV
  (`pip install opencv-python-headless`, or `pip install -e ".[classic]"`).
* `pretrained`: the penultimate features of a frozen pretrained network (`weights`: a state dict
  file or a named source of `winnow.weights`, default torchvision:resnet18, downloaded once),
  images resized to `input_size` (224) and normalised as the model expects (the ImageNet
  ResNets: ImageNet's mean and std), in batches without gradients: 512 numbers per image for
  ResNet-18, 2048 for ResNet-50.

An extractor is fitted on training images (`fit`; the vocabulary for `bovw`, nothing for
`tiny` and `pretrained`; `fit_seconds` is what that took) and maps images to one row each (`transform`;
`fit_transform` does both, describing the images once). Images are (N, C, H, W) uint8, as in
`winnow.data.Dataset.images`; colour images are turned grey for SIFT.

Classifiers, registered by name (`create_classifier(name, **options)`, `list_classifiers()`):
`knn` (k nearest neighbours; Euclidean, Hellinger or chi-squared distance) and `svm` (a linear
SVM, one against the rest, on the features as they are, after the Hellinger map, or after
scikit-learn's additive chi-squared feature map). `kernel="auto"` is Hellinger for histograms
(`bovw`) and linear otherwise. `fit(features, labels)`, then `scores(features)` -> (N, K), whose
argmax is the predicted class.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

log = logging.getLogger("winnow.features")

KERNELS = ("auto", "linear", "hellinger", "chi2")
CLASSIC_EXTRA = 'pip install opencv-python-headless (or pip install -e ".[classic]")'


# ---------------------------------------------------------------- registries


FEATURES: dict[str, type] = {}
CLASSIFIERS: dict[str, type] = {}


def _register(table: dict, kind: str, name: str):
    def decorate(cls):
        if name in table:
            raise ValueError(f"{kind} {name!r} is registered twice")
        table[name] = cls
        cls.name, cls.kind = name, kind
        return cls
    return decorate


def register_features(name: str):
    """Decorator: register a feature extractor dataclass (`fit(images, seed)`, `transform(images)`)."""
    return _register(FEATURES, "features", name)


def register_classifier(name: str):
    """Decorator: register a classifier dataclass (`fit(features, labels, histogram)`, `scores(features)`)."""
    return _register(CLASSIFIERS, "classifier", name)


def list_features() -> list[str]:
    return list(FEATURES)


def list_classifiers() -> list[str]:
    return list(CLASSIFIERS)


def create_features(name: str, **options):
    """A new extractor `name` with `options` (its dataclass fields); unknown names are errors."""
    return _create(FEATURES, "features", name, options)


def create_classifier(name: str, **options):
    """A new classifier `name` with `options` (its dataclass fields); unknown names are errors."""
    return _create(CLASSIFIERS, "classifier", name, options)


def _create(table: dict, kind: str, name: str, options: dict):
    if name not in table:
        raise ValueError(f"unknown {kind} {name!r}; known: {', '.join(table)}")
    cls = table[name]
    fields = option_names(cls)
    unknown = sorted(set(options) - set(fields))
    if unknown:
        raise ValueError(f"{kind} {name!r} has no option {unknown[0]!r}; its options: {', '.join(fields)}")
    return cls(**options)


def option_names(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def parse_option(cls, key: str, text: str):
    """The command-line text of option `key` of extractor or classifier `cls`, typed like its default."""
    field = next((f for f in dataclasses.fields(cls) if f.name == key), None)
    if field is None:
        raise ValueError(f"{cls.kind} {cls.name!r} has no option {key!r}; its options: {', '.join(option_names(cls))}")
    default = field.default
    try:
        if isinstance(default, bool):
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return text.lower() in ("true", "1")
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
    except ValueError:
        raise ValueError(f"{cls.kind} {cls.name!r} option {key}: {text!r} is not a valid {type(default).__name__}") \
            from None
    return text


def _check_int(name: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")


def _as_numpy(images) -> np.ndarray:
    """(N, C, H, W) uint8 as a NumPy array (a tensor is not copied)."""
    array = images.numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if array.ndim != 4 or array.dtype != np.uint8:
        raise ValueError(f"images must be uint8 of shape (N, C, H, W), got {array.dtype} {array.shape}")
    return array


# ---------------------------------------------------------------- tiny images


@register_features("tiny")
@dataclass
class TinyImages:
    """Each image averaged down to `size` x `size` pixels (every channel), zero mean, unit norm.

    histogram : False: the rows are not histograms (kernel "auto" is linear for them)
    """

    size: int = 16

    histogram = False
    fit_seconds = 0.0  # nothing to learn

    def __post_init__(self):
        _check_int("tiny size", self.size, 1)

    def fit(self, images, seed: int = 0) -> "TinyImages":
        return self  # nothing to learn

    def fit_transform(self, images, seed: int = 0) -> np.ndarray:
        return self.transform(images)

    def check(self, shape: tuple[int, ...]) -> None:
        """Nothing about (N, C, H, W) training images can make tiny images fail."""

    def transform(self, images) -> np.ndarray:
        """(N, C, H, W) uint8 -> (N, C * size * size) float32, each row zero mean and unit norm."""
        pixels = torch.as_tensor(_as_numpy(images)).float()
        small = torch.nn.functional.interpolate(pixels, size=(self.size, self.size), mode="area")  # (N, C, s, s)
        rows = small.flatten(1)
        rows = rows - rows.mean(1, keepdim=True)
        rows = rows / rows.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return rows.numpy().astype(np.float32)


# ---------------------------------------------------------------- bag of visual words


def _cv2():
    try:
        import cv2
    except ImportError:
        raise ValueError(f"features 'bovw' need OpenCV, which is not installed: {CLASSIC_EXTRA}") from None
    return cv2


@register_features("bovw")
@dataclass
class BagOfWords:
    """Bag of SIFT words with an optional spatial pyramid.

    vocabulary : number of visual words (k-means centres)
    detector : "dense" (a grid every `step` px, descriptors of `patch` px, upright) or "sift"
        (OpenCV's SIFT keypoints, at most `max_keypoints` per image)
    step, patch : the dense grid's spacing, and the side of each descriptor's 4 x 4 cells, in pixels
    root_sift : map each descriptor to the square root of its L1-normalised self (RootSIFT,
        Arandjelovic and Zisserman 2012): Euclidean k-means then compares them by Hellinger
    pyramid : spatial pyramid levels beyond the whole image (0: one histogram; 2: 1 + 4 + 16 cells)
    sample : descriptors drawn (seeded) from the training images to fit the vocabulary
    workers : threads computing SIFT (OpenCV releases the GIL); 0 = min(4, CPU count)
    """

    vocabulary: int = 400
    detector: str = "dense"
    step: int = 8
    patch: int = 16
    root_sift: bool = True
    pyramid: int = 2
    max_keypoints: int = 500
    sample: int = 200_000
    workers: int = 0

    histogram = True

    def __post_init__(self):
        _check_int("vocabulary", self.vocabulary, 2)
        for name in ("step", "patch", "max_keypoints", "sample"):
            _check_int(name, getattr(self, name), 1)
        _check_int("pyramid", self.pyramid, 0)
        _check_int("workers", self.workers, 0)
        if self.detector not in ("dense", "sift"):
            raise ValueError(f"detector must be 'dense' or 'sift', got {self.detector!r}")
        self.centres: np.ndarray | None = None  # (V, 128) float32, once fitted
        self.fit_seconds = 0.0  # the k-means of the last fit

    # -- descriptors

    def descriptors(self, images) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per image, (descriptors (M, 128) float32, positions (M, 2) as (x, y) fractions of the
        width and height, in [0, 1)); M may be 0 (a blank image has no SIFT keypoints)."""
        cv2 = _cv2()
        array = _as_numpy(images)
        workers = self.workers or min(4, os.cpu_count() or 1)
        grid = self._grid(cv2, array.shape[2], array.shape[3]) if self.detector == "dense" else None

        def one(image: np.ndarray):
            grey = image[0] if image.shape[0] == 1 else np.ascontiguousarray(image[:3].mean(0).round().astype(np.uint8))
            if grid is not None:
                keypoints, found = grid, cv2.SIFT_create().compute(grey, grid)[1]
            else:
                keypoints, found = cv2.SIFT_create(nfeatures=self.max_keypoints).detectAndCompute(grey, None)
            if found is None or len(keypoints) == 0:
                return np.zeros((0, 128), np.float32), np.zeros((0, 2), np.float32)
            positions = np.array([kp.pt for kp in keypoints], np.float32) / np.array(
                [grey.shape[1], grey.shape[0]], np.float32)
            return self._normalised(found.astype(np.float32)), np.clip(positions, 0, np.nextafter(1, 0))

        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(one, array))

    def _grid(self, cv2, height: int, width: int) -> list:
        half = self.patch / 2
        ys = np.arange(half, max(height - half, half) + 1e-6, self.step)
        xs = np.arange(half, max(width - half, half) + 1e-6, self.step)
        size = self.patch / 6  # OpenCV's descriptor spans 4 cells of 1.5 x size pixels each
        return [cv2.KeyPoint(float(x), float(y), size, 0.0) for y in ys for x in xs]

    def _normalised(self, found: np.ndarray) -> np.ndarray:
        if not self.root_sift:
            return found
        return np.sqrt(found / np.maximum(found.sum(1, keepdims=True), 1e-12))  # (M, 128), unit L2 norm

    # -- vocabulary and histograms

    def fit(self, images, seed: int = 0) -> "BagOfWords":
        """Fit the vocabulary on a seeded sample of the descriptors of `images` (no labels)."""
        return self.fit_descriptors(self.descriptors(images), seed)

    def fit_transform(self, images, seed: int = 0) -> np.ndarray:
        """`fit` then `transform` on the same images, describing them once."""
        described = self.descriptors(images)
        return self.fit_descriptors(described, seed).histograms(described)

    def check(self, shape: tuple[int, ...]) -> None:
        """Before any work: a dense grid over N training images of (N, C, H, W) must give at least
        `vocabulary` descriptors (at keypoints, the count is known only after detecting them)."""
        if self.detector == "dense":
            count = shape[0] * len(self._grid(_cv2(), shape[2], shape[3]))
            self._check_count(count, shape[0])

    def _check_count(self, count: int, images: int) -> None:
        if count < self.vocabulary:
            raise ValueError(f"a vocabulary of {self.vocabulary} words needs at least as many descriptors; the "
                             f"{images} training images gave {count}: use a smaller vocabulary, a smaller step or "
                             "larger images")

    def fit_descriptors(self, described: list[tuple[np.ndarray, np.ndarray]], seed: int = 0) -> "BagOfWords":
        from sklearn.cluster import MiniBatchKMeans

        stacked = np.concatenate([d for d, _ in described]) if described else np.zeros((0, 128), np.float32)
        self._check_count(len(stacked), len(described))
        generator = np.random.default_rng(seed)
        if len(stacked) > self.sample:
            stacked = stacked[np.sort(generator.choice(len(stacked), self.sample, replace=False))]
        started = time.perf_counter()
        kmeans = MiniBatchKMeans(n_clusters=self.vocabulary, random_state=seed, batch_size=4096, n_init=3,
                                 max_iter=100).fit(stacked)
        self.centres = kmeans.cluster_centers_.astype(np.float32)
        self.fit_seconds = time.perf_counter() - started
        log.info("vocabulary of %d words from %d descriptors in %.1f s", self.vocabulary, len(stacked),
                 self.fit_seconds)
        return self

    def transform(self, images, chunk: int = 256) -> np.ndarray:
        """(N, C, H, W) uint8 -> (N, V * cells) float32 histograms, each summing to 1 (0 for an
        image without descriptors); cells = 1 + 4 + ... + 4^pyramid. Described `chunk` images at
        a time, so the descriptors of a large set are never all in memory."""
        array = _as_numpy(images)
        parts = [self.histograms(self.descriptors(array[start:start + chunk])) for start in range(0, len(array), chunk)]
        return np.concatenate(parts) if parts else self.histograms([])

    def histograms(self, described: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        if self.centres is None:
            raise ValueError("the bovw vocabulary is not fitted: call fit on training images first")
        centres = torch.from_numpy(self.centres)
        squared = (centres ** 2).sum(1)  # (V,)
        rows = []
        for found, positions in described:
            rows.append(self._histogram(self._words(torch.from_numpy(found), centres, squared), positions))
        return np.stack(rows) if rows else np.zeros((0, self.vocabulary * self.cells), np.float32)

    @property
    def cells(self) -> int:
        return sum(4 ** level for level in range(self.pyramid + 1))

    @staticmethod
    def _words(found: torch.Tensor, centres: torch.Tensor, squared: torch.Tensor) -> np.ndarray:
        """(M,) index of the nearest centre of each descriptor."""
        if len(found) == 0:
            return np.zeros(0, np.int64)
        distances = squared[None, :] - 2 * found @ centres.T  # (M, V), up to |x|^2 which is the same per row
        return distances.argmin(1).numpy()

    def _histogram(self, words: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """The pyramid of word counts, each level weighted as in Lazebnik et al., divided by M."""
        vocabulary, top = self.vocabulary, self.pyramid
        parts = []
        for level in range(top + 1):
            side = 2 ** level
            weight = 1.0 / 2 ** top if level == 0 else 1.0 / 2 ** (top - level + 1)
            cell = (positions[:, 1] * side).astype(np.int64) * side + (positions[:, 0] * side).astype(np.int64)
            counts = np.bincount(cell * vocabulary + words, minlength=side * side * vocabulary)
            parts.append(weight * counts)
        histogram = np.concatenate(parts).astype(np.float32)
        return histogram / max(len(words), 1)


# ---------------------------------------------------------------- a frozen pretrained network


@register_features("pretrained")
@dataclass
class PretrainedFeatures:
    """The penultimate features (`Classifier.forward_features`) of a frozen pretrained network.

    weights : a state dict file (.pt/.pth, .safetensors) or a name of `winnow.weights.NAMED_WEIGHTS`
        (downloaded once, checksum checked)
    model : the registered architecture the weights are for; "auto": the named weights' model,
        for a file resnet50_imagenet when it holds bottleneck blocks, else resnet18_imagenet
    input_size : every image resized to this many pixels square (bilinear with antialiasing, as
        the trainer resizes), 0 = as they are; the ImageNet weights were trained at 224
    batch_size : images per forward pass
    device : auto (CUDA, else MPS, else the CPU), cpu, cuda, cuda:N or mps; features come back on the CPU
    histogram : False: the rows are not histograms (kernel "auto" is linear for them)
    """

    weights: str = "torchvision:resnet18"
    model: str = "auto"
    input_size: int = 224
    batch_size: int = 64
    device: str = "auto"

    histogram = False
    fit_seconds = 0.0  # nothing to learn

    def __post_init__(self):
        from .models import list_models
        from .weights import NAMED_WEIGHTS, weights_file

        if not isinstance(self.weights, str) or not self.weights:
            raise ValueError(f"pretrained weights must be a file or one of {', '.join(NAMED_WEIGHTS)}, "
                             f"got {self.weights!r}")
        if self.weights not in NAMED_WEIGHTS:
            weights_file(self.weights)  # a missing file or an unknown name fails here; a named source downloads later
        if self.model != "auto" and self.model not in list_models():
            raise ValueError(f"pretrained model {self.model!r} is not a model; use auto or one of "
                             f"{', '.join(list_models())}")
        _check_int("input_size", self.input_size, 0)
        _check_int("batch_size", self.batch_size, 1)
        from .train import resolve_device

        resolve_device(self.device)  # a device this machine lacks fails before any work
        self.network: torch.nn.Module | None = None  # built and loaded on first use, for the images' channels

    def fit(self, images, seed: int = 0) -> "PretrainedFeatures":
        return self  # nothing to learn

    def fit_transform(self, images, seed: int = 0) -> np.ndarray:
        return self.transform(images)

    def check(self, shape: tuple[int, ...]) -> None:
        """Before any work: the weights are read and must fit the model for (N, C, H, W) images."""
        self._network(shape[1])

    def _network(self, channels: int) -> torch.nn.Module:
        """The frozen model in eval mode on its device, built for `channels` input channels once."""
        if self.network is not None and self._channels == channels:
            return self.network
        from .models import create_model
        from .train import resolve_device
        from .weights import load_weights, read_weights, weights_model

        state = read_weights(self.weights)
        name = self.model if self.model != "auto" else weights_model(self.weights) or (
            "resnet50_imagenet" if "layer1.0.conv3.weight" in state else "resnet18_imagenet")
        network = create_model(name, num_classes=2, in_channels=channels)  # the head is never used
        try:
            load_weights(network, state, self.weights, quiet=True)
        except ValueError as error:
            raise ValueError(f"{error} (features pretrained: name their architecture with the option model)") \
                from None
        network.requires_grad_(False)
        self.network, self._channels = network.eval().to(resolve_device(self.device)), channels
        log.info("pretrained features: %s with weights %s", name, self.weights)
        return self.network

    @torch.no_grad()
    def transform(self, images) -> np.ndarray:
        """(N, C, H, W) uint8 -> (N, D) float32 penultimate features, D the model's (512 for ResNet-18)."""
        from .train import _resized

        array = _as_numpy(images)
        network = self._network(array.shape[1])
        device = next(network.parameters()).device
        rows = []
        for start in range(0, len(array), self.batch_size):
            x = torch.from_numpy(array[start:start + self.batch_size]).to(device).float().div_(255)  # (B, C, H, W)
            x = _resized(x, self.input_size or None)  # (B, C, S, S)
            rows.append(network.forward_features(x).float().cpu())  # (B, D)
        if not rows:
            width = getattr(network, "num_features", None) or network.forward_features(
                torch.zeros(1, array.shape[1], *array.shape[2:], device=device)).shape[1]
            return np.zeros((0, width), np.float32)
        return torch.cat(rows).numpy().astype(np.float32, copy=False)


# ---------------------------------------------------------------- classifiers


def _resolve_kernel(kernel: str, histogram: bool) -> str:
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {', '.join(KERNELS)}, got {kernel!r}")
    return ("hellinger" if histogram else "linear") if kernel == "auto" else kernel


def _check_histograms(features: np.ndarray, kernel: str) -> None:
    if kernel in ("hellinger", "chi2") and (features < 0).any():
        raise ValueError(f"the {kernel} kernel needs non-negative features (histograms, e.g. bovw); these have "
                         "negative values: use kernel linear")


def hellinger(features: np.ndarray) -> np.ndarray:
    """The Hellinger map: the square root of each L1-normalised row; a dot product of two mapped
    rows is the Bhattacharyya coefficient of the histograms."""
    features = np.asarray(features, np.float32)
    return np.sqrt(features / np.maximum(features.sum(1, keepdims=True), 1e-12))


@register_classifier("knn")
@dataclass
class NearestNeighbours:
    """k nearest training rows vote, one vote each; a tie goes to the class of the nearest voter.

    kernel : the distance: linear = Euclidean; hellinger = Euclidean after the Hellinger map;
        chi2 = sum (x - y)^2 / (x + y) over the L1-normalised rows; auto = hellinger for histograms
    """

    k: int = 1
    kernel: str = "auto"
    chunk: int = 256

    def __post_init__(self):
        _check_int("k", self.k, 1)
        _check_int("chunk", self.chunk, 1)
        _resolve_kernel(self.kernel, False)

    def fit(self, features: np.ndarray, labels: np.ndarray, histogram: bool = False,
            seed: int = 0) -> "NearestNeighbours":
        """features : (N, D);  labels : (N,) int in [0, K);  histogram : the extractor's (for
        kernel auto);  seed : unused (kNN draws nothing)."""
        self.used_kernel = _resolve_kernel(self.kernel, histogram)
        features = np.asarray(features, np.float32)
        _check_histograms(features, self.used_kernel)
        self.check(labels)
        self.train = torch.from_numpy(self._mapped(features))
        self.labels = np.asarray(labels, np.int64)
        self.num_classes = int(self.labels.max()) + 1
        return self

    def check(self, labels: np.ndarray) -> None:
        """Before any work: k must not exceed the number of training samples."""
        if self.k > len(labels):
            raise ValueError(f"k={self.k} is more than the {len(labels)} training samples")

    def _mapped(self, features: np.ndarray) -> np.ndarray:
        if self.used_kernel == "hellinger":
            return hellinger(features)
        if self.used_kernel == "chi2":
            return features / np.maximum(features.sum(1, keepdims=True), 1e-12)
        return features

    def _distances(self, rows: torch.Tensor) -> torch.Tensor:
        """(n, N) distances from `rows` to every training row."""
        if self.used_kernel != "chi2":
            return torch.cdist(rows, self.train)
        total = torch.zeros(len(rows), len(self.train))
        for start in range(0, self.train.shape[1], 512):  # (n, N, 512) at a time
            a, b = rows[:, None, start:start + 512], self.train[None, :, start:start + 512]
            total += ((a - b) ** 2 / (a + b).clamp_min(1e-12)).sum(2)
        return total

    def scores(self, features: np.ndarray, num_classes: int | None = None) -> np.ndarray:
        """(N, K) votes per class (ties broken towards the nearest voter's class by a bonus < 1)."""
        num_classes = num_classes or self.num_classes
        features = torch.from_numpy(self._mapped(np.asarray(features, np.float32)))
        out = np.zeros((len(features), num_classes), np.float32)
        chunk = self.chunk if self.used_kernel != "chi2" else max(1, self.chunk // 16)
        for start in range(0, len(features), chunk):
            distances = self._distances(features[start:start + chunk])
            nearest = distances.topk(self.k, dim=1, largest=False).indices.numpy()  # (n, k), nearest first
            votes = self.labels[nearest]
            rows = np.arange(len(votes))[:, None]
            bonus = 0.5 * (self.k - np.arange(self.k)) / (self.k * (self.k + 1))  # sums to < 1
            np.add.at(out[start:start + len(votes)], (np.broadcast_to(rows, votes.shape), votes), 1.0 + bonus)
        return out


@register_classifier("svm")
@dataclass
class LinearSVM:
    """A linear SVM, one class against the rest (scikit-learn's LinearSVC, squared hinge loss).

    kernel : linear = the features as they are; hellinger = the Hellinger map first; chi2 =
        scikit-learn's AdditiveChi2Sampler (an explicit approximation of the additive chi-squared
        kernel) first; auto = hellinger for histograms
    C : inverse regularisation strength
    """

    C: float = 1.0
    kernel: str = "auto"
    max_iter: int = 5000

    def __post_init__(self):
        if isinstance(self.C, bool) or not isinstance(self.C, (int, float)) or not self.C > 0:
            raise ValueError(f"C must be a number > 0, got {self.C!r}")
        _check_int("max_iter", self.max_iter, 1)
        _resolve_kernel(self.kernel, False)

    def fit(self, features: np.ndarray, labels: np.ndarray, histogram: bool = False, seed: int = 0) -> "LinearSVM":
        from sklearn.svm import LinearSVC

        self.used_kernel = _resolve_kernel(self.kernel, histogram)
        features = np.asarray(features, np.float32)
        _check_histograms(features, self.used_kernel)
        labels = np.asarray(labels, np.int64)
        self.check(labels)
        self.num_classes = int(labels.max()) + 1
        self.model = LinearSVC(C=float(self.C), max_iter=self.max_iter, random_state=seed)
        self.model.fit(self._mapped(features), labels)
        return self

    def check(self, labels: np.ndarray) -> None:
        """Before any work: an SVM needs two classes among the training labels."""
        if len(np.unique(labels)) < 2:
            raise ValueError(f"a linear SVM needs at least two classes in the training labels, got "
                             f"{len(np.unique(labels))}")

    def _mapped(self, features: np.ndarray) -> np.ndarray:
        if self.used_kernel == "hellinger":
            return hellinger(features)
        if self.used_kernel == "chi2":
            from sklearn.kernel_approximation import AdditiveChi2Sampler

            normalised = features / np.maximum(features.sum(1, keepdims=True), 1e-12)
            return AdditiveChi2Sampler(sample_steps=2).fit_transform(normalised).astype(np.float32)
        return features

    def scores(self, features: np.ndarray, num_classes: int | None = None) -> np.ndarray:
        """(N, K) decision values (classes absent from training get -inf)."""
        num_classes = num_classes or self.num_classes
        decision = self.model.decision_function(self._mapped(np.asarray(features, np.float32)))
        if decision.ndim == 1:  # two classes: one decision value for the second
            decision = np.stack([-decision, decision], 1)
        out = np.full((len(features), num_classes), -np.inf, np.float32)
        out[:, self.model.classes_] = decision
        return out
