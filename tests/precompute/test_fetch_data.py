"""``python -m precompute.fetch_data`` against a real HTTP server on 127.0.0.1: a fake copy of three Tatoeba
languages, and fake SIB-200 and NTREX-128 folders served under their upstream paths. Progress, verified
files, rejected downloads that leave nothing behind, one line when offline, ``--dataset all`` as ``make data``
runs it, and the shipped manifests against the shared data folders."""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from core.datasets import load_tatoeba
from core.errors import DataError
from core.languages import load_languages, tatoeba_codes
from precompute.fetch_data import (
    DATASETS,
    MANIFEST,
    NTREX128_COMMIT,
    SIB200_COMMIT,
    URL_VARIABLE,
    dataset_files,
    file_facts,
    load_file_list,
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
        self.root, self.requests, self.paths = root, [], []
        outer = self

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path.rsplit("/", 1)[-1])
                outer.paths.append(self.path)
                super().do_GET()

            def log_message(self, *args):  # keep the test output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def put(self, name: str, text: str) -> None:
        (self.root / name).parent.mkdir(parents=True, exist_ok=True)
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
    assert set(tatoeba_codes()) <= set(load_languages())  # every Tatoeba language of the manifest has a row
    for name, facts in manifest.items():
        assert file_facts((data_dir / name).read_bytes(), name) == facts, name


# --- SIB-200 (flores200) and NTREX-128: files listed in a manifest, served under their upstream paths ---

_SIB = {
    "eng_Latn/train.tsv": "index_id\tcategory\ttext\n1\tscience\tThe sky is blue.\n",
    "eng_Latn/dev.tsv": "index_id\tcategory\ttext\n2\ttravel\tTake the train.\n",
    "eng_Latn/test.tsv": "index_id\tcategory\ttext\n3\thealth\tSleep well.\n",
    "amh_Ethi/train.tsv": "index_id\tcategory\ttext\n1\tscience\tሰማዩ ሰማያዊ ነው።\n",
    "amh_Ethi/dev.tsv": "index_id\tcategory\ttext\n2\ttravel\tባቡሩን ውሰድ።\n",
    "amh_Ethi/test.tsv": "index_id\tcategory\ttext\n3\thealth\tበደንብ ተኛ።\n",
    "LICENSE": "Apache License 2.0\n",
}
_NTREX = {
    "newstest2019-src.eng.txt": "Hello.\nGoodbye.\n",
    "newstest2019-ref.amh.txt": "ሰላም።\nደህና ሁን።\n",
    "newstest2019-ref.aze-Latn.txt": "Salam.\nSağ ol.\n",
    "DOCUMENT_IDS.tsv": "bbc.1\nbbc.1\n",
    "LICENSE.md": "CC BY-SA 4.0\n",
}
# Files of the local folders that no manifest lists: a README written locally, a second reference.
_UNLISTED = {"flores200": ["README.md"], "ntrex128": ["README.md", "newstest2019-ref-2.amh.txt"]}


def _upstream(dataset: str, name: str) -> str:
    if dataset == "flores200":
        return name if name == "LICENSE" else f"data/annotated/{name}"
    return f"NTREX-128/{name}" if name.startswith("newstest2019-") else name


@pytest.fixture
def multiway(server, tmp_path):
    """The good local copies, their manifests written by the CLI, and the files on the server."""
    files = {"flores200": _SIB, "ntrex128": _NTREX}
    for dataset, texts in files.items():
        good = tmp_path / "good" / dataset
        for name, text in texts.items():
            (good / name).parent.mkdir(parents=True, exist_ok=True)
            (good / name).write_text(text, encoding="utf-8", newline="")
            server.put(_upstream(dataset, name), text)
        for name in _UNLISTED[dataset]:
            (good / name).write_text("not upstream\n", encoding="utf-8")
        manifest = tmp_path / f"{dataset}.csv"
        args = ["--dataset", dataset, "--out", str(good), "--write-manifest", str(manifest)]
        assert main(args) == 0
    return server


def _fetch_multiway(server, dataset: str, out: Path, tmp_path: Path) -> int:
    manifest = str(tmp_path / f"{dataset}.csv")
    args = ["--dataset", dataset, "--out", str(out), "--base-url", server.url, "--manifest", manifest]
    return main(args)


