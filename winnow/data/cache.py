"""On-disk cache of decoded image folders, so that a folder or zip is decoded only once.

An entry is a few raw .npy files and a JSON file, named `<identity>-<version>`:

- identity: a hash of the source's absolute path and the decoding settings (image size, skip flag,
  cache format), so each way of loading a source has its own entry;
- version: a hash of the source's fingerprint (size and modification time of the zip, or of every
  image in a directory), so an edited source misses the cache and its older entry is removed.

Every file is written to a temporary name and moved into place with os.replace, the JSON file
last, so a reader never sees a half-written entry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

logger = logging.getLogger(__name__)

CACHE_ENV_VAR = "WINNOW_CACHE"
# Part of every entry's identity, so entries of an older format are never read. 2: folder entries hold
# split_ids (train / val / test) in place of format 1's is_test, which could not hold a validation split.
CACHE_FORMAT = 2


def resolve_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """cache_dir if given, else $WINNOW_CACHE, else ~/.cache/winnow."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get(CACHE_ENV_VAR):
        return Path(os.environ[CACHE_ENV_VAR]).expanduser()
    return Path.home() / ".cache" / "winnow"


def entry_name(source: Path, settings: dict, fingerprint: str) -> str:
    """`<identity>-<version>` for this source, decoding settings and source fingerprint."""
    identity = {"source": str(source.resolve()), "format": CACHE_FORMAT, **settings}
    return f"{_digest(json.dumps(identity, sort_keys=True))}-{_digest(fingerprint)}"


def load_entry(cache_dir: Path, name: str) -> tuple[dict[str, np.ndarray], dict] | None:
    """The arrays and metadata saved under name, or None when there is no usable entry."""
    meta_path = cache_dir / f"{name}.json"
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        arrays = {key: np.load(cache_dir / f"{name}.{key}.npy") for key in meta["arrays"]}
    except (OSError, ValueError, KeyError) as error:
        logger.warning("ignoring the unreadable cache entry %s: %s", meta_path, error)
        return None
    logger.info("loaded %s from the cache", meta_path.with_suffix(""))
    return arrays, meta


def save_entry(cache_dir: Path, name: str, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Save arrays (.npy) and meta (JSON) under name, then remove older versions of the same entry.

    A cache that cannot be written is logged, not raised: the data is already loaded.
    """
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        for key, array in arrays.items():
            _write_atomically(cache_dir / f"{name}.{key}.npy", lambda file, array=array: np.save(file, array))
        meta_text = json.dumps({**meta, "arrays": list(arrays)})
        _write_atomically(cache_dir / f"{name}.json", lambda file: file.write(meta_text.encode()))
    except OSError as error:
        logger.warning("could not write the cache in %s (%s); the data will be decoded again", cache_dir, error)
        return
    _remove_older_versions(cache_dir, name)


def _write_atomically(path: Path, write: Callable) -> None:
    """Call write(file) on a temporary file beside path, then move it onto path."""
    file = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    temporary = Path(file.name)
    try:
        with file:
            write(file)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _remove_older_versions(cache_dir: Path, name: str) -> None:
    identity = name.split("-")[0]
    for path in cache_dir.glob(f"{identity}-*"):
        if not path.name.startswith(f"{name}."):
            path.unlink(missing_ok=True)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:20]
