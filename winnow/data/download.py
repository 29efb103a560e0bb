"""Download CIFAR-10, CIFAR-100 and Imagenette, check their checksums and unpack them safely;
`download_file` fetches one checksummed file (pretrained weights, `winnow.weights`).

`download(name, root)` leaves the unpacked folder in root and returns its path; load it with the
spec `f"{DOWNLOADS[name].scheme}:{path}"`, e.g. `cifar10:~/data/cifar-10-batches-py`. A folder that
is already there is used as it is. The archive goes to a temporary file of ours in root, is
checked against its MD5, unpacked into a temporary folder beside it and moved into place, and
then deleted; nothing that was in root before is overwritten or removed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from winnow.data.dataset import DataError

logger = logging.getLogger(__name__)

_READ_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class DownloadSource:
    """Where a dataset comes from and what it unpacks to."""

    url: str
    md5: str
    folder: str  # the folder the archive unpacks to
    scheme: str  # the winnow.data.load scheme that reads that folder


DOWNLOADS = {
    "cifar10": DownloadSource(
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "c58f30108f718f92721af3b95e74349a",
        "cifar-10-batches-py",
        "cifar10",
    ),
    "cifar100": DownloadSource(
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        "eb9058c3a382ffc7106e4002c42a8d85",
        "cifar-100-python",
        "cifar100",
    ),
    "imagenette": DownloadSource(  # the 160 px version: train/ and val/ folders of 10 classes
        "https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-160.tgz",
        "e793b78cc4c9e9a4ccc0c1155377a412",
        "imagenette2-160",
        "folder",
    ),
}

# Imagenette's class folders are WordNet ids; the folder loader shows these names instead.
IMAGENETTE_CLASSES = {
    "n01440764": "tench",
    "n02102040": "English springer",
    "n02979186": "cassette player",
    "n03000684": "chain saw",
    "n03028079": "church",
    "n03394916": "French horn",
    "n03417042": "garbage truck",
    "n03425413": "gas pump",
    "n03445777": "golf ball",
    "n03888605": "parachute",
}


def download(name: str, root: str | Path, *, url: str | None = None, md5: str | None = None) -> Path:
    """Download and unpack one of DOWNLOADS into root, unless its folder is already there.

    url, md5 : a mirror's address (any scheme urllib opens, file:// included) and its checksum;
               by default those in DOWNLOADS[name]
    Returns the unpacked folder, e.g. root/cifar-10-batches-py.
    """
    if name not in DOWNLOADS:
        raise DataError(f"unknown download {name!r}: choose one of {', '.join(DOWNLOADS)}")
    source = DOWNLOADS[name]
    root = Path(root).expanduser()
    target = root / source.folder
    if target.exists():
        logger.info("%s is already there; not downloading %s again", target, name)
        return target
    root.mkdir(parents=True, exist_ok=True)
    url = url or source.url
    archive = _fetch(url, root, md5 or source.md5)
    try:
        with tempfile.TemporaryDirectory(dir=root, prefix=".winnow-unpack-") as unpack_dir:
            safe_extract(archive, Path(unpack_dir))
            unpacked = Path(unpack_dir) / source.folder
            if not unpacked.is_dir():
                raise DataError(f"{url} does not unpack to a {source.folder}/ folder")
            os.rename(unpacked, target)
    finally:
        archive.unlink(missing_ok=True)
    logger.info("unpacked %s to %s", name, target)
    return target


def safe_extract(archive: Path, target: Path) -> None:
    """Unpack a tar (any compression) or zip archive into the folder target.

    The whole archive is refused, before anything is written, if a member could land outside
    target: an absolute path or a '..' component in its name, a symbolic or hard link whose target
    is absolute or goes up with '..', or a device file. (zipfile never creates links, so for zips
    the names are what is checked.)
    """
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                _check_tar_member(member, archive)
            if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12, 3.11.4: the same checks, once more
                tar.extractall(target, filter="data")
            else:
                tar.extractall(target)
    elif zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zip_archive:
            for member_name in zip_archive.namelist():
                _check_member_path(member_name, archive)
            zip_archive.extractall(target)
    else:
        raise DataError(f"{archive} is neither a tar nor a zip archive")


def download_file(url: str, target: str | Path, digest: str, algorithm: str = "md5") -> Path:
    """Download `url` to the file `target`, unless it is already there, checking its checksum.

    digest : the hex digest of `algorithm` (any hashlib name), or its first 8 or more digits (as
        torchvision's file names carry the start of their SHA-256)
    The file is written under a temporary name beside `target` and moved into place only when the
    checksum matches; one that does not is removed. Errors are one-line `DataError`s naming the URL.
    """
    target = Path(target).expanduser()
    if target.is_file():
        logger.info("%s is already there; not downloading %s again", target, url)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fetched = _fetch(url, target.parent, digest, algorithm)
    os.replace(fetched, target)
    logger.info("downloaded %s to %s", url, target)
    return target


def _fetch(url: str, folder: Path, expected: str, algorithm: str = "md5") -> Path:
    """Stream url to a temporary file in folder and check its checksum (the whole hex digest of
    `algorithm`, or its first 8 digits or more); a file that fails is removed. No network, a
    refused connection or an HTTP error is a one-line DataError naming the URL."""
    logger.info("downloading %s", url)
    file = tempfile.NamedTemporaryFile(dir=folder, prefix=".winnow-download-", suffix=".part", delete=False)
    archive = Path(file.name)
    try:
        checksum = hashlib.new(algorithm)
        try:
            with file, urllib.request.urlopen(url) as response:
                while chunk := response.read(_READ_CHUNK_BYTES):
                    checksum.update(chunk)
                    file.write(chunk)
        except OSError as error:
            reason = f"HTTP {error.code} {error.reason}" if isinstance(error, urllib.error.HTTPError) else \
                getattr(error, "reason", None) or error
            raise DataError(f"could not download {url}: {reason}") from None
        actual = checksum.hexdigest()
        if len(expected) < 8 or not actual.startswith(expected.lower()):
            whole = "" if len(expected) == len(actual) else " (the start of the digest)"
            raise DataError(
                f"checksum mismatch for {url}: expected {algorithm} {expected}{whole}, got {actual}; "
                "the downloaded file was removed"
            )
    except BaseException:
        archive.unlink(missing_ok=True)
        raise
    return archive


def _check_tar_member(member: tarfile.TarInfo, archive: Path) -> None:
    _check_member_path(member.name, archive)
    if member.issym() or member.islnk():
        # Links may only point down: with no link going up or out, no chain of links can leave the folder.
        if _leaves_folder(member.linkname):
            raise DataError(
                f"{archive}: refusing the link {member.name} -> {member.linkname}, which points up or out of the folder"
            )
    elif not (member.isfile() or member.isdir()):
        raise DataError(f"{archive}: refusing {member.name}, which is neither a file, a folder nor a link")


def _check_member_path(member_name: str, archive: Path) -> None:
    if _leaves_folder(member_name):
        raise DataError(f"{archive}: refusing the member {member_name!r}, whose path leaves the unpacking folder")


def _leaves_folder(relative_path: str) -> bool:
    """Whether a path is absolute (/x, C:x, \\x) or has a '..' component."""
    parts = PurePosixPath(relative_path.replace("\\", "/")).parts
    return relative_path.startswith(("/", "\\")) or (bool(parts) and parts[0].endswith(":")) or ".." in parts