def _parts(out: Path) -> list[str]:
    return sorted(p.name for p in out.rglob("*.part")) if out.exists() else []


def test_written_manifests_list_the_layouts_files_with_their_upstream_paths(multiway, tmp_path):
    for dataset, texts in (("flores200", _SIB), ("ntrex128", _NTREX)):
        listed = load_file_list(tmp_path / f"{dataset}.csv")
        assert [f.file for f in listed] == sorted(texts), "README.md and the second reference are left out"
        for f in listed:
            data = texts[f.file].encode("utf-8")
            assert f.path == _upstream(dataset, f.file)
            assert f.facts == file_facts(data, f.file) and f.facts.size == len(data)


@pytest.mark.parametrize(
    ("dataset", "texts", "gone"),
    [
        ("flores200", _SIB, ["amh_Ethi/dev.tsv", "LICENSE"]),
        ("ntrex128", _NTREX, ["newstest2019-ref.aze-Latn.txt", "DOCUMENT_IDS.tsv"]),
    ],
)
def test_missing_multiway_files_are_fetched_from_their_upstream_paths(
    multiway, tmp_path, capsys, dataset, texts, gone
):
    out = tmp_path / "data" / dataset
    assert _fetch_multiway(multiway, dataset, out, tmp_path) == 0
    cap = capsys.readouterr()
    title = DATASETS[dataset].title
    assert cap.out.strip() == f"{len(texts)} {title} files fetched into {out}"
    assert title in cap.err and f"{len(texts)}/{len(texts)}" in cap.err  # tqdm's bar over files
    for name, text in texts.items():
        assert (out / name).read_bytes() == text.encode("utf-8"), name
    assert _parts(out) == []

    for name in gone:  # one file deleted, one emptied: both count as missing, the rest is kept
        (out / name).unlink()
    (out / gone[1]).write_bytes(b"")
    multiway.paths.clear()
    assert _fetch_multiway(multiway, dataset, out, tmp_path) == 0
    assert sorted(multiway.paths) == sorted(f"/{_upstream(dataset, n)}" for n in gone)
    assert capsys.readouterr().out.strip() == f"2 {title} files fetched into {out}"
    assert all((out / n).read_bytes() == texts[n].encode("utf-8") for n in gone)

    multiway.paths.clear()
    assert _fetch_multiway(multiway, dataset, out, tmp_path) == 0
    assert capsys.readouterr().out.strip() == f"{out}: all {len(texts)} {title} files present"
    assert multiway.paths == [], "a complete folder needs no network"


@pytest.mark.parametrize(
    ("dataset", "name", "bad"),
    [
        ("flores200", "amh_Ethi/test.tsv", "index_id\tcategory\ttext\n3\thealth\tበደንብ ተኛ፡\n"),  # same size
        ("ntrex128", "newstest2019-ref.amh.txt", "ሰላም።\n"),  # truncated
    ],
)
def test_a_corrupted_multiway_download_is_refused_and_leaves_no_file(
    multiway, tmp_path, capsys, dataset, name, bad
):
    multiway.put(_upstream(dataset, name), bad)
    out = tmp_path / "data" / dataset
    assert _fetch_multiway(multiway, dataset, out, tmp_path) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    good = {"flores200": _SIB, "ntrex128": _NTREX}[dataset][name].encode("utf-8")
    assert err.startswith("error: download rejected, nothing kept of that file: ")
    assert f"{name}: {len(bad.encode('utf-8'))} bytes" in err and f"expected {len(good)} bytes" in err
    assert (len(bad.encode("utf-8")) == len(good)) == (dataset == "flores200"), "one case only the sha tells"
    assert not (out / name).exists() and _parts(out) == []


@pytest.mark.parametrize("dataset", ["flores200", "ntrex128"])
def test_offline_multiway_is_one_line_naming_the_folder(tmp_path, dataset):
    # A real process; the folder from the dataset's variable (no --out), a port nobody listens on.
    out = tmp_path / "nowhere" / dataset
    variable = DATASETS[dataset].variable
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        URL_VARIABLE: f"http://127.0.0.1:{_closed_port()}/",
        variable: str(out),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "precompute.fetch_data", "--dataset", dataset, "--quiet"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    n = len(load_file_list(DATASETS[dataset].manifest))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"error: {n} {DATASETS[dataset].title} files missing and cannot reach ")
    assert f"in {out.resolve()} or set {variable} to a folder" in proc.stderr
    assert not out.exists(), "nothing is created when nothing could be fetched"


