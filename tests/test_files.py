"""Files replaced whole through a temporary file of their own (graphdl.core.files)."""

from __future__ import annotations

import os
import stat

import pytest

from graphdl.core.files import replacing, write_atomically
from graphdl.results import read_results, write_results


def test_two_writers_of_one_path_each_have_their_own_temporary_and_the_last_wins(tmp_path):
    path = tmp_path / "training.gif"
    with replacing(path, suffix=".gif") as first:
        with replacing(path, suffix=".gif") as second:
            assert first != second and first.parent == second.parent == tmp_path
            assert first.name.startswith(f".training.gif.{os.getpid()}-") and first.suffix == ".gif"
            second.write_bytes(b"second, whole")
            first.write_bytes(b"first, whole")
        assert path.read_bytes() == b"second, whole"
    assert path.read_bytes() == b"first, whole"  # the last one finished
    assert [p.name for p in tmp_path.iterdir()] == ["training.gif"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError), replacing(path) as temporary:
        temporary.write_text("half")
        raise RuntimeError("stop")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_links_planted_at_the_old_fixed_temporary_names_are_not_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    for name in (".training.partial.gif", "NAME.json.tmp", f".out.jsonl.{os.getpid()}.partial"):
        (tmp_path / name).symlink_to(victim)
    write_results(tmp_path / "NAME.json", {"loss": 0.5})
    write_atomically(tmp_path / "out.jsonl", "{}\n", durable=True)
    with replacing(tmp_path / "training.gif", suffix=".gif") as temporary:
        temporary.write_bytes(b"GIF89a")
    assert victim.read_text() == "keep me"
    assert read_results(tmp_path / "NAME.json") == {"loss": 0.5}
    for name in ("NAME.json", "out.jsonl", "training.gif"):
        assert not (tmp_path / name).is_symlink()


def test_the_file_gets_the_umask_mode_or_the_one_asked(tmp_path):
    old = os.umask(0o027)
    try:
        write_atomically(tmp_path / "a", b"x")
        write_atomically(tmp_path / "b", b"x", mode=0o600)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "b").stat().st_mode) == 0o600


def test_a_device_is_never_replaced(tmp_path):
    with pytest.raises(OSError, match="is a device, not a file"):
        write_atomically("/dev/null", b"x")


def test_a_deeply_nested_results_file_is_a_one_line_error(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match="deep.json: not a readable results file .JSON nested too deeply"):
        read_results(path)
