"""Duplicate images on arrays: identical pixels, near duplicates, and the leaks and label
conflicts they make. No model and no training (`winnow clean --duplicates` is the command).

    found = find_duplicates(images)        # (N, C, H, W) uint8, as the dataset holds them
    found.content                          # (N,) equal ids = identical pixels
    found.group                            # (N,) duplicate group of each image, -1 for none
    found.pairs, found.distances, found.cosines   # the near pairs (P, 2) and why they matched
    groups = found.groups()                # [members (k,) int64, ...], each image in at most one
    leaks(groups, split_of)                # {"test_in_train": ..., ...}

Identical: a 128-bit BLAKE2b digest of each image's decoded uint8 pixels (all channels, as
loaded: after `--image-size`), so two files of one picture that differ only in their bytes on
disk (metadata, another encoder) count as identical, and the same picture at another size does
not (it is near, below).

Near: two tests, both needed, between images whose pixels differ.
1. The perceptual hash (pHash; Zauner 2010, built as the `imagehash` package's phash, with an
   orthonormal DCT): the luma (ITU-R 601) resized to 32 x 32 (antialiased bilinear), its 2-D
   DCT-II, the 8 x 8 lowest frequencies, one bit each for "above their median": 64 bits,
   exactly 32 of them set (ties aside), so Hamming distances are even. A brightness or contrast
   change, mild JPEG noise, a resize or a 1-pixel shift moves a few bits; unrelated images
   differ in about 32.
   Pairs at most `hash_distance` (HASH_DISTANCE = 10) bits apart are candidates.
2. The cosine of the two images' 16 x 16 luma thumbnails, each centred (mean 0) and scaled to
   unit length: insensitive to brightness and contrast, and little moved by a 1-pixel shift at
   CIFAR's 32 px. A candidate is a near pair when it is at least `min_cosine` (MIN_COSINE =
   0.90). A flat image (no contrast at all) has no direction and is never near anything.
Images smaller than the thumbnail (under 16 px a side, like the 8 x 8 digits) are searched for
identical pixels only: enlarged, any two similar strokes pass both tests (on the digits, groups
of hundreds of different 3s and 9s), so `near_searched` is False there. Glyph-like images just
above it (28 px handwriting) may need a stricter `min_cosine`: look at the pairs.

Why these numbers (BENCHMARKS.md, "Duplicates and leaks"): on CIFAR-10, hash pairs within 4
bits were near duplicates when looked at; from 6 bits on, aeroplanes and birds alone in an empty
sky and ships on open water (different photographs of one composition) share a hash, and at 8
to 10 bits they are most candidates, with thumbnail cosines of 0.4 to 0.8. Near duplicates found
at 8 and 10 bits (a re-cropped or re-coloured photograph, a dog cut out onto another background)
have cosines of 0.90 and above. Of 40 pairs drawn from those kept at 8 bits all were copies; at
10 bits, 36 of 40 (the others: a plane on a runway and a ship at sea, two cars of one pose). On
15-Scene, going from 10 to 16 bits adds 42 pairs, nearly all different highways or streets seen
from the same place. So the hash is kept loose, up to 10 bits, and the cosine decides; the
groups table shows each group's largest distance and smallest cosine, to judge the borderline.

The search never compares all pairs: each 64-bit hash is cut into 4 bands of 16 bits, and two
hashes at most d bits apart agree within d // 4 bits in at least one band (pigeonhole), so each
image looks up, per band, the images whose band is within d // 4 bits of its own (multi-index
hashing; Norouzi, Punjani and Fleet 2012) and only those candidates are compared. It finds
exactly the pairs a comparison of all pairs would. d is at most MAX_HASH_DISTANCE = 16: beyond
it the hashes of unrelated images match and the lookups grow fast.

Groups are the connected components of "identical or near" (one image of each content takes
part in the near search, its copies join its group), so a group may chain: a ~ b and b ~ c
puts c with a even when a and c are further apart; the pairs that matched are kept.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import scipy.fft
import scipy.sparse
import torch
import torch.nn.functional as F
from scipy.sparse.csgraph import connected_components

HASH_DISTANCE = 10  # default: candidates are at most this many of the 64 pHash bits apart
MIN_COSINE = 0.90  # default: and near when their centred 16 x 16 thumbnails have at least this cosine
MAX_HASH_DISTANCE = 16
HASH_SIDE, LOW_FREQUENCIES, THUMB_SIDE = 32, 8, 16
BANDS, BAND_BITS = 4, 16
SPLIT_ORDER = ("train", "val", "test")  # a leak is a held-out image with a copy in an earlier split
LEAKS = (("train", "test"), ("train", "val"), ("val", "test"))
_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601-2, as Pillow's convert("L")
_PIXELS_PER_CHUNK = 1 << 24  # images are converted to float this many values at a time
_PAIRS_PER_CHUNK = 1 << 22  # candidate pairs expanded at a time


@dataclass(frozen=True)
class Duplicates:
    """What `find_duplicates` found in N images.

    content : (N,) int64, equal for images with identical pixels (ids 0..U-1 in order of first
        appearance)
    group : (N,) int64, the duplicate group of each image, -1 for an image in none; groups are
        numbered 0.. in order of their first image
    pairs : (P, 2) int64, the near pairs (i < j, sorted), between the first images of two
        different contents
    distances : (P,) int64, their pHash Hamming distances;  cosines : (P,) float32, their
        thumbnail cosines
    hash_distance, min_cosine : the thresholds used
    near_searched : False for images under 16 px a side: identical pixels only (module docstring)
    """

    content: np.ndarray
    group: np.ndarray
    pairs: np.ndarray
    distances: np.ndarray
    cosines: np.ndarray
    hash_distance: int
    min_cosine: float
    near_searched: bool = True

    def groups(self) -> list[np.ndarray]:
        """Every group's members, sorted dataset indices, in group order."""
        members = np.flatnonzero(self.group >= 0)
        order = members[np.argsort(self.group[members], kind="stable")]
        return np.split(order, np.flatnonzero(np.diff(self.group[order])) + 1) if len(order) else []

    def identical_sets(self) -> list[np.ndarray]:
        """Every set of two or more images with identical pixels (inside a near group or not)."""
        order = np.argsort(self.content, kind="stable")
        sets = np.split(order, np.flatnonzero(np.diff(self.content[order])) + 1)
        return [members for members in sets if len(members) > 1]

    def is_near(self, members: np.ndarray) -> bool:
        """Whether a group holds images with different pixels (else its members are identical)."""
        return len(np.unique(self.content[members])) > 1

    def pairs_within(self, members: np.ndarray) -> np.ndarray:
        """Positions in `pairs` of the near pairs inside a group."""
        return np.flatnonzero(np.isin(self.pairs[:, 0], members))