def test_all_offline_stops_after_the_first_folder_to_fill(tmp_path, monkeypatch, capsys):
    for dataset in DATASETS.values():
        monkeypatch.setenv(dataset.variable, str(tmp_path / dataset.name))
    monkeypatch.setenv(URL_VARIABLE, f"http://127.0.0.1:{_closed_port()}/")
    assert main(["--dataset", "all", "--quiet"]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and cap.err.count("\n") == 1
    assert f"in {(tmp_path / 'tatoeba').resolve()} or set CLIR_DATA_DIR" in cap.err
    assert not any(tmp_path.iterdir())


def test_all_without_a_folder_is_one_line(monkeypatch, capsys):
    monkeypatch.delenv("CLIR_FLORES200_DIR", raising=False)
    monkeypatch.setenv("CLIR_DATA_DIR", "")
    assert main(["--dataset", "all"]) == 2
    assert capsys.readouterr().err == (
        "error: no folder for tatoeba: pass --out DIR or set CLIR_DATA_DIR (see README)\n"
    )


def test_options_that_need_one_dataset_are_refused_with_all(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--dataset", "all", "--out", "x"])
    assert exc.value.code == 2 and "--dataset all takes each folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--dataset", "ntrex128", "--langs", "amh"])
    assert "--langs selects Tatoeba languages" in capsys.readouterr().err


def test_a_manifest_cannot_write_outside_the_folder(tmp_path):
    manifest = tmp_path / "m.csv"
    for file, path in (("../x.txt", "x.txt"), ("/etc/x", "x"), ("a.txt", "../a.txt")):
        manifest.write_text(f"file,path,lines,bytes,sha256\n{file},{path},1,2,ab\n", encoding="utf-8")
        with pytest.raises(DataError, match="not a path inside"):
            load_file_list(manifest)
    with pytest.raises(DataError, match="not found"):
        load_file_list(tmp_path / "none.csv")


def test_writing_a_manifest_of_an_empty_folder_is_refused(tmp_path, capsys):
    manifest = tmp_path / "m.csv"
    args = ["--dataset", "ntrex128", "--out", str(tmp_path), "--write-manifest", str(manifest)]
    assert main(args) == 2
    assert capsys.readouterr().err.startswith("error: no NTREX-128 files in ")
    assert not manifest.exists()


def _shared(dataset: str) -> Path:
    raw = os.environ.get(DATASETS[dataset].variable)
    if not raw or not Path(raw).is_dir():
        pytest.skip(f"{DATASETS[dataset].variable} is not set to the {DATASETS[dataset].title} folder")
    return Path(raw)


@pytest.mark.parametrize("dataset", ["flores200", "ntrex128"])
def test_shipped_manifest_describes_the_shared_folder(dataset):
    """Every listed file is in the shared folder with its size and SHA-256, and no file of the layout is
    left out: the manifest is exactly what ``--write-manifest`` computes from the folder."""
    folder = _shared(dataset)
    listed = load_file_list(DATASETS[dataset].manifest)
    assert listed == dataset_files(folder, DATASETS[dataset])
    assert "README.md" not in {f.file for f in listed}
    names = {f.file for f in listed}
    if dataset == "flores200":
        from core.datasets.flores import ENGLISH, SPLITS, flores_languages

        codes = [ENGLISH, *flores_languages(folder)]
        assert {f"{c}/{s}.tsv" for c in codes for s in SPLITS} | {"LICENSE"} == names  # what the loader reads
        assert DATASETS[dataset].base_url.endswith(f"/dadelani/sib-200/{SIB200_COMMIT}/")
    else:
        from core.datasets.ntrex import DOCUMENT_IDS, ENGLISH_FILE, ntrex_file, ntrex_languages

        wanted = {ntrex_file("", c).name for c in ntrex_languages(folder)} | {ENGLISH_FILE, DOCUMENT_IDS}
        assert wanted | {"LICENSE.md"} == names
        assert DATASETS[dataset].base_url.endswith(f"/MicrosoftTranslator/NTREX/{NTREX128_COMMIT}/")


