"""Downloads against a real HTTP server on 127.0.0.1: mirrors, cache hits, broken
connections and checksum failures, and what each leaves (or does not leave) on disk."""

from __future__ import annotations

import numpy as np
import pytest
from data_helpers import gz_bytes, make_arrays, pin

from reglab.data import DataError, fetch, read_idx
from reglab.data.paths import cache_dir
from reglab.data.sources import STANDARD_NAMES

IMAGES = STANDARD_NAMES["train-images"]


@pytest.fixture
def arrays():
    return make_arrays()


def _leftovers(directory):
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_download_then_cache_hit(server, register, arrays):
    url = server.serve("m", gz_bytes(arrays))
    register(pin(arrays, mirrors=(url,)))
    got = fetch("mnist", progress=False)
    assert [p.name for p in got] == list(STANDARD_NAMES.values())
    assert all(p.parent == cache_dir("mnist") for p in got)
    np.testing.assert_array_equal(read_idx(got[0]), arrays["train-images"])
    assert server.total() == 4

    assert fetch("mnist", progress=False) == got
    assert server.total() == 4, "a valid cached file must not be downloaded again"
    assert _leftovers(cache_dir("mnist")) == sorted(STANDARD_NAMES.values())


def test_first_mirror_404_then_second(server, register, arrays):
    missing = server.url("gone")  # nothing is served under /gone/
    good = server.serve("m", gz_bytes(arrays))
    register(pin(arrays, mirrors=(missing, good)))
    fetch("mnist", progress=False)
    assert server.requests[f"/gone/{IMAGES}"] == 1
    assert server.requests[f"/m/{IMAGES}"] == 1


def test_connection_dropped_mid_file_leaves_nothing(server, register, arrays, fault_log):
    fault_log("download: connection closed a third of the way through a file", 1,
              "a data error with the fix; nothing half-written left in the cache")
    files = gz_bytes(arrays)
    url = server.serve("m", files)
    server.routes[f"/m/{IMAGES}"] = ("cut", files[IMAGES], len(files[IMAGES]) // 3)
    register(pin(arrays, mirrors=(url,)))
    with pytest.raises(DataError) as e:
        fetch("mnist", progress=False)
    assert f"could not get mnist file {IMAGES}" in str(e.value)
    sent, size = len(files[IMAGES]) // 3, len(files[IMAGES])
    assert f"connection closed after {sent} of {size} bytes" in str(e.value)
    assert "Fix:" in str(e.value)
    assert _leftovers(cache_dir("mnist")) == [], "no final file and no temporary file"


def test_checksum_mismatch_from_every_mirror(server, register, arrays, fault_log):
    fault_log("download: every mirror serves a valid file with the wrong checksum", 1,
              "a data error naming expected and actual sha256; nothing cached")
    other = make_arrays(seed=1)  # same shapes, other pixels: a valid IDX, the wrong one
    url_a = server.serve("a", gz_bytes(other))
    url_b = server.serve("b", gz_bytes(other))
    source = register(pin(arrays, mirrors=(url_a, url_b)))
    with pytest.raises(DataError) as e:
        fetch("mnist", progress=False)
    message = str(e.value)
    expected = source.file("train-images").payload_sha256
    actual = pin(other).file("train-images").payload_sha256
    assert (
        f"{IMAGES}: checksum mismatch: decompressed payload sha256 is {actual}, "
        f"expected {expected}"
    ) in message
    assert server.requests[f"/a/{IMAGES}"] == server.requests[f"/b/{IMAGES}"] == 1
    assert f"{url_a[7:-3]}, {url_b[7:-3]}: {IMAGES}: checksum mismatch" in message
    assert _leftovers(cache_dir("mnist")) == []


def test_corrupt_cached_file_is_fetched_again(server, register, arrays, fault_log):
    fault_log("cache: a cached file overwritten with garbage", 1, "detected by its checksum and fetched again")
    url = server.serve("m", gz_bytes(arrays))
    register(pin(arrays, mirrors=(url,)))
    fetch("mnist", progress=False)
    cached = cache_dir("mnist") / IMAGES
    cached.write_bytes(b"\x1f\x8b garbage")
    fetch("mnist", progress=False)
    assert server.requests[f"/m/{IMAGES}"] == 2
    assert server.total() == 5, "only the damaged file was fetched again"
    np.testing.assert_array_equal(read_idx(cached), arrays["train-images"])


def test_recompressed_copy_is_accepted(server, register, arrays):
    """Payload hashes are what is pinned, so a differently compressed .gz passes."""
    import gzip

    from reglab.data.idx import encode_idx

    files = {
        STANDARD_NAMES[r]: gzip.compress(encode_idx(a), compresslevel=1, mtime=12345)
        for r, a in arrays.items()
    }
    register(pin(arrays, mirrors=(server.serve("m", files),)))
    got = fetch("mnist", progress=False)
    # What was fetched is the recompressed copy (its bytes, in the cache), and its payload is the arrays.
    assert sorted(p.name for p in got) == sorted(files) and all(p.parent == cache_dir("mnist") for p in got)
    for path in got:
        assert path.read_bytes() == files[path.name]
    by_name = {STANDARD_NAMES[r]: a for r, a in arrays.items()}
    for path in got:
        np.testing.assert_array_equal(read_idx(path), by_name[path.name])


def test_redirects_are_followed_but_never_to_plain_http(server, register, arrays):
    files = gz_bytes(arrays)
    url = server.serve("real", files)
    for name in files:
        server.routes[f"/moved/{name}"] = ("redirect", url + name)
    server.routes[f"/evil/{IMAGES}"] = ("redirect", f"http://example.com/{IMAGES}")
    register(pin(arrays, mirrors=(server.url("evil"),)))
    with pytest.raises(DataError, match=f"refusing http://example.com/{IMAGES}: only https"):
        fetch("mnist", progress=False)
    register(pin(arrays, mirrors=(server.url("evil"), server.url("moved"))))
    fetch("mnist", progress=False)
    assert server.requests[f"/evil/{IMAGES}"] == 2
    assert server.requests[f"/real/{IMAGES}"] == 1


def test_unreachable_mirror_is_not_retried_for_every_file(closed_port_url, register, arrays):
    register(pin(arrays, mirrors=(closed_port_url,)))
    with pytest.raises(DataError, match="connection refused") as e:
        fetch("mnist", progress=False)
    assert "reglab data fetch mnist" in str(e.value)


def test_plain_http_is_refused_except_to_this_machine(register, arrays):
    register(pin(arrays, mirrors=("http://example.com/mnist/",)))
    with pytest.raises(DataError, match="only https URLs"):
        fetch("mnist", progress=False)


def test_mirrors_override_and_explicit_cache_dir(server, arrays, register, tmp_path):
    register(pin(arrays, mirrors=("https://never.invalid/",)))
    url = server.serve("m", gz_bytes(arrays))
    got = fetch("mnist", progress=False, mirrors=[url], cache_dir=tmp_path / "elsewhere")
    assert all(p.parent == tmp_path / "elsewhere" for p in got)


def test_embedded_dataset_has_nothing_to_fetch():
    assert fetch("digits", progress=False) == []


def test_unknown_dataset():
    with pytest.raises(DataError, match="unknown dataset 'cifar'"):
        fetch("cifar")


def test_production_mirrors_are_https():
    from reglab.data import SOURCES

    for source in SOURCES.values():
        for url in source.mirrors:
            assert url.startswith("https://") and url.endswith("/"), url
        for spec in source.files:
            assert spec.payload_sha256 or spec.archive_sha256, spec
