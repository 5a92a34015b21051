"""``labse`` (sentence-transformers/LaBSE) from the Hugging Face cache, or from the hub through huggingface_hub's
real client, offline both ways.

A tiny BERT with LaBSE's module layout (Transformer -> Pooling (CLS) -> Dense (tanh) -> Normalize) stands in
for the 1.8 GB model, under LaBSE's id: written by hand into a temporary cache in huggingface_hub's layout, or
served by :class:`LocalHub`, a hub on 127.0.0.1 that answers the requests huggingface_hub makes the way
huggingface.co does. Every vector is checked against ``SentenceTransformer(folder)`` on the same folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import duckdb
import numpy as np
import pytest

from core.encoders import hub as hf
from core.encoders.base import fingerprint_of
from core.encoders.registry import encoder_fingerprint, load_encoder
from core.errors import EncoderUnavailable
from precompute.cli import main

pytestmark = pytest.mark.slow  # a fake hub cache and the background job per test

REPO = Path(__file__).resolve().parents[2]
MODEL = "sentence-transformers/LaBSE"
COMMIT_A = hashlib.sha1(b"labse commit A").hexdigest()
COMMIT_B = hashlib.sha1(b"labse commit B").hexdigest()
TEXTS = ["the cat", "a dog in the house!", "house", "zzz qq"]
# In LaBSE's repository beside the sentence-transformers files: other runtimes' copies, never downloaded.
NOT_LOADED = {
    "tf_model.h5": b"\x89HDF\r\n" + bytes(4000),
    "pytorch_model.bin": b"PK" + bytes(4000),
    "onnx/model.onnx": b"onnx" + bytes(3000),
    "openvino/openvino_model.bin": bytes(3000),
    "openvino/openvino_model.xml": b"<net/>",
}
GRID = """[dataset]
languages = ["xho"]
max_queries = 6
[grid]
encoders = ["labse"]
noise = ["delete"]
levels = [0.1]
"""


# --- the tiny model ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TinyLabse:
    folders: dict[str, Path]  # commit -> the sentence-transformers folder it holds
    commits: dict[str, dict[str, bytes]]  # commit -> every file of the repository at that commit

    def reference(self, commit: str) -> np.ndarray:
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(str(self.folders[commit]), device="cpu").encode(
            TEXTS, convert_to_numpy=True
        )


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="session")
def tiny_labse(tmp_path_factory) -> TinyLabse:
    """Commit A: a 2-layer BERT (hidden 32) with a hand-written WordPiece vocabulary in LaBSE's layout;
    commit B: the same with its dense layer's weights negated (another model under the same name)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules
    from transformers import BertConfig, BertModel, BertTokenizerFast

    root = tmp_path_factory.mktemp("tiny-labse")
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *letters, *(f"##{c}" for c in letters)]
    vocab += ["the", "cat", "dog", "house", "a", "in", ".", "!", "?"]
    (root / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64)  # fmt: skip
    BertModel(config).save_pretrained(root / "bert")
    BertTokenizerFast(vocab_file=str(root / "vocab.txt"), do_lower_case=True).save_pretrained(root / "bert")
    word = modules.Transformer(str(root / "bert"), max_seq_length=32)
    dense = modules.Dense(32, 32, activation_function=torch.nn.Tanh())
    model = SentenceTransformer(
        modules=[word, modules.Pooling(32, pooling_mode="cls"), dense, modules.Normalize()]
    )
    model.save(str(root / "A"))
    with torch.no_grad():
        dense.linear.weight.neg_()
    model.save(str(root / "B"))
    folders = {COMMIT_A: root / "A", COMMIT_B: root / "B"}
    extra = {".gitattributes": b"*.bin filter=lfs diff=lfs merge=lfs -text\n", **NOT_LOADED}
    return TinyLabse(folders, {c: {**_files(f), **extra} for c, f in folders.items()})


def _lfs(path: str) -> bool:
    return path.endswith((".safetensors", ".bin", ".h5", ".onnx"))


