"""The registry's archive unpacks on every Python 3.11 (tarfile's filters arrived in 3.11.4; Debian 12
ships 3.11.2), and an entry that would land outside the folder is refused either way."""

from __future__ import annotations

import io
import tarfile

import pytest

from lablib.errors import LabError
from lablib.services import registry


def _archive(*members: tarfile.TarInfo) -> tarfile.TarFile:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for member in members:
            tar.addfile(member, io.BytesIO(b"x" * member.size))
    raw.seek(0)
    return tarfile.open(fileobj=raw)


def _file(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = 1
    return info


def _symlink(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info


@pytest.fixture(params=["with filters", "Python 3.11.2"])
def python(request, monkeypatch):
    if request.param == "Python 3.11.2":
        monkeypatch.delattr(tarfile, "data_filter")
    return request.param


def test_a_plain_archive_unpacks(python, tmp_path):
    registry._extract(_archive(_file("app/quarkus-run.jar"), _symlink("app/lib", "quarkus-run.jar")), tmp_path)
    assert (tmp_path / "app" / "quarkus-run.jar").read_bytes() == b"x"


@pytest.mark.parametrize("member", [_file("../escape.txt"), _symlink("app/out", "../../outside")],
                         ids=["dotdot", "symlink"])
def test_an_entry_outside_the_folder_is_refused(python, tmp_path, member):
    with pytest.raises((LabError, tarfile.FilterError) if hasattr(tarfile, "FilterError") else LabError) as err:
        registry._extract(_archive(member), tmp_path / "into")
    if python == "Python 3.11.2":
        assert "the schema registry's archive holds an unsafe entry" in str(err.value)
    else:  # tarfile's own filter refused it (not some other error on the way)
        assert isinstance(err.value, tarfile.FilterError)
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "into" / "app" / "out").exists()


def test_an_absolute_entry_never_lands_outside(python, tmp_path):
    outside = tmp_path / "absolute.txt"
    try:
        registry._extract(_archive(_file(str(outside))), tmp_path / "into")
    except LabError as err:  # the hand check refuses it; tarfile's filter strips the "/" instead
        assert python == "Python 3.11.2" and "unsafe entry" in str(err)
    assert not outside.exists()