def check_thresholds(hash_distance, min_cosine) -> None:
    """ValueError naming the option unless both thresholds are usable."""
    if isinstance(hash_distance, bool) or not isinstance(hash_distance, (int, np.integer)) \
            or not 0 <= hash_distance <= MAX_HASH_DISTANCE:
        raise ValueError(f"--hash-distance must be an int from 0 to {MAX_HASH_DISTANCE} (bits of the 64-bit "
                         f"perceptual hash), got {hash_distance!r}")
    if isinstance(min_cosine, bool) or not isinstance(min_cosine, (int, float)) or not 0 <= min_cosine <= 1:
        raise ValueError(f"--min-cosine must be a number from 0 to 1, got {min_cosine!r}")


def find_duplicates(images, *, hash_distance: int = HASH_DISTANCE, min_cosine: float = MIN_COSINE) -> Duplicates:
    """Identical and near-duplicate images (module docstring).

    images : (N, C, H, W) uint8, a tensor or an array
    hash_distance : candidates are at most this many pHash bits apart, 0..MAX_HASH_DISTANCE
    min_cosine : a candidate is near when its thumbnails' cosine is at least this, in [0, 1]
    """
    check_thresholds(hash_distance, min_cosine)
    images = torch.as_tensor(images)
    if images.dtype != torch.uint8 or images.dim() != 4:
        raise ValueError(f"images must be (N, C, H, W) uint8, got {images.dtype} of shape {tuple(images.shape)}")
    content = pixel_contents(images)
    first = np.unique(content, return_index=True)[1]  # (U,) the first image of each content
    near_searched = min(images.shape[2:]) >= THUMB_SIDE
    pairs, distances = np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.int64)
    cosines = np.zeros(0, dtype=np.float32)
    if near_searched:
        hashes, thumbnails = perceptual_hashes(images[torch.as_tensor(first)])
        pairs, distances = hamming_pairs(hashes, hash_distance)
        cosines = pair_cosines(thumbnails, pairs)
        near = cosines >= min_cosine
        pairs, distances, cosines = first[pairs[near]].reshape(-1, 2), distances[near], cosines[near]
    group = _components(len(content), pairs, content)
    return Duplicates(content, group, pairs, distances, cosines, int(hash_distance), float(min_cosine), near_searched)


