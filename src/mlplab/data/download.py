"""Verified downloads of the full MNIST and Fashion-MNIST files, with a cache and mirrors.

Each file is fetched with pooch from the first mirror that answers with the right bytes: the
download goes to a temporary file, its SHA-256 is compared with the known hash below, and only a
match is moved into the cache folder. A file already in the cache with the right hash is reused
without touching the network. A mirror that fails (unreachable, an HTTP error, or bytes with the
wrong hash) is skipped and the next one tried.

The cache folder is, in order: the ``root`` a caller passes, else the ``MLPLAB_DATA`` environment
variable, else pooch's per-user cache (``~/.cache/mlplab`` on Linux); each data set has its own
subfolder (``<cache>/mnist``, ``<cache>/fashion-mnist``).

The hashes are those of the canonical gzip files, as the torchvision, TensorFlow and Chainer
registries list them.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["DownloadError", "MIRRORS", "SHA256", "data_home", "fetch"]

#: base URLs tried in order, per data set
MIRRORS: dict[str, tuple[str, ...]] = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    "fashion-mnist": (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
}

#: SHA-256 of each gzip file, per data set
SHA256: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": (
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
        ),
        "train-labels-idx1-ubyte.gz": (
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
        ),
        "t10k-images-idx3-ubyte.gz": (
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
        ),
        "t10k-labels-idx1-ubyte.gz": (
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
        ),
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": (
            "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc"
        ),
        "train-labels-idx1-ubyte.gz": (
            "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc"
        ),
        "t10k-images-idx3-ubyte.gz": (
            "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229"
        ),
        "t10k-labels-idx1-ubyte.gz": (
            "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf"
        ),
    },
}


class DownloadError(RuntimeError):
    """No mirror delivered a file with the expected SHA-256."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _user_cache() -> Path:
    """The per-user cache folder pooch (platformdirs) would choose for "mlplab", without pooch."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "mlplab" / "mlplab" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "mlplab"
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return Path(xdg or Path.home() / ".cache") / "mlplab"


def data_home() -> Path:
    """Return the cache folder: ``$MLPLAB_DATA`` if set, else pooch's per-user cache.

    The per-user cache is the folder ``pooch.os_cache("mlplab")`` names (``~/.cache/mlplab`` on
    Linux), found without importing pooch, so a plain install (no ``[lab]`` extra) finds it too.

    Examples:
        >>> from unittest import mock
        >>> with mock.patch.dict("os.environ", {"MLPLAB_DATA": "/tmp/mlplab-data"}):
        ...     print(data_home().as_posix())
        /tmp/mlplab-data
    """
    env = os.environ.get("MLPLAB_DATA")
    if env:
        return Path(env).expanduser()
    return _user_cache()


def fetch(
    fname: str,
    sha256: str,
    mirrors: Sequence[str],
    folder: str | os.PathLike[str],
    progressbar: bool = False,
    timeout: float = 30.0,
) -> Path:
    """Return ``folder/fname``, downloading it from the first mirror that has the right bytes.

    Args:
        fname: the file's name, appended to each mirror's base URL.
        sha256: the expected SHA-256 (hex) of the file.
        mirrors: base URLs (ending in ``/``) tried in order.
        folder: where the verified file is stored (created if needed).
        progressbar: show a tqdm progress bar while downloading.
        timeout: seconds to wait for a mirror's connection or next bytes.

    Returns:
        The path of the verified file. A file already there with the right hash is returned
        without any request.

    Raises:
        DownloadError: one line listing each mirror and why it failed, or saying that pooch
            (the ``[lab]`` extra) is not installed; nothing is written to ``folder`` then.
        ValueError: if ``mirrors`` is empty.

    Examples:
        >>> import tempfile, hashlib, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "a.bin").write_bytes(b"cached")
        >>> digest = hashlib.sha256(b"cached").hexdigest()
        >>> fetch("a.bin", digest, ["http://127.0.0.1:9/"], folder).read_bytes()  # no request
        b'cached'
    """
    if not mirrors:
        raise ValueError(f"fetch: mirrors must list at least one base URL for {fname}, got none")
    cached = Path(folder) / fname
    if cached.is_file() and _sha256(cached) == sha256:
        return cached
    try:
        import pooch  # lazy: keeps `import mlplab` fast
    except ImportError:
        raise DownloadError(
            f"fetch: downloading {fname} needs pooch, which is not installed "
            '(pip install "mlplab[lab]")'
        ) from None
    failures = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + fname
        downloader = pooch.HTTPDownloader(progressbar=progressbar, timeout=timeout)
        try:
            path = pooch.retrieve(
                url, known_hash=f"sha256:{sha256}", fname=fname, path=folder, downloader=downloader
            )
        except ValueError as err:  # pooch's hash mismatch; the bad download is already deleted
            reason = "SHA-256 mismatch" if "hash" in str(err).lower() else str(err)
            failures.append(f"{url}: {reason}")
        except Exception as err:  # any network or HTTP failure: try the next mirror
            reason = str(err).splitlines()[0] if str(err) else ""
            reason = reason if len(reason) <= 160 else reason[:157] + "..."
            failures.append(f"{url}: {type(err).__name__}: {reason}")
        else:
            return Path(path)
    raise DownloadError(
        f"fetch: could not download {fname} with SHA-256 {sha256[:12]}... from any mirror ("
        + "; ".join(failures)
        + ")"
    )
