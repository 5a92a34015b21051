"""Hub models (``org/name``) from the local Hugging Face cache, or downloaded at one exact commit.

The commit is a hub model's identity. A model in the cache is loaded from it without any network access,
and its identity is the cached commit; an uncached one is looked up on the hub (the commit its default
branch points at now) and exactly that commit's files are downloaded, once, with a progress bar. So a
changed upstream model is another fingerprint, never mixed with cells stored for the old one, and a machine
with the cache but no network loads what it had.

Only the files sentence-transformers reads are downloaded (:func:`loaded_files`): a repository such as
LaBSE's also holds TensorFlow, ONNX and OpenVINO copies of its weights, each as large as the model.

huggingface_hub reads ``HF_ENDPOINT``, ``HF_HUB_CACHE`` / ``HF_HOME`` and ``HF_HUB_OFFLINE`` once, when it is
imported. These functions read them at each call and pass them on, like the rest of the project's
environment (``CLIR_*``), so that a setting made after the import (by a test, or a parent process for its
children) is the one in force.
"""

from __future__ import annotations

import glob
import logging
import os
import posixpath
import socket
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlparse

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://huggingface.co"
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Exports for other runtimes that sentence-transformers' torch backend never opens.
_OTHER_RUNTIME_FOLDERS = ("onnx", "openvino", "coreml")
_OTHER_RUNTIME_SUFFIXES = (".h5", ".msgpack", ".ot", ".onnx", ".onnx_data", ".tflite", ".mlmodel", ".gguf")