def _git_blob(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _etag(path: str, data: bytes) -> str:
    # The hub's ETag: the git blob id, or for an LFS file the SHA-256 of its content.
    return hashlib.sha256(data).hexdigest() if _lfs(path) else _git_blob(data)


def write_hf_cache(hub_cache: Path, commit: str, files: dict[str, bytes]) -> Path:
    """``files`` at ``commit`` in huggingface_hub's cache layout: blobs named by ETag, ``snapshots/<commit>/``
    of relative links to them, ``refs/main``. Returns the snapshot folder."""
    storage = hub_cache / ("models--" + MODEL.replace("/", "--"))
    for path, data in files.items():
        blob = storage / "blobs" / _etag(path, data)
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = storage / "snapshots" / commit / path
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (storage / "refs").mkdir(parents=True, exist_ok=True)
    (storage / "refs" / "main").write_text(commit)
    return storage / "snapshots" / commit


# --- a hub on 127.0.0.1 -----------------------------------------------------------------------------------


class LocalHub:
    """huggingface.co's answers for one model repository, on 127.0.0.1 (ephemeral ports, one thread each).

    The API: ``/api/models/{repo}`` and ``/api/models/{repo}/revision/{rev}`` (commit ``sha`` and the file
    list), ``/api/models/{repo}/tree/{rev}`` (the recursive listing with sizes, blob ids and LFS info).
    Files: HEAD and GET ``/{repo}/resolve/{rev}/{path}`` with ``X-Repo-Commit``, ``ETag`` and
    ``Content-Length``; an LFS file is a 302 to a second server (another origin, as the hub's CDN is) with
    ``X-Linked-Etag`` and ``X-Linked-Size``. Errors carry the hub's ``X-Error-Code``. ``main`` says which
    commit the default branch points at; ``requests`` records every request.
    """

    def __init__(self, repo: str, commits: dict[str, dict[str, bytes]], main: str):
        self.repo, self.commits, self.main = repo, commits, main
        self.requests: list[tuple[str, str, str]] = []  # (server, method, path)
        self._lock = threading.Lock()
        self._servers = {
            name: ThreadingHTTPServer(("127.0.0.1", 0), self._handler(name)) for name in ("hub", "cdn")
        }
        self._threads = [
            # A short poll: shutdown() returns within it.
            threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
            for s in self._servers.values()
        ]
        for t in self._threads:
            t.start()

    def url(self, server: str = "hub") -> str:
        return f"http://127.0.0.1:{self._servers[server].server_address[1]}"

    def close(self) -> None:
        for s in self._servers.values():
            s.shutdown()
            s.server_close()
        for t in self._threads:
            t.join(timeout=5)

    def bodies(self) -> list[str]:
        """The files whose content was sent (GET of a plain file, or of an LFS file from the CDN)."""
        by_sha = {_etag(p, d): p for files in self.commits.values() for p, d in files.items() if _lfs(p)}
        out = []
        for server, method, path in self.requests:
            if method != "GET":
                continue
            if server == "cdn":
                out.append(by_sha[path.rsplit("/", 1)[1]])
            elif "/resolve/" in path and not _lfs(path):
                out.append(path.split("/resolve/", 1)[1].split("/", 1)[1])
        return sorted(out)

    def _handler(self, server: str):
        local = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                local._answer(self, server, "GET")

            def do_HEAD(self):
                local._answer(self, server, "HEAD")

            def log_message(self, *args):
                pass

        return Handler

    def _send(self, h, method: str, status: int, headers: dict, body: bytes = b"") -> None:
        h.send_response(status)
        for k, v in {**headers, "Content-Length": str(len(body))}.items():
            h.send_header(k, v)
        h.end_headers()
        if method == "GET" and body:
            h.wfile.write(body)

    def _json(self, h, method: str, data) -> None:
        self._send(h, method, 200, {"Content-Type": "application/json"}, json.dumps(data).encode())

    def _error(self, h, method: str, status: int, code: str, extra: dict | None = None) -> None:
        body = json.dumps({"error": code}).encode()
        self._send(h, method, status, {"X-Error-Code": code, "X-Error-Message": code, **(extra or {})}, body)

    def _answer(self, h, server: str, method: str) -> None:
        path = unquote(urlsplit(h.path).path)
        with self._lock:
            self.requests.append((server, method, path))
        if server == "cdn":
            for files in self.commits.values():
                for p, data in files.items():
                    if _lfs(p) and path == f"/lfs/{_etag(p, data)}":
                        return self._send(h, method, 200, {"Content-Type": "application/octet-stream"}, data)
            return self._error(h, method, 404, "NotFound")
        api, resolve = f"/api/models/{self.repo}", f"/{self.repo}/resolve/"
        if path == api or path.startswith(api + "/revision/"):
            commit = self._commit(path.removeprefix(api).removeprefix("/revision/") or "main")
            if commit is None:
                return self._error(h, method, 404, "RevisionNotFound")
            files = self.commits[commit]
            return self._json(h, method, {
                "_id": "0" * 24, "id": self.repo, "modelId": self.repo, "sha": commit, "private": False,
                "gated": False, "disabled": False, "tags": [], "lastModified": "2024-01-01T00:00:00.000Z",
                "siblings": [{"rfilename": p} for p in sorted(files)],
            })  # fmt: skip
        if path.startswith(api + "/tree/"):
            commit = self._commit(path.removeprefix(api + "/tree/").split("/", 1)[0])
            if commit is None:
                return self._error(h, method, 404, "RevisionNotFound")
            return self._json(h, method, self._tree(self.commits[commit]))
        if path.startswith(resolve):
            rev, _, name = path.removeprefix(resolve).partition("/")
            commit = self._commit(rev)
            if commit is None:
                return self._error(h, method, 404, "RevisionNotFound")
            if name not in self.commits[commit]:
                return self._error(h, method, 404, "EntryNotFound", {"X-Repo-Commit": commit})
            data = self.commits[commit][name]
            if _lfs(name):
                return self._send(h, method, 302, {
                    "Location": f"{self.url('cdn')}/lfs/{_etag(name, data)}", "X-Repo-Commit": commit,
                    "ETag": f'"{_git_blob(name.encode())}"', "X-Linked-Etag": f'"{_etag(name, data)}"',
                    "X-Linked-Size": str(len(data)),
                })  # fmt: skip
            headers = {
                "X-Repo-Commit": commit,
                "ETag": f'"{_etag(name, data)}"',
                "Content-Type": "text/plain",
            }
            return self._send(h, method, 200, headers, data)
        return self._error(h, method, 404, "RepoNotFound")

    def _commit(self, rev: str) -> str | None:
        rev = self.main if rev == "main" else rev
        return rev if rev in self.commits else None

    @staticmethod
    def _tree(files: dict[str, bytes]) -> list[dict]:
        folders = sorted({str(Path(p).parent) for p in files} - {"."})
        tree = [{"type": "directory", "oid": _git_blob(f.encode()), "size": 0, "path": f} for f in folders]
        for p, data in sorted(files.items()):
            entry = {"type": "file", "oid": _git_blob(data), "size": len(data), "path": p}
            if _lfs(p):
                entry["lfs"] = {"oid": _etag(p, data), "size": len(data), "pointerSize": 134}
            tree.append(entry)
        return tree


def _hf_env(monkeypatch, **values: str | None) -> None:
    for name in ("HF_ENDPOINT", "HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE",
                 "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_PROGRESS_BARS"):  # fmt: skip
        value = values.get(name)
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


@pytest.fixture
def hub(tiny_labse, tmp_path, monkeypatch):
    """The repository served with ``main`` at commit A; this process's hub settings point at it, its cache empty."""
    from huggingface_hub import constants

    server = LocalHub(MODEL, tiny_labse.commits, main=COMMIT_A)
    # HF_HOME too: nothing of huggingface_hub's (token, registries) is read from or written to the user's.
    _hf_env(monkeypatch, HF_ENDPOINT=server.url(), HF_HUB_CACHE=str(tmp_path / "hf-cache"),
            HF_HOME=str(tmp_path / "hf-home"))  # fmt: skip
    # huggingface_hub took HF_HUB_OFFLINE at import: its client must be the one of a process started online.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    yield server
    server.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _expected_fingerprint(encoder, commit: str) -> str:
    return fingerprint_of({**encoder.spec, "identity": f"{MODEL}@{commit}"})


# --- which files, which port --------------------------------------------------------------------------------


def test_only_the_files_sentence_transformers_loads_are_selected():
    labse_repo = [
        ".gitattributes", "1_Pooling/config.json", "2_Dense/config.json", "2_Dense/model.safetensors",
        "2_Dense/pytorch_model.bin", "README.md", "config.json", "config_sentence_transformers.json",
        "model.safetensors", "modules.json", "onnx/model.onnx", "openvino/openvino_model.bin",
        "openvino/openvino_model.xml", "pytorch_model.bin", "sentence_bert_config.json",
        "special_tokens_map.json", "tf_model.h5", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
        "flax_model.msgpack", "rust_model.ot",
    ]  # fmt: skip
    assert hf.loaded_files(labse_repo) == [
        ".gitattributes", "1_Pooling/config.json", "2_Dense/config.json", "2_Dense/model.safetensors",
        "README.md", "config.json", "config_sentence_transformers.json", "model.safetensors", "modules.json",
        "sentence_bert_config.json", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json",
        "vocab.txt",
    ]  # fmt: skip
    # A checkpoint with PyTorch weights only (the SimCSE models) keeps them.
    assert hf.loaded_files(["config.json", "pytorch_model.bin", "tf_model.h5"]) == [
        "config.json",
        "pytorch_model.bin",
    ]


def test_the_hub_is_dialled_at_its_endpoints_port(monkeypatch):
    assert hf.endpoint_address("https://huggingface.co") == ("huggingface.co", 443)
    assert hf.endpoint_address("http://mirror.example") == ("mirror.example", 80)
    assert hf.endpoint_address("http://127.0.0.1:8123/") == ("127.0.0.1", 8123)
    _hf_env(monkeypatch)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
        assert hf.unreachable_reason() is None
    reason = hf.unreachable_reason()
    assert reason.startswith(f"no network access to 127.0.0.1:{port} (ConnectionRefusedError")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hf.unreachable_reason().startswith("HF_HUB_OFFLINE is set")


# --- the cache, offline -------------------------------------------------------------------------------------


def test_labse_loads_offline_from_the_standard_cache(tiny_labse, tmp_path, monkeypatch):
    # A cache as SentenceTransformer(MODEL) leaves it: the files it loads, no file listing; under $HF_HOME.
    loaded = {p: d for p, d in tiny_labse.commits[COMMIT_A].items() if p not in NOT_LOADED}
    write_hf_cache(tmp_path / "hf-home" / "hub", COMMIT_A, loaded)
    _hf_env(monkeypatch, HF_HOME=str(tmp_path / "hf-home"), HF_HUB_OFFLINE="1",
            HF_ENDPOINT=f"http://127.0.0.1:{_closed_port()}")  # fmt: skip
    encoder = load_encoder("labse")
    np.testing.assert_allclose(encoder.encode(TEXTS), tiny_labse.reference(COMMIT_A), atol=1e-6)
    assert encoder.fingerprint == encoder_fingerprint("labse") == _expected_fingerprint(encoder, COMMIT_A)
    # Not in this cache: one line naming the cache, at once.
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty"))
    with pytest.raises(EncoderUnavailable) as info:
        load_encoder("labse")
    assert str(info.value) == (
        "encoder labse unavailable: HF_HUB_OFFLINE is set and the model is not in the local Hugging Face cache "
        f"({tmp_path / 'empty' / 'hub'})"
    )


# --- the hub ------------------------------------------------------------------------------------------------


def test_labse_downloads_what_it_loads_once_with_a_progress_bar_then_works_offline(
    tiny_labse, hub, monkeypatch, capsys
):
    fingerprint = encoder_fingerprint("labse")  # the commit the hub serves now; nothing downloaded for it
    assert hub.requests == [("hub", "GET", f"/api/models/{MODEL}")]
    encoder = load_encoder("labse")
    wanted = sorted(p for p in tiny_labse.commits[COMMIT_A] if p not in NOT_LOADED)
    assert f"Fetching {len(wanted)} files" in capsys.readouterr().err, "the download shows a progress bar"
    np.testing.assert_allclose(encoder.encode(TEXTS), tiny_labse.reference(COMMIT_A), atol=1e-6)
    assert encoder.fingerprint == fingerprint == _expected_fingerprint(encoder, COMMIT_A)
    assert hub.bodies() == wanted, "each file sentence-transformers loads once, no other runtime's copy"
    assert not [r for r in hub.requests if any(r[2].endswith(p) for p in NOT_LOADED)]

    seen = len(hub.requests)
    again = load_encoder("labse")
    assert len(hub.requests) == seen, "a cached model is loaded without asking the hub anything"
    assert again.fingerprint == fingerprint
    with pytest.raises(
        EncoderUnavailable, match="^encoder org/absent unavailable: RepositoryNotFoundError: "
    ):
        load_encoder("org/absent")  # a hub that answers but has no such model: one line

    hub.close()  # and with no hub at all, as on a machine without network
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    offline = load_encoder("labse")
    assert offline.fingerprint == fingerprint
    np.testing.assert_allclose(offline.encode(TEXTS), tiny_labse.reference(COMMIT_A), atol=1e-6)
    # A snapshot missing a file it needs (an interrupted download) is not taken for the model.
    (Path(os.environ["HF_HUB_CACHE"]) / f"models--{MODEL.replace('/', '--')}" / "snapshots" / COMMIT_A
     / "model.safetensors").resolve().unlink()  # fmt: skip
    with pytest.raises(EncoderUnavailable, match="^encoder labse unavailable: HF_HUB_OFFLINE is set"):
        load_encoder("labse")


def _run(tmp_path: Path, db: Path, *extra: str) -> int:
    grid = tmp_path / "labse.toml"
    grid.write_text(GRID, encoding="utf-8")
    return main(["run", "--grid", str(grid), "--db", str(db), "--quiet", *extra])


@pytest.mark.slow
def test_precompute_run_downloads_through_the_hub_client_once(tiny_labse, hub, tmp_path, capsys, data_dir):
    """``python -m precompute run`` as its own process, configured by the environment alone as a user's is,
    so a request that sentence-transformers or transformers made while loading would reach this hub too."""
    grid, db = tmp_path / "labse.toml", tmp_path / "r.duckdb"
    grid.write_text(GRID, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "precompute", "run", "--grid", str(grid), "--db", str(db),
                           "--quiet"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "2 cells computed, 0 already stored" in done.stdout
    wanted = sorted(p for p in tiny_labse.commits[COMMIT_A] if p not in NOT_LOADED)
    assert f"Fetching {len(wanted)} files" in done.stderr
    assert hub.bodies() == wanted
    # huggingface_hub's own once-a-day fetch of its registry of AI agents (for its User-Agent) is not ours.
    api = [r for r in hub.requests if r[2].startswith("/api/") and r[2] != "/api/agent-harnesses"]
    # Planning and loading each ask for the current commit; loading then lists that commit's files once.
    assert api == [
        ("hub", "GET", f"/api/models/{MODEL}"), ("hub", "GET", f"/api/models/{MODEL}"),
        ("hub", "GET", f"/api/models/{MODEL}/revision/{COMMIT_A}"), ("hub", "GET", f"/api/models/{MODEL}/tree/{COMMIT_A}"),
    ]  # fmt: skip
    heads = sorted(r[2].split(f"/resolve/{COMMIT_A}/", 1)[1] for r in hub.requests if r[1] == "HEAD")
    files = [r for r in hub.requests if not r[2].startswith("/api/")]
    assert heads == wanted and len(files) == 2 * len(wanted), "a HEAD and a GET per file, nothing else"
    with duckdb.connect(str(db), read_only=True) as con:
        stored = con.execute("SELECT DISTINCT encoder, fingerprint FROM cells").fetchall()
    assert stored == [("labse", encoder_fingerprint("labse"))]

    seen = len(hub.requests)
    assert _run(tmp_path, db) == 0
    assert "0 cells computed, 2 already stored" in capsys.readouterr().out
    assert len(hub.requests) == seen, "the second run neither downloads nor asks the hub"


def test_a_changed_hub_revision_is_refused_like_any_changed_model(tiny_labse, hub, tmp_path, monkeypatch,
                                                                   capsys, data_dir):  # fmt: skip
    db = tmp_path / "r.duckdb"
    assert _run(tmp_path, db) == 0
    fingerprint_a = encoder_fingerprint("labse")
    capsys.readouterr()
    # Upstream moves on; a machine with a fresh cache gets commit B under the same name.
    hub.main = COMMIT_B
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "fresh-cache"))
    fingerprint_b = encoder_fingerprint("labse")
    assert fingerprint_b != fingerprint_a

    def ranks():
        with duckdb.connect(str(db), read_only=True) as con:
            return con.execute("SELECT * FROM ranks ORDER BY ALL").fetchall()

    before = ranks()
    assert _run(tmp_path, db) == 2
    err = capsys.readouterr().err
    # One line of ours; a progress bar ("...%|...|") of the hub's download may precede it when a fetch is slow.
    ours = [line for line in re.split(r"[\r\n]", err) if line and "%|" not in line]
    assert len(ours) == 1 and ours[0].startswith("error: encoder labse is another model now"), err
    assert fingerprint_a in err and fingerprint_b in err and "--replace-changed" in err
    assert ranks() == before
    assert _run(tmp_path, db, "--replace-changed") == 0
    assert "replacing 2 cells of encoder labse" in capsys.readouterr().out
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT DISTINCT fingerprint FROM cells").fetchall() == [(fingerprint_b,)]


