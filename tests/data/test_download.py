"""The downloader against a local HTTP server on 127.0.0.1; no test touches the internet."""

import hashlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

pytest.importorskip("pooch")

from mlplab.data import DownloadError, fetch, load_dataset, write_idx  # noqa: E402
from mlplab.data import datasets as datasets_module  # noqa: E402


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Fail any connection that is not to 127.0.0.1: a test can never reach the internet."""
    real_connect = socket.socket.connect

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in (
            "127.0.0.1",
            "::1",
        ):
            raise OSError(f"test tried to reach {address!r}: only loopback is allowed")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


class Server:
    """A local HTTP server serving ``files`` (URL path -> bytes) and counting requests."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path)
                body = outer.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def count(self, suffix):
        return sum(path.endswith(suffix) for path in self.requests)


@pytest.fixture
def server():
    s = Server()
    s.thread.start()
    try:
        yield s
    finally:
        s.httpd.shutdown()
        s.httpd.server_close()
        s.thread.join(timeout=5)


def sha(data):
    return hashlib.sha256(data).hexdigest()


def test_right_checksum_is_cached_and_reused_without_a_request(server, tmp_path):
    body = b"pretend this is MNIST" * 100
    server.files["/m/a.gz"] = body
    folder = tmp_path / "cache"

    path = fetch("a.gz", sha(body), [server.url + "/m/"], folder)
    assert path == folder / "a.gz" and path.read_bytes() == body
    assert server.count("a.gz") == 1

    again = fetch("a.gz", sha(body), [server.url + "/m/"], folder)
    assert again == path and server.count("a.gz") == 1  # served from the cache


def test_wrong_checksum_is_refused_and_nothing_cached(server, tmp_path):
    server.files["/m/a.gz"] = b"tampered bytes"
    folder = tmp_path / "cache"
    with pytest.raises(DownloadError) as excinfo:
        fetch("a.gz", sha(b"the real bytes"), [server.url + "/m/"], folder)
    msg = str(excinfo.value)
    assert "\n" not in msg and "SHA-256 mismatch" in msg and "a.gz" in msg
    assert not folder.exists() or list(folder.iterdir()) == []
    assert server.count("a.gz") == 1


def test_first_mirror_failing_then_second_working(server, tmp_path):
    body = b"\x00\x01" * 500
    server.files["/bad/a.gz"] = b"wrong"  # a mirror serving the wrong bytes
    server.files["/good/a.gz"] = body
    with socket.socket() as s:  # a port nobody listens on: connection refused
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/"
    mirrors = [dead, server.url + "/missing/", server.url + "/bad/", server.url + "/good/"]

    path = fetch("a.gz", sha(body), mirrors, tmp_path)

    assert path.read_bytes() == body
    assert server.requests == ["/missing/a.gz", "/bad/a.gz", "/good/a.gz"]


def test_all_mirrors_failing_names_each(server, tmp_path):
    with pytest.raises(DownloadError) as excinfo:
        fetch("a.gz", sha(b"x"), [server.url + "/one/", server.url + "/two/"], tmp_path)
    msg = str(excinfo.value)
    assert "\n" not in msg and "/one/a.gz" in msg and "/two/a.gz" in msg and "404" in msg
    with pytest.raises(ValueError, match="at least one"):
        fetch("a.gz", sha(b"x"), [], tmp_path)


def make_split(n, seed):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    return images, labels


def idx_gz(array, tmp_path, name):
    write_idx(array, tmp_path / name, gzip=True)
    return (tmp_path / name).read_bytes()


def test_load_dataset_downloads_verifies_and_reuses(server, tmp_path, monkeypatch):
    hashes = {}
    expected = {}
    for prefix, n in (("train", 30), ("t10k", 12)):
        images, labels = make_split(n, seed=n)
        expected[prefix] = (images, labels)
        for kind, array in (("images-idx3-ubyte.gz", images), ("labels-idx1-ubyte.gz", labels)):
            name = f"{prefix}-{kind}"
            body = idx_gz(array, tmp_path, name)
            server.files["/mirror/" + name] = body
            hashes[name] = sha(body)
    monkeypatch.setitem(datasets_module.MIRRORS, "mnist", (server.url + "/mirror/",))
    monkeypatch.setitem(datasets_module.SHA256, "mnist", hashes)
    root = tmp_path / "root"

    with pytest.raises(FileNotFoundError) as excinfo:
        load_dataset("mnist", split="test", root=root)  # no files, download not asked for
    msg = str(excinfo.value)
    assert "\n" not in msg and str(root / "mnist") in msg
    assert "download=True" in msg and "mnist-5k" in msg
    assert server.requests == []

    test = load_dataset("mnist", split="test", root=root, download=True)
    images, labels = expected["t10k"]
    assert test.x.shape == (12, 784) and test.x.dtype == np.float32
    np.testing.assert_allclose(test.x, (images.reshape(12, -1) / 255 - 0.1307) / 0.3081, atol=1e-6)
    np.testing.assert_array_equal(test.y, labels)
    assert test.y.dtype == np.int64
    assert sorted(p.name for p in (root / "mnist").iterdir()) == [
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ]
    assert len(server.requests) == 2

    load_dataset("mnist", split="test", root=root, download=True)
    assert len(server.requests) == 2  # the cache answers; the server is not asked again

    train = load_dataset("mnist", split="train", root=root, download=True)
    assert len(train) == 30 and len(server.requests) == 4


def test_tampered_download_through_load_dataset_is_refused(server, tmp_path, monkeypatch):
    images, labels = make_split(5, seed=0)
    server.files["/m/train-images-idx3-ubyte.gz"] = idx_gz(images, tmp_path, "i.gz")
    monkeypatch.setitem(datasets_module.MIRRORS, "fashion-mnist", (server.url + "/m/",))
    root = tmp_path / "root"
    with pytest.raises(DownloadError) as excinfo:
        load_dataset("fashion-mnist", root=root, download=True)  # real hashes: must not match
    msg = str(excinfo.value)
    assert "\n" not in msg and "SHA-256 mismatch" in msg
    assert str(root / "fashion-mnist") in msg and "mnist-5k" in msg
    assert not (root / "fashion-mnist" / "train-images-idx3-ubyte.gz").exists()


def test_cache_folder_from_environment(tmp_path, monkeypatch):
    folder = tmp_path / "env-cache" / "fashion-mnist"
    folder.mkdir(parents=True)
    images, labels = make_split(4, seed=3)
    write_idx(images, folder / "t10k-images-idx3-ubyte")  # raw, uncompressed names work too
    write_idx(labels, folder / "t10k-labels-idx1-ubyte.gz", gzip=True)
    monkeypatch.setenv("MLPLAB_DATA", str(tmp_path / "env-cache"))
    ds = load_dataset("fashion-mnist", split="test")
    np.testing.assert_allclose(ds.x, (images.reshape(4, -1) / 255 - 0.2860) / 0.3530, atol=1e-6)
    np.testing.assert_array_equal(ds.y, labels)
