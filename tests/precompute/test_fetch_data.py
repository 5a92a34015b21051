"""``python -m precompute.fetch_data`` against a real HTTP server on 127.0.0.1 serving a fake copy of three
languages: progress, verified files, rejected downloads that leave nothing behind, one line when offline."""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from core.datasets import load_tatoeba
from core.languages import load_languages
from precompute.fetch_data import (
    MANIFEST,
    URL_VARIABLE,
    file_facts,
    load_manifest,
    main,
    missing_files,
    write_manifest,
)

REPO = Path(__file__).resolve().parents[2]
FAKE = {
    "aaa": ("ሰላም ዓለም\nእንዴት ነህ\n", "hello world\nhow are you\n"),
    "bbb": ("eins\nzwei\ndrei\n", "one\ntwo\nthree\n"),
    "ccc": ("un\r\ndeux\r\n", "one\r\ntwo\r\n"),
}
LANGS = list(FAKE)


class _Server:
    """A folder served over HTTP on 127.0.0.1, recording the paths it was asked for."""

    def __init__(self, root: Path):
        self.root, self.requests = root, []
        outer = self

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path.rsplit("/", 1)[-1])
                super().do_GET()

            def log_message(self, *args):  # keep the test output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def put(self, name: str, text: str) -> None:
        (self.root / name).write_bytes(text.encode("utf-8"))


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    srv = _Server(root)
    for lang, (src, eng) in FAKE.items():
        srv.put(f"tatoeba.{lang}-eng.{lang}", src)
        srv.put(f"tatoeba.{lang}-eng.eng", eng)
    write_manifest(root, tmp_path / "manifest.csv")  # the manifest of the good copy
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def _fetch(server, out: Path, tmp_path: Path, *extra: str) -> int:
    args = ["--out", str(out), "--langs", *LANGS, "--base-url", server.url]
    return main([*args, "--manifest", str(tmp_path / "manifest.csv"), *extra])


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.glob("*.part")) if out.exists() else []


def test_fetch_shows_progress_and_writes_the_served_files(server, tmp_path, capsys):
    out = tmp_path / "data" / "v1"
    assert _fetch(server, out, tmp_path) == 0
    cap = capsys.readouterr()
    assert "Tatoeba" in cap.err and "6/6" in cap.err and "100%" in cap.err  # tqdm's bar over files
    assert cap.out.strip() == f"6 files fetched into {out}"
    for name in (p.name for p in server.root.glob("tatoeba.*")):
        assert (out / name).read_bytes() == (server.root / name).read_bytes()
    assert _leftovers(out) == [] and missing_files(out, LANGS) == []
    assert len(load_tatoeba(out, "ccc").queries) == 2  # what the loader reads back

    server.requests.clear()
    assert _fetch(server, out, tmp_path) == 0
    assert capsys.readouterr().out.strip() == f"{out}: all 3 languages present"
    assert server.requests == [], "a complete folder needs no network"


def test_only_missing_or_empty_files_are_fetched(server, tmp_path, capsys):
    out = tmp_path / "v1"
    out.mkdir()
    (out / "tatoeba.aaa-eng.aaa").write_bytes((server.root / "tatoeba.aaa-eng.aaa").read_bytes())
    (out / "tatoeba.aaa-eng.eng").write_bytes((server.root / "tatoeba.aaa-eng.eng").read_bytes())
    (out / "tatoeba.bbb-eng.eng").write_bytes(b"")  # an empty file counts as missing
    assert _fetch(server, out, tmp_path) == 0
    assert sorted(server.requests) == sorted(
        ["tatoeba.bbb-eng.bbb", "tatoeba.bbb-eng.eng", "tatoeba.ccc-eng.ccc", "tatoeba.ccc-eng.eng"]
    )
    assert "4/4" in capsys.readouterr().err


def test_a_truncated_download_is_rejected_and_nothing_of_it_kept(server, tmp_path, capsys):
    server.put("tatoeba.bbb-eng.bbb", "eins\nzwei\n")  # the manifest still describes three lines
    out = tmp_path / "v1"
    assert _fetch(server, out, tmp_path) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: download rejected") and "tatoeba.bbb-eng.bbb: 2 lines" in err
    assert "expected 3 lines" in err
    assert sorted(p.name for p in out.iterdir()) == ["tatoeba.aaa-eng.aaa", "tatoeba.aaa-eng.eng"]
    assert _leftovers(out) == []


def test_sides_of_different_lengths_are_rejected_without_a_manifest(server, tmp_path, capsys):
    server.put("tatoeba.ccc-eng.eng", "one\r\ntwo\r\nthree\r\n")
    out = tmp_path / "v1"
    assert _fetch(server, out, tmp_path, "--manifest", str(tmp_path / "none.csv")) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "ccc: tatoeba.ccc-eng.ccc has 2 lines but tatoeba.ccc-eng.eng has 3" in err
    assert not (out / "tatoeba.ccc-eng.ccc").exists() and not (out / "tatoeba.ccc-eng.eng").exists()
    assert (out / "tatoeba.bbb-eng.bbb").is_file() and _leftovers(out) == []


def test_a_file_missing_on_the_server_is_one_line(server, tmp_path, capsys):
    (server.root / "tatoeba.aaa-eng.eng").unlink()
    assert _fetch(server, tmp_path / "v1", tmp_path, "--quiet") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "tatoeba.aaa-eng.eng: HTTP 404" in err


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_offline_is_one_line_saying_where_to_put_the_data(tmp_path):
    # A real process, the base URL from the environment variable, a port nobody listens on.
    out = tmp_path / "nowhere" / "v1"
    env = {**os.environ, "PYTHONPATH": str(REPO), URL_VARIABLE: f"http://127.0.0.1:{_closed_port()}/"}
    proc = subprocess.run(
        [sys.executable, "-m", "precompute.fetch_data", "--out", str(out), "--langs", "aaa", "bbb"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: 4 Tatoeba files missing and cannot reach http://127.0.0.1:")
    assert f"in {out.resolve()} or set CLIR_DATA_DIR" in proc.stderr
    assert not out.exists(), "nothing is created when nothing could be fetched"


def test_line_counts_follow_the_loader(tmp_path):
    for text in ("a\r\nb\rc", "a\nb\n", "x", "a\n\nb\n", "a\u2028b\x0cc\n"):
        (tmp_path / "tatoeba.zzz-eng.zzz").write_text(text, encoding="utf-8", newline="")
        (tmp_path / "tatoeba.zzz-eng.eng").write_text(text, encoding="utf-8", newline="")
        assert file_facts(text.encode("utf-8")).lines == len(load_tatoeba(tmp_path, "zzz").queries), repr(
            text
        )


def test_shipped_manifest_describes_the_data_folder(data_dir):
    manifest = load_manifest(MANIFEST)
    assert {f"tatoeba.{x}-eng.{s}" for x in load_languages() for s in (x, "eng")} <= set(manifest)
    for name, facts in manifest.items():
        assert file_facts((data_dir / name).read_bytes(), name) == facts, name