# --- make demo's background job ------------------------------------------------------------------------------


def _background(tmp_path: Path, *extra: str) -> int:
    grid = tmp_path / "labse.toml"
    grid.write_text(GRID, encoding="utf-8")
    return main(
        ["background", "--grid", str(grid), "--db", str(tmp_path / "results" / "demo.duckdb"), *extra]
    )


def test_background_labse_yes_without_network_or_cache_is_one_line_before_any_work(
    tmp_path, monkeypatch, capsys
):
    _hf_env(
        monkeypatch, HF_HUB_CACHE=str(tmp_path / "hf-cache"), HF_ENDPOINT=f"http://127.0.0.1:{_closed_port()}"
    )
    assert _background(tmp_path, "--labse", "yes") == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: encoder labse unavailable: no network access to 127.0.0.1:")
    assert captured.err.count("\n") == 1 and captured.out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labse.toml"], "no database, status or cache left"


def test_background_adds_labse_when_cached_or_asked_and_says_how_otherwise(tiny_labse, hub, tmp_path, capsys):
    assert _background(tmp_path, "--check") == 0
    assert capsys.readouterr().out == (
        "labse (LaBSE) is not in the Hugging Face cache: `make demo LABSE=1` downloads it (about 1.8 GB)\n"
    )
    assert _background(tmp_path, "--labse", "yes", "--check") == 0
    assert "the background job downloads it (about 1.8 GB)" in capsys.readouterr().out
    assert hub.bodies() == [], "a check downloads nothing"
    write_hf_cache(Path(os.environ["HF_HUB_CACHE"]), COMMIT_A, tiny_labse.commits[COMMIT_A])
    assert _background(tmp_path, "--check") == 0
    assert capsys.readouterr().out.startswith(
        f"labse (LaBSE) is in the Hugging Face cache (commit {COMMIT_A[:12]})"
    )
    assert _background(tmp_path, "--labse", "no", "--check") == 0
    assert capsys.readouterr().out == "labse: not added (--labse no)\n"
    assert not (tmp_path / "results").exists(), "a check writes nothing"


def test_the_background_job_adds_labses_cells_last(tiny_labse, hub, tmp_path, monkeypatch, data_dir):
    import precompute.background as bg

    said: list[tuple[str, str]] = []
    monkeypatch.setattr(
        bg, "write_status", lambda db, stage, done=0, total=0, message="": said.append((stage, message))
    )
    other = str(tiny_labse.folders[COMMIT_B])  # the grid's own encoder: a local folder, loaded at once
    grid, db = tmp_path / "g.toml", tmp_path / "r.duckdb"
    grid.write_text(GRID.replace('["labse"]', json.dumps([other])), encoding="utf-8")
    assert bg.run_background(grid, db, bases=(), extra=("labse",)) == 0
    # Each step's message, once (progress repeats it).
    steps = {
        message: 0 for stage, message in said if stage in ("completing", "precompute") and ": " not in message
    }
    assert list(steps) == [f"completing the demo grid ({other})", "computing the cells of labse"]
    assert said[-1][0] == "done"
    with duckdb.connect(str(db), read_only=True) as con:
        stored = con.execute(
            "SELECT encoder, fingerprint, count(*) FROM cells GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    assert stored[-1] == ("labse", encoder_fingerprint("labse"), 2) and len(stored) == 2
