"""The numba kernel cache runs only the source just generated and only from folders of
this user that nobody else can write."""

import os
import stat

import pytest

pytest.importorskip("numba")

from graphdl.compiler import kernel_cache
from graphdl.compiler.kernel_cache import KernelCacheWarning, load_kernels

SOURCE = "from numba import njit\n\n\n@njit(cache=True)\ndef add_one(x):\n    return x + {}\n"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHDL_CACHE_DIR", str(tmp_path / "base"))
    return tmp_path / "base" / "kernels"


def _mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_a_planted_kernel_file_is_never_run_and_is_replaced(cache, tmp_path):
    source = SOURCE.format(1)
    path = load_kernels(source).__file__
    marker = tmp_path / "ran"
    planted = f"open({str(marker)!r}, 'w').close()\n" + source.replace("x + 1", "x + 1000")
    with open(path, "w") as file:
        file.write(planted)
    module = load_kernels(source)
    assert not marker.exists()
    assert module.add_one(1) == 2  # a stale or planted copy gives no wrong numbers
    assert open(path).read() == source


def test_a_link_planted_as_the_kernel_file_is_replaced_not_followed(cache, tmp_path):
    source = SOURCE.format(2)
    path = load_kernels(source).__file__
    target = tmp_path / "victim.txt"
    target.write_text("keep me")
    os.unlink(path)
    os.symlink(target, path)
    assert load_kernels(source).add_one(1) == 3
    assert target.read_text() == "keep me"
    assert not os.path.islink(path) and open(path).read() == source


def test_cache_folders_are_private_whatever_the_umask(cache):
    old = os.umask(0)
    try:
        load_kernels(SOURCE.format(3)).add_one(0)
    finally:
        os.umask(old)
    for folder in (cache.parent, cache, cache / "__pycache__"):
        assert _mode(folder) == 0o700, folder
    assert any(name.endswith(".nbi") for name in os.listdir(cache / "__pycache__"))


def test_cache_folders_are_usable_under_a_umask_that_removes_write(cache):
    old = os.umask(0o277)
    try:
        assert load_kernels(SOURCE.format(4)).add_one(0) == 4
    finally:
        os.umask(old)
    assert _mode(cache) == 0o700


@pytest.mark.parametrize("which", ["base", "kernels", "__pycache__"])
def test_a_folder_others_can_write_is_refused_with_one_warning(cache, which):
    load_kernels(SOURCE.format(5))
    folder = {"base": cache.parent, "kernels": cache, "__pycache__": cache / "__pycache__"}[which]
    os.chmod(folder, 0o777)
    before = sorted(os.listdir(cache / "__pycache__")) if which != "__pycache__" else None
    with pytest.warns(KernelCacheWarning) as caught:
        module = load_kernels(SOURCE.format(6))
    assert len(caught) == 1
    assert str(folder) in str(caught[0].message) and "written by its group or others" in str(caught[0].message)
    assert module.add_one(0) == 6  # compiled without the disk cache
    assert not os.path.exists(module.__file__)  # nothing written or read from disk
    if before is not None:
        assert sorted(os.listdir(cache / "__pycache__")) == before


def test_a_folder_of_another_user_is_refused(cache, monkeypatch):
    load_kernels(SOURCE.format(7))
    monkeypatch.setattr(os, "geteuid", lambda: os.lstat(cache).st_uid + 1)
    with pytest.warns(KernelCacheWarning, match="belongs to another user"):
        module = load_kernels(SOURCE.format(7))
    assert module.add_one(0) == 7


def test_the_cache_keeps_only_the_most_recently_used_kernels(cache, monkeypatch):
    monkeypatch.setattr(kernel_cache, "MAX_KERNELS", 3)
    paths = []
    for number in range(5):
        module = load_kernels(SOURCE.format(10 + number))
        module.add_one(0)  # writes numba's files too
        paths.append(module.__file__)
        os.utime(paths[-1], (number, number))  # distinct ages, oldest first
    load_kernels(SOURCE.format(10))  # used again (rewritten: it was removed), so it is the newest
    kept = sorted(name for name in os.listdir(cache) if name.endswith(".py"))
    assert len(kept) == 3
    assert os.path.basename(paths[0]) in kept and os.path.basename(paths[4]) in kept
    stems = {name[:-3] for name in kept}
    assert {name.split(".", 1)[0] for name in os.listdir(cache / "__pycache__")} <= stems


@pytest.mark.slow  # compiles the tutorial net's kernels (about 2 s)
def test_a_planted_file_under_a_graphs_kernel_name_does_not_run_in_compile(cache, tmp_path):
    import graphdl
    from graphdl.tutorial_net import build_seed_net

    net = build_seed_net()
    net.initialise("fig8")
    feed = {net.x: 1.5, net.label: 2.25}
    first = graphdl.compile(net.loss, inputs=[net.x, net.label], backend="numba")
    expected = first.backward(feed)
    path = first.kernels.path
    marker = tmp_path / "ran"
    planted = f"open({str(marker)!r}, 'w').close()\n" + first.kernels.source.replace("seed = 1.0", "seed = 3.0")
    path.write_text(planted)
    again = graphdl.compile(net.loss, inputs=[net.x, net.label], backend="numba")
    assert again.backward(feed) == expected
    assert not marker.exists()
    assert path.read_text() == first.kernels.source