def pixel_contents(images) -> np.ndarray:
    """(N,) int64 content ids: equal for identical pixels (BLAKE2b-128 digests), numbered in order
    of first appearance."""
    pixels = torch.as_tensor(images).numpy()
    digests = [hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=16).digest() for image in pixels]
    ids: dict[bytes, int] = {}
    return np.array([ids.setdefault(digest, len(ids)) for digest in digests], dtype=np.int64)


def perceptual_hashes(images) -> tuple[np.ndarray, np.ndarray]:
    """(hashes (N,) uint64, thumbnails (N, 256) float32) of (N, C, H, W) uint8 images: the 64-bit
    pHash (the first low frequency in the highest bit) and the centred unit-length 16 x 16 luma
    thumbnails (a zero row for a flat image)."""
    images = torch.as_tensor(images)
    count = len(images)
    hashes = np.zeros(count, dtype=np.uint64)
    thumbnails = np.zeros((count, THUMB_SIDE * THUMB_SIDE), dtype=np.float32)
    chunk = max(1, _PIXELS_PER_CHUNK // max(1, images[0].numel() if count else 1))
    for start in range(0, count, chunk):
        luma = _luma(images[start:start + chunk].float())  # (B, 1, H, W)
        small = F.interpolate(luma, size=(HASH_SIDE, HASH_SIDE), mode="bilinear", antialias=True,
                              align_corners=False)  # (B, 1, 32, 32)
        frequencies = scipy.fft.dctn(small[:, 0].double().numpy(), type=2, axes=(1, 2), norm="ortho")
        low = frequencies[:, :LOW_FREQUENCIES, :LOW_FREQUENCIES].reshape(len(small), -1)  # (B, 64)
        bits = low > np.median(low, axis=1, keepdims=True)
        hashes[start:start + chunk] = np.packbits(bits, axis=1).view(">u8")[:, 0]
        thumb = F.avg_pool2d(small, HASH_SIDE // THUMB_SIDE).reshape(len(small), -1).double()  # (B, 256)
        thumb -= thumb.mean(dim=1, keepdim=True)
        norm = thumb.norm(dim=1, keepdim=True)
        thumbnails[start:start + chunk] = torch.where(norm > 1e-6, thumb / norm.clamp_min(1e-6), 0.0).numpy()
    return hashes, thumbnails


def _luma(images: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) float luma of (B, C, H, W) float images: ITU-R 601 of RGB (RGBA: alpha left
    out), the channel mean otherwise."""
    if images.shape[1] in (3, 4):
        weights = torch.tensor(_LUMA, dtype=images.dtype).view(1, 3, 1, 1)
        return (images[:, :3] * weights).sum(dim=1, keepdim=True)
    return images.mean(dim=1, keepdim=True)


def hamming_pairs(hashes: np.ndarray, max_distance: int) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of 64-bit hashes at most `max_distance` bits apart, by multi-index hashing
    (module docstring): ((P, 2) int64 positions i < j, sorted; (P,) int64 distances). The same
    pairs as comparing all N (N - 1) / 2, without doing it."""
    hashes = np.asarray(hashes, dtype=np.uint64)
    count = len(hashes)
    if not 0 <= max_distance <= 64:
        raise ValueError(f"max_distance must be in 0..64, got {max_distance}")
    masks = _flip_masks(BAND_BITS, max_distance // BANDS)  # (M,) every band value change within the radius
    found = []
    for band in range(BANDS):
        keys = ((hashes >> np.uint64(BAND_BITS * (BANDS - 1 - band))) & np.uint64((1 << BAND_BITS) - 1))
        keys = keys.astype(np.int64)  # (N,)
        order = np.argsort(keys, kind="stable")  # positions grouped by key
        starts = np.concatenate([[0], np.cumsum(np.bincount(keys, minlength=1 << BAND_BITS))])
        for mask in masks:
            wanted = keys ^ mask
            for left, right in _expand(starts[wanted], starts[wanted + 1] - starts[wanted], order):
                keep = left < right  # a pair is found from both ends: keep one
                left, right = left[keep], right[keep]
                distance = np.bitwise_count(hashes[left] ^ hashes[right]).astype(np.int64)
                keep = distance <= max_distance
                found.append(left[keep] * count + right[keep])
    codes = np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)
    pairs = np.stack([codes // max(count, 1), codes % max(count, 1)], axis=1).astype(np.int64)
    return pairs, np.bitwise_count(hashes[pairs[:, 0]] ^ hashes[pairs[:, 1]]).astype(np.int64)


def _flip_masks(bits: int, radius: int) -> np.ndarray:
    """(M,) int64: every value of `bits` bits with at most `radius` bits set (0 first)."""
    masks = [0]
    for flipped in range(1, min(radius, bits) + 1):
        masks += [sum(1 << b for b in chosen) for chosen in combinations(range(bits), flipped)]
    return np.array(masks, dtype=np.int64)


def _expand(first: np.ndarray, counts: np.ndarray, order: np.ndarray):
    """(left, right) position pairs, image i against order[first[i]:first[i] + counts[i]], in
    chunks of about _PAIRS_PER_CHUNK pairs."""
    ends = np.cumsum(counts)
    start = 0
    while start < len(counts):
        stop = max(int(np.searchsorted(ends, (ends[start - 1] if start else 0) + _PAIRS_PER_CHUNK, "right")),
                   start + 1)
        part = counts[start:stop]
        total = int(part.sum())
        if total:
            left = np.repeat(np.arange(start, stop), part)
            offsets = np.arange(total) - np.repeat(np.cumsum(part) - part, part)
            yield left, order[np.repeat(first[start:stop], part) + offsets]
        start = stop


def pair_cosines(thumbnails: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """(P,) float32: the dot product of the two rows of each pair (the cosine of unit rows)."""
    cosines = np.zeros(len(pairs), dtype=np.float32)
    for start in range(0, len(pairs), 1 << 16):
        part = pairs[start:start + (1 << 16)]
        cosines[start:start + len(part)] = np.einsum("ij,ij->i", thumbnails[part[:, 0]], thumbnails[part[:, 1]])
    return cosines


def _components(count: int, pairs: np.ndarray, content: np.ndarray) -> np.ndarray:
    """(N,) group of each image (-1: none): connected components of identical contents and near
    pairs, with two or more images, numbered in order of their first image."""
    first_of_content = np.unique(content, return_index=True)[1]
    copies = np.flatnonzero(first_of_content[content] != np.arange(count))  # images that repeat an earlier one
    edges = np.concatenate([pairs.reshape(-1, 2), np.stack([first_of_content[content[copies]], copies], axis=1)])
    graph = scipy.sparse.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(count, count))
    _, component = connected_components(graph, directed=False)
    in_group = np.bincount(component)[component] > 1
    components, first_seen = np.unique(component[in_group], return_index=True)
    rank = np.empty(len(components), dtype=np.int64)
    rank[np.argsort(first_seen)] = np.arange(len(components))  # numbered by their first image
    group = np.full(count, -1, dtype=np.int64)
    group[in_group] = rank[np.searchsorted(components, component[in_group])]
    return group


# ---------------------------------------------------------------- splits and classes


def split_names(splits: dict[str, np.ndarray], count: int) -> np.ndarray:
    """(N,) the split of each image ("train" unless a split holds it), from `Dataset.splits`."""
    names = np.full(count, "train", dtype=object)
    for name, indices in splits.items():
        names[indices] = name
    return names


def leak_kinds(members: np.ndarray, split_of: np.ndarray) -> list[str]:
    """The leaks in one group: "train/test", "train/val", "val/test" for each pair of splits it spans."""
    present = set(split_of[members])
    return [f"{a}/{b}" for a, b in LEAKS if a in present and b in present]


def is_cross_class(members: np.ndarray, labels: np.ndarray) -> bool:
    """Whether a group's labelled members (label >= 0) hold two classes or more."""
    known = labels[members]
    return len(np.unique(known[known >= 0])) > 1


def leaks(groups: list[np.ndarray], split_of: np.ndarray) -> dict[str, int]:
    """Images of a held-out split with a copy (a member of their group) in an earlier split:
    {"test_in_train", "val_in_train", "test_in_val"} -> how many images of the later split."""
    counts = {f"{later}_in_{earlier}": 0 for earlier, later in LEAKS}
    for members in groups:
        splits = split_of[members]
        for earlier, later in LEAKS:
            if (splits == earlier).any():
                counts[f"{later}_in_{earlier}"] += int((splits == later).sum())
    return counts