def endpoint() -> str:
    """The hub's base URL: ``$HF_ENDPOINT`` (a mirror, or a local test server), else huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def cache_dir() -> Path:
    """The Hugging Face hub cache, by huggingface_hub's own rule: ``$HF_HUB_CACHE``, the legacy
    ``$HUGGINGFACE_HUB_CACHE``, ``$HF_HOME/hub``, else ``$XDG_CACHE_HOME/huggingface/hub`` (``~/.cache``)."""
    env = os.environ
    home = env.get("HF_HOME") or os.path.join(env.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    raw = env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE") or os.path.join(home, "hub")
    return Path(os.path.expandvars(os.path.expanduser(raw)))


def _true(value: str | None) -> bool:
    # huggingface_hub's rule for its boolean variables.
    return (value or "").upper() in {"1", "ON", "YES", "TRUE"}


def offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` (else ``TRANSFORMERS_OFFLINE``) forbids network access: 1, ON, YES or TRUE,
    any case, as huggingface_hub reads them."""
    return _true(os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE"))


def endpoint_address(url: str) -> tuple[str, int]:
    """(host, port) that a hub URL is reached at: the explicit port, else 80 for http and 443 for https.

    Raises:
        ValueError: ``url`` has no host, or a scheme other than http and https without a port.

    Example:
        >>> endpoint_address("http://127.0.0.1:8080"), endpoint_address("https://huggingface.co")
        (('127.0.0.1', 8080), ('huggingface.co', 443))
    """
    parsed = urlparse(url)
    port = parsed.port or _DEFAULT_PORTS.get(parsed.scheme)
    if not parsed.hostname or port is None:
        raise ValueError(f"HF_ENDPOINT {url!r} is not an http(s) URL with a host")
    return parsed.hostname, port


def unreachable_reason(timeout: float = 3.0) -> str | None:
    """None if the hub (:func:`endpoint`) accepts a TCP connection, else why not, as one line.

    Checked before any hub call because without a network huggingface_hub and transformers retry for long
    before failing; a TCP connect fails in at most ``timeout`` seconds.
    """
    if offline():
        return f"HF_HUB_OFFLINE is set and the model is not in the local Hugging Face cache ({cache_dir()})"
    try:
        host, port = endpoint_address(endpoint())
    except ValueError as exc:
        return str(exc)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        return (
            f"no network access to {host}:{port} ({exc.__class__.__name__}: {exc}) and not in the local "
            f"Hugging Face cache ({cache_dir()})"
        )
    return None


def loaded_files(files: Iterable[str]) -> list[str]:
    """The files of a hub repository that sentence-transformers loads, sorted: every file except other
    runtimes' exports (ONNX, OpenVINO, Core ML folders; TensorFlow, Flax, Rust, GGUF weights) and a
    ``pytorch_model*.bin`` beside a ``*.safetensors`` file in the same folder (the same weights, loaded from
    the safetensors file).

    Example:
        >>> loaded_files(["config.json", "model.safetensors", "pytorch_model.bin", "tf_model.h5",
        ...               "onnx/model.onnx", "2_Dense/pytorch_model.bin"])
        ['2_Dense/pytorch_model.bin', 'config.json', 'model.safetensors']
    """
    files = list(files)
    with_safetensors = {posixpath.dirname(f) for f in files if f.endswith(".safetensors")}
    kept = []
    for f in files:
        folder, base = posixpath.split(f)
        if f.split("/", 1)[0] in _OTHER_RUNTIME_FOLDERS or base.endswith(_OTHER_RUNTIME_SUFFIXES):
            continue
        if base.startswith("pytorch_model") and ".bin" in base and folder in with_safetensors:
            continue
        kept.append(f)
    return sorted(kept)


def _patterns(files: Iterable[str]) -> list[str]:
    # snapshot_download takes glob patterns: escaped, each matches exactly one file name.
    return [glob.escape(f) for f in loaded_files(files)]


def cached_snapshot(repo_id: str) -> Path | None:
    """The folder of ``repo_id``'s cached snapshot (the commit its default branch pointed at when it was
    cached), or None when it is not cached or incomplete. Never touches the network.

    Complete means: every file :func:`loaded_files` selects from the cached file listing is there. A cache
    filled by another tool without a listing (e.g. by ``SentenceTransformer(repo_id)`` itself) is taken as
    it is.

    Raises:
        huggingface_hub.errors.HFValidationError: ``repo_id`` is not a valid hub id.
    """
    from huggingface_hub import get_cached_repo_tree, snapshot_download
    from huggingface_hub.errors import (
        CachedRepoTreeNotFoundError,
        IncompleteSnapshotError,
        LocalEntryNotFoundError,
    )

    cache = cache_dir()
    try:
        patterns = _patterns(f.path for f in get_cached_repo_tree(repo_id, cache_dir=cache))
    except CachedRepoTreeNotFoundError:
        patterns = None
    try:
        folder = snapshot_download(repo_id, cache_dir=cache, local_files_only=True, allow_patterns=patterns)
    except (LocalEntryNotFoundError, IncompleteSnapshotError) as exc:
        log.debug("%s not usable from the cache: %s", repo_id, exc)
        return None
    return Path(folder)


def current_commit(repo_id: str) -> str:
    """The commit ``repo_id``'s default branch points at on the hub now (one API call; recorded in the cache's
    ``refs/`` as huggingface_hub does, so a later offline run finds the snapshot downloaded for it).

    Raises:
        huggingface_hub.errors.HfHubHTTPError (unknown repository...), httpx errors (the hub stopped answering).
    """
    from huggingface_hub import HfApi

    return HfApi(endpoint=endpoint()).resolve_revision(repo_id, cache_dir=cache_dir()).resolved


def download(repo_id: str, commit: str) -> Path:
    """Download the files of ``repo_id`` at ``commit`` that sentence-transformers loads (:func:`loaded_files`)
    into the cache, with a progress bar, and return the snapshot folder. Files already there are not
    downloaded again.

    Raises:
        huggingface_hub.errors.HfHubHTTPError, httpx errors: the hub refused or stopped answering.
    """
    from huggingface_hub import HfApi, snapshot_download
    from tqdm.auto import tqdm

    url = endpoint()
    files = [s.rfilename for s in HfApi(endpoint=url).model_info(repo_id, revision=commit).siblings or []]
    log.info(
        "downloading %s at %s: %d of its %d files", repo_id, commit, len(loaded_files(files)), len(files)
    )
    # Plain tqdm: huggingface_hub's own bar hides itself off a terminal, and a 1.8 GB download should show in
    # the background job's log too (HF_HUB_DISABLE_PROGRESS_BARS still turns it off).
    bar = None if _true(os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS")) else tqdm
    folder = snapshot_download(
        repo_id, revision=commit, cache_dir=cache_dir(), endpoint=url, allow_patterns=_patterns(files),
        tqdm_class=bar,
    )  # fmt: skip
    return Path(folder)