def test_all_completes_every_folder_from_one_mirror_of_the_upstream_paths(
    data_dir, tmp_path, monkeypatch, capsys
):
    """``make data``'s command with the shipped manifests: the shared folders, served under their upstream
    paths, are the mirror; each local folder lacks a few files, which are fetched and verified."""
    flores, ntrex = _shared("flores200"), _shared("ntrex128")
    served = tmp_path / "served"
    (served / "data").mkdir(parents=True)
    (served / "data" / "annotated").symlink_to(flores, target_is_directory=True)
    (served / "NTREX-128").symlink_to(ntrex, target_is_directory=True)
    for name, src in (("LICENSE", flores), ("DOCUMENT_IDS.tsv", ntrex), ("LICENSE.md", ntrex)):
        (served / name).symlink_to(src / name)
    srv = _Server(served)
    try:
        gone = {
            "tatoeba": [],  # complete: nothing fetched, and its line says so
            "flores200": ["LICENSE", "swh_Latn/test.tsv", "eng_Latn/dev.tsv"],
            "ntrex128": ["DOCUMENT_IDS.tsv", "newstest2019-src.eng.txt", "newstest2019-ref.amh.txt"],
        }
        shared = {"tatoeba": data_dir, "flores200": flores, "ntrex128": ntrex}
        for name, dataset in DATASETS.items():
            out = tmp_path / "data" / name
            for f in [*shared[name].rglob("*")]:
                rel = f.relative_to(shared[name]).as_posix()
                if f.is_file() and rel not in gone[name]:  # the others are links: present, so kept
                    (out / rel).parent.mkdir(parents=True, exist_ok=True)
                    (out / rel).symlink_to(f)
            monkeypatch.setenv(dataset.variable, str(out))
        monkeypatch.setenv(URL_VARIABLE, srv.url)
        assert main(["--dataset", "all", "--quiet"]) == 0
        lines = capsys.readouterr().out.strip().splitlines()
        assert lines[0].endswith("languages present") and lines[1:] == [
            f"3 SIB-200 files fetched into {tmp_path / 'data' / 'flores200'}",
            f"3 NTREX-128 files fetched into {tmp_path / 'data' / 'ntrex128'}",
        ]
        assert len(srv.paths) == 6
        for name in ("flores200", "ntrex128"):
            for rel in gone[name]:
                got = tmp_path / "data" / name / rel
                assert not got.is_symlink() and got.read_bytes() == (shared[name] / rel).read_bytes()
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()


def test_make_exports_each_datasets_folder_as_an_absolute_path(tmp_path):
    """The Makefile's DATA, FLORES and NTREX become CLIR_DATA_DIR, CLIR_FLORES200_DIR and CLIR_NTREX128_DIR,
    absolute; unset, each defaults to its variable from the environment, else to ../shared/data/..."""
    if shutil.which("make") is None:
        pytest.skip("no make")
    show = tmp_path / "show.mk"
    show.write_text("show-data:\n\t@echo $$CLIR_DATA_DIR $$CLIR_FLORES200_DIR $$CLIR_NTREX128_DIR\n")
    env = {
        k: v for k, v in os.environ.items() if k not in {"CLIR_DATA_DIR", "CLIR_FLORES200_DIR", "MAKEFLAGS"}
    }
    env["CLIR_NTREX128_DIR"] = "/from/env/ntrex"

    def make(*args: str) -> list[str]:
        cmd = ["make", "-s", "--no-print-directory", "-f", "Makefile", "-f", str(show), "show-data", *args]
        return subprocess.run(
            cmd, cwd=REPO, env=env, capture_output=True, text=True, check=True
        ).stdout.split()

    shared = REPO.parent / "shared" / "data"
    assert make() == [str(shared / "tatoeba" / "v1"), str(shared / "sib200"), "/from/env/ntrex"]
    assert make("FLORES=rel/sib", "NTREX=/abs/nt") == [
        str(shared / "tatoeba" / "v1"),
        str(REPO / "rel" / "sib"),
        "/abs/nt",
    ]
