"""Tests of winnow.data.download with archives built here and fetched from file:// URLs."""

from __future__ import annotations

import hashlib
import io
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from winnow.data import DataError, download, load
from winnow.data.download import DOWNLOADS, safe_extract


def write_tiny_cifar10(folder: Path) -> None:
    """cifar-10-batches-py with one image per batch; the image of batch b is filled with b."""
    folder.mkdir(parents=True)
    batches = {f"data_batch_{number}": number for number in range(1, 6)} | {"test_batch": 6}
    for name, value in batches.items():
        content = {b"data": np.full((1, 3072), value, dtype=np.uint8), b"labels": [value % 2]}
        (folder / name).write_bytes(pickle.dumps(content, protocol=3))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"even", b"odd"]}, protocol=3))


def tar_gz(folder: Path, archive: Path) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return archive


def tar_with_member(archive: Path, member: tarfile.TarInfo, content: bytes = b"") -> Path:
    """A tar.gz holding a harmless file and the given member."""
    with tarfile.open(archive, "w:gz") as tar:
        tar.addfile(tarfile.TarInfo("cifar-10-batches-py/readme.txt"), io.BytesIO(b""))
        tar.addfile(member, io.BytesIO(content) if member.isfile() else None)
    return archive


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def file_member(name: str, content: bytes = b"evil") -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.size = len(content)
    return member


def link_member(name: str, target: str, link_type=tarfile.SYMTYPE) -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type = link_type
    member.linkname = target
    return member


def test_download_unpacks_and_loads_a_cifar10_archive(tmp_path):
    write_tiny_cifar10(tmp_path / "build" / "cifar-10-batches-py")
    archive = tar_gz(tmp_path / "build" / "cifar-10-batches-py", tmp_path / "cifar-10-python.tar.gz")
    root = tmp_path / "data"
    folder = download("cifar10", root, url=archive.as_uri(), md5=md5_of(archive))
    assert folder == root / "cifar-10-batches-py"
    assert sorted(path.name for path in root.iterdir()) == ["cifar-10-batches-py"], "temporary files are removed"
    dataset = load(f"{DOWNLOADS['cifar10'].scheme}:{folder}")
    assert dataset.images[:, 0, 0, 0].tolist() == [1, 2, 3, 4, 5, 6]
    assert dataset.class_names == ["even", "odd"] and dataset.labels.tolist() == [1, 0, 1, 0, 1, 0]
    assert dataset.splits["test"].tolist() == [5]


def test_checksum_mismatch_names_the_file_and_both_hashes_and_removes_the_download(tmp_path):
    write_tiny_cifar10(tmp_path / "build" / "cifar-10-batches-py")
    archive = tar_gz(tmp_path / "build" / "cifar-10-batches-py", tmp_path / "cifar-10-python.tar.gz")
    root = tmp_path / "data"
    expected = DOWNLOADS["cifar10"].md5
    with pytest.raises(DataError, match=rf"cifar-10-python\.tar\.gz: expected md5 {expected}, got {md5_of(archive)}"):
        download("cifar10", root, url=archive.as_uri())
    assert list(root.iterdir()) == []
    assert archive.is_file(), "the source archive is the user's and stays"


def test_existing_folder_is_used_and_not_overwritten(tmp_path):
    existing = tmp_path / "cifar-10-batches-py"
    existing.mkdir()
    (existing / "mine.txt").write_text("keep me")
    folder = download("cifar10", tmp_path, url=(tmp_path / "never-fetched.tar.gz").as_uri())
    assert folder == existing and (existing / "mine.txt").read_text() == "keep me"


def test_an_archive_that_cannot_be_fetched_is_a_one_line_error_naming_the_url(tmp_path):
    url = (tmp_path / "missing.tar.gz").as_uri()
    with pytest.raises(DataError, match=rf"^could not download {url}: .*No such file"):
        download("cifar10", tmp_path / "root", url=url)
    assert not list((tmp_path / "root").iterdir())  # no partial download left behind


def test_unknown_download_names_the_choices(tmp_path):
    with pytest.raises(DataError, match=r"unknown download 'mnist': choose one of cifar10, cifar100, imagenette"):
        download("mnist", tmp_path)


@pytest.mark.parametrize(
    ("member", "refused_name"),
    [
        (file_member("../evil.txt"), "../evil.txt"),
        (file_member("cifar-10-batches-py/../../evil.txt"), "cifar-10-batches-py/../../evil.txt"),
        (file_member("/tmp/winnow-absolute-evil.txt"), "/tmp/winnow-absolute-evil.txt"),
        (link_member("cifar-10-batches-py/escape", "../../outside"), "cifar-10-batches-py/escape"),
        (link_member("cifar-10-batches-py/etc", "/etc"), "cifar-10-batches-py/etc"),
        (link_member("cifar-10-batches-py/hard", "../outside", tarfile.LNKTYPE), "cifar-10-batches-py/hard"),
    ],
)
def test_download_refuses_members_that_leave_the_folder(tmp_path, member, refused_name):
    archive = tar_with_member(tmp_path / "evil.tar.gz", member, b"evil")
    root = tmp_path / "data"
    with pytest.raises(DataError, match=f"refusing .*{refused_name}"):
        download("cifar10", root, url=archive.as_uri(), md5=md5_of(archive))
    assert not (tmp_path / "evil.txt").exists() and not Path("/tmp/winnow-absolute-evil.txt").exists()
    assert list(root.iterdir()) == [], "nothing is unpacked from a refused archive"


def test_links_that_stay_inside_are_unpacked(tmp_path):
    archive = tar_with_member(tmp_path / "ok.tar.gz", link_member("cifar-10-batches-py/same", "readme.txt"))
    safe_extract(archive, tmp_path / "out")
    assert (tmp_path / "out" / "cifar-10-batches-py" / "same").is_symlink()


def test_zip_with_a_path_leaving_the_folder_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zip_archive:
        zip_archive.writestr("fine/ok.txt", "ok")
        zip_archive.writestr("../evil.txt", "evil")
    with pytest.raises(DataError, match=r"refusing the member '\.\./evil\.txt'"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "out" / "fine").exists()


def test_zip_archive_is_unpacked(tmp_path):
    archive = tmp_path / "ok.zip"
    with zipfile.ZipFile(archive, "w") as zip_archive:
        zip_archive.writestr("imagenette2-160/train/n01440764/a.txt", "ok")
    safe_extract(archive, tmp_path / "out")
    assert (tmp_path / "out" / "imagenette2-160" / "train" / "n01440764" / "a.txt").read_text() == "ok"
