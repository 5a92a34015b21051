"""``python -m precompute.fetch_data --dataset NAME --out DIR``: download a dataset's missing files.

For machines with internet access (this project never commits the data). Three datasets, each from its
public repository (``--dataset all`` fetches every one into the folder its variable names, as ``make data``
does): ``tatoeba`` (the default) from LASER's repository, ``flores200`` (SIB-200's FLORES-200 sentences) and
``ntrex128`` (NTREX-128), both at a pinned commit. Files already present are kept and nothing is downloaded
when none is missing. Every download is checked (Tatoeba: both sides of a language are non-empty UTF-8 with
the same number of lines; every dataset: the size and SHA-256 its manifest in ``data/`` lists) under a
temporary name and only then renamed into place: a failed or interrupted download leaves no partial file.
When the server cannot be reached, one line says where to put the data instead.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import http.client
import io
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from core.datasets.tatoeba import tatoeba_file
from core.errors import ConfigError, DataError
from core.paths import DATA_VARIABLES, REPO_ROOT
from precompute.errors import run_cli

BASE_URL = "https://raw.githubusercontent.com/facebookresearch/LASER/main/data/tatoeba/v1/"
MANIFEST = REPO_ROOT / "data" / "tatoeba_v1_files.csv"
URL_VARIABLE = "CLIR_DATA_URL"  # another server holding the same files (a mirror; the tests' local server)
SIB200_COMMIT = "593cea88519930f776c1a4a1980b6a35b39dca57"
NTREX128_COMMIT = "8561f6a622db9edad1217683e5c83daefd8bb2bf"


@dataclass(frozen=True)
class Dataset:
    """Where one dataset comes from and where its files go.

    ``layout`` pairs a glob of the local folder with the upstream folder its matches come from: the local
    file ``amh_Ethi/test.tsv`` matching ``*/test.tsv`` is ``data/annotated/amh_Ethi/test.tsv`` upstream,
    fetched from ``base_url`` + that path. The manifest lists every file of the local folder that the
    layout matches, so it decides which files a fetch completes.
    """

    name: str
    title: str
    files: str
    base_url: str
    manifest: Path
    layout: tuple[tuple[str, str], ...]

    @property
    def variable(self) -> str:
        """The environment variable naming this dataset's folder (:data:`core.paths.DATA_VARIABLES`)."""
        return DATA_VARIABLES[self.name]


_SIB200_DATA = "data/annotated/"  # the folder of the repository that holds <code>/{train,dev,test}.tsv
DATASETS = {
    "tatoeba": Dataset(
        "tatoeba",
        "Tatoeba",
        "the Tatoeba v1 files (tatoeba.XXX-eng.XXX, tatoeba.XXX-eng.eng)",
        BASE_URL,
        MANIFEST,
        (("tatoeba.*-eng.*", ""),),
    ),
    "flores200": Dataset(
        "flores200",
        "SIB-200",
        f"the SIB-200 files (<code>/{{train,dev,test}}.tsv of github.com/dadelani/sib-200, "
        f"{_SIB200_DATA.rstrip('/')} at commit {SIB200_COMMIT[:7]})",
        f"https://raw.githubusercontent.com/dadelani/sib-200/{SIB200_COMMIT}/",
        REPO_ROOT / "data" / "sib200_files.csv",
        (
            ("*/train.tsv", _SIB200_DATA),
            ("*/dev.tsv", _SIB200_DATA),
            ("*/test.tsv", _SIB200_DATA),
            ("LICENSE", ""),
        ),
    ),
    "ntrex128": Dataset(
        "ntrex128",
        "NTREX-128",
        f"the NTREX-128 files (newstest2019-*.txt of github.com/MicrosoftTranslator/NTREX, NTREX-128, "
        f"and its DOCUMENT_IDS.tsv, at commit {NTREX128_COMMIT[:7]})",
        f"https://raw.githubusercontent.com/MicrosoftTranslator/NTREX/{NTREX128_COMMIT}/",
        REPO_ROOT / "data" / "ntrex128_files.csv",
        (
            ("newstest2019-src.eng.txt", "NTREX-128/"),
            ("newstest2019-ref.*.txt", "NTREX-128/"),  # not ref-2.spa: a second reference no loader reads
            ("DOCUMENT_IDS.tsv", ""),
            ("LICENSE.md", ""),
        ),
    ),
}


class DataUnreachable(DataError):
    """The download server cannot be reached (no network, DNS failure, refused connection, timeout)."""


@dataclass(frozen=True)
class FileFacts:
    """What the manifest records of one file: lines as the loader counts them, bytes and SHA-256."""

    lines: int
    size: int
    sha256: str


def file_facts(data: bytes, name: str = "file") -> FileFacts:
    """The facts of ``data``; lines are counted exactly as :func:`core.datasets.load_tatoeba` splits them.

    Raises:
        DataError: ``data`` is not UTF-8.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{name}: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    # newline="" is the loader's setting: \n, \r\n and a lone \r each end a line, nothing else does.
    lines = sum(1 for _ in io.StringIO(text, newline=""))
    return FileFacts(lines, len(data), hashlib.sha256(data).hexdigest())


def load_manifest(path: Path = MANIFEST) -> dict[str, FileFacts]:
    """File name -> facts from a manifest CSV (columns file, lines, bytes, sha256); {} when it is absent."""
    if not Path(path).is_file():
        return {}
    with open(path, encoding="utf-8", newline="") as fh:
        return {
            r["file"]: FileFacts(int(r["lines"]), int(r["bytes"]), r["sha256"]) for r in csv.DictReader(fh)
        }


def write_manifest(folder: Path, path: Path = MANIFEST) -> int:
    """Write the manifest of every Tatoeba file in ``folder`` (sorted by name) to ``path``; returns the count."""
    files = sorted(Path(folder).glob("tatoeba.*-eng.*"))
    with open(path, "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["file", "lines", "bytes", "sha256"])
        for f in files:
            facts = file_facts(f.read_bytes(), f.name)
            out.writerow([f.name, facts.lines, facts.size, facts.sha256])
    return len(files)


@dataclass(frozen=True)
class ListedFile:
    """One line of a SIB-200 or NTREX-128 manifest: the file's path in the local folder and upstream."""

    file: str  # relative to the dataset's folder, '/'-separated
    path: str  # relative to the upstream repository's root (and to any mirror's base URL)
    facts: FileFacts


def dataset_files(folder: Path, dataset: Dataset) -> list[ListedFile]:
    """Every file of ``folder`` that ``dataset``'s layout matches, with its upstream path and facts, sorted
    by local path (the folder's own README.md and anything else the layout does not name are left out).

    Raises:
        DataError: a matched file is not UTF-8.
    """
    found = {}
    for pattern, upstream in dataset.layout:
        for f in Path(folder).glob(pattern):
            if f.is_file():
                name = f.relative_to(folder).as_posix()
                found[name] = ListedFile(name, upstream + name, file_facts(f.read_bytes(), name))
    return [found[name] for name in sorted(found)]


def write_file_list(folder: Path, dataset: Dataset, path: Path | None = None) -> int:
    """Write the manifest of ``folder``'s files of ``dataset`` (:func:`dataset_files`) to ``path`` (default:
    the dataset's manifest in ``data/``), columns file, path, lines, bytes, sha256; returns the count.

    Raises:
        DataError: ``folder`` holds no file of ``dataset`` (nothing is written), or one is not UTF-8.
    """
    files = dataset_files(folder, dataset)
    if not files:
        raise DataError(f"no {dataset.title} files in {str(folder)!r}: no manifest written")
    with open(path or dataset.manifest, "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["file", "path", "lines", "bytes", "sha256"])
        for f in files:
            out.writerow([f.file, f.path, f.facts.lines, f.facts.size, f.facts.sha256])
    return len(files)


def load_file_list(path: Path) -> list[ListedFile]:
    """The files a SIB-200 or NTREX-128 manifest lists, in its order.

    Raises:
        DataError: the manifest is absent or malformed, or names a file outside the dataset's folder.
    """
    if not Path(path).is_file():
        raise DataError(f"manifest {path} not found: it lists the files to fetch")
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            listed = [
                ListedFile(r["file"], r["path"], FileFacts(int(r["lines"]), int(r["bytes"]), r["sha256"]))
                for r in csv.DictReader(fh)
            ]
    except (KeyError, ValueError, TypeError) as exc:
        raise DataError(f"manifest {path}: not file,path,lines,bytes,sha256 rows ({exc})") from None
    for f in listed:
        # The manifest decides where files are written: never outside the folder.
        local, upstream = Path(f.file), Path(f.path)
        if not local.parts or any(p.is_absolute() or ".." in p.parts for p in (local, upstream)):
            raise DataError(f"manifest {path}: {f.file!r} is not a path inside the dataset's folder")
    return listed


def missing_listed(out: Path, listed: Iterable[ListedFile]) -> list[ListedFile]:
    """The listed files that are absent or empty in ``out``, in order."""
    return [f for f in listed if not ((out / f.file).is_file() and (out / f.file).stat().st_size)]


def check_file(name: str, data: bytes, want: FileFacts) -> None:
    """Accept ``data`` as the file ``name`` or raise: its size and SHA-256 must be the listed ones.

    Raises:
        DataError: naming the file, what arrived and what was expected.
    """
    size, sha = len(data), hashlib.sha256(data).hexdigest()
    if size != want.size or sha != want.sha256:
        raise DataError(
            f"{name}: {size} bytes, sha256 {sha[:12]}; expected {want.size} bytes, sha256 {want.sha256[:12]}"
        )


def fetch_listed(
    out: Path,
    listed: list[ListedFile],
    *,
    base_url: str,
    title: str = "files",
    timeout: float = 10.0,
    progress: bool = True,
) -> int:
    """Download the listed files missing from ``out`` (``base_url`` + each upstream path); returns the
    number of files written.

    Guarantees: a file already present and non-empty is kept and not downloaded; a new file appears only
    after :func:`check_file` accepted it, written under a temporary name and renamed, so ``out`` never holds
    a partial or unverified download (the files accepted before a failure are kept). A progress bar over
    files, labelled ``title``, goes to stderr.

    Raises:
        DataUnreachable: the server cannot be reached (after ``timeout`` seconds at most per request).
        DataError: the server lacks a file, or a download fails :func:`check_file` (nothing of it kept).
    """
    from tqdm import tqdm

    todo = missing_listed(out, listed)
    if not todo:
        return 0
    base_url = base_url if base_url.endswith("/") else base_url + "/"
    bar = None  # opened after the first file arrived, so an unreachable server prints only its one line
    try:
        for f in todo:
            data = _download(base_url + f.path, timeout)
            check_file(f.file, data, f.facts)
            _publish({out / f.file: data})
            if bar is None:
                bar = tqdm(total=len(todo), unit="file", desc=title, file=sys.stderr, disable=not progress)
            bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return len(todo)


def missing_files(out: Path, langs: Iterable[str]) -> list[Path]:
    """The files of ``langs`` (both sides) that are absent or empty in ``out``, in order."""
    return [
        f
        for lang in langs
        for f in (tatoeba_file(out, lang, lang), tatoeba_file(out, lang, "eng"))
        if not (f.is_file() and f.stat().st_size)
    ]


def check_pair(lang: str, sides: Mapping[str, bytes], manifest: Mapping[str, FileFacts]) -> None:
    """Accept the two sides of ``lang`` (file name -> bytes) or raise naming the first problem.

    Guarantees on return: both sides are non-empty UTF-8 with the same number of lines, and each side that
    the manifest lists has exactly its recorded line count, size and SHA-256.

    Raises:
        DataError: an empty, non-UTF-8, mismatched or unlisted-size file.
    """
    facts = {}
    for name, data in sides.items():
        if not data:
            raise DataError(f"{name}: empty")
        facts[name] = got = file_facts(data, name)
        want = manifest.get(name)
        if want is not None and got != want:
            raise DataError(
                f"{name}: {got.lines} lines, {got.size} bytes, sha256 {got.sha256[:12]}; "
                f"expected {want.lines} lines, {want.size} bytes, sha256 {want.sha256[:12]}"
            )
    (a, fa), (b, fb) = facts.items()
    if fa.lines != fb.lines:
        raise DataError(f"{lang}: {a} has {fa.lines} lines but {b} has {fb.lines}")


def _download(url: str, timeout: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.read()
    except urllib.error.HTTPError as exc:
        # The server answered: the file is missing there, which is a data problem, not a network one.
        raise DataError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataUnreachable(f"cannot reach {url.rsplit('/', 1)[0]}/ ({reason})") from None
    except http.client.HTTPException as exc:
        raise DataError(f"{url}: transfer broken off ({type(exc).__name__})") from None


def fetch(
    out: Path,
    langs: list[str],
    *,
    base_url: str = BASE_URL,
    manifest: Mapping[str, FileFacts] | None = None,
    timeout: float = 10.0,
    progress: bool = True,
) -> int:
    """Download the missing sides of each language into ``out``; returns the number of files written.

    Guarantees: a file already present and non-empty is kept and not downloaded; a language's new files
    appear only after :func:`check_pair` accepted both sides, written under a temporary name and renamed, so
    ``out`` never holds a partial or unverified download. A progress bar over files goes to stderr.

    Raises:
        DataUnreachable: the server cannot be reached (after ``timeout`` seconds at most per request).
        DataError: the server lacks a file, or a downloaded pair fails :func:`check_pair` (nothing kept).
    """
    from tqdm import tqdm

    manifest = load_manifest() if manifest is None else manifest
    todo = missing_files(out, langs)
    if not todo:
        return 0
    base_url = base_url if base_url.endswith("/") else base_url + "/"
    fetched = 0
    bar = None  # opened after the first file arrived, so an unreachable server prints only its one line
    try:
        for lang in langs:
            pair = [tatoeba_file(out, lang, lang), tatoeba_file(out, lang, "eng")]
            new = [f for f in pair if f in todo]
            if not new:
                continue
            sides = {}
            for f in pair:
                if f not in new:
                    sides[f.name] = f.read_bytes()
                    continue
                sides[f.name] = _download(base_url + f.name, timeout)
                if bar is None:
                    bar = tqdm(
                        total=len(todo), unit="file", desc="Tatoeba", file=sys.stderr, disable=not progress
                    )
                bar.update(1)
            check_pair(lang, sides, manifest)
            _publish({f: sides[f.name] for f in new})
            fetched += len(new)
    finally:
        if bar is not None:
            bar.close()
    return fetched


def _publish(files: Mapping[Path, bytes]) -> None:
    """Write every file under a temporary name, then rename them all; no .part file survives a failure."""
    parts = {f: f.with_name(f.name + ".part") for f in files}
    try:
        next(iter(files)).parent.mkdir(parents=True, exist_ok=True)
        for f, part in parts.items():
            part.write_bytes(files[f])
        for f, part in parts.items():
            part.replace(f)
    finally:
        for part in parts.values():
            part.unlink(missing_ok=True)


def where_to_put(out: Path, dataset: str = "tatoeba") -> str:
    """The one line telling a user without network access where ``dataset``'s data goes."""
    ds = DATASETS[dataset]
    return f"put {ds.files} in {out.resolve()} or set {ds.variable} to a folder that holds them (see README)"


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; exit 2 with one line when the network or a file is unavailable."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--dataset",
        choices=[*DATASETS, "all"],
        default="tatoeba",
        help="which dataset (default tatoeba); all: every one, into the folders named by "
        + ", ".join(f"${d.variable}" for d in DATASETS.values()),
    )
    ap.add_argument(
        "--out", type=Path, help="the dataset's folder (default: its variable, e.g. $CLIR_DATA_DIR)"
    )
    ap.add_argument(
        "--langs",
        nargs="*",
        help="Tatoeba only: ISO 639-3 codes (default: every Tatoeba language, core.languages.tatoeba_codes)",
    )
    ap.add_argument(
        "--base-url",
        help=f"where the upstream paths are served (default: ${URL_VARIABLE}, else each dataset's repository)",
    )
    ap.add_argument(
        "--manifest", type=Path, help="the manifest to verify against (default: the one in data/)"
    )
    ap.add_argument(
        "--write-manifest",
        nargs="?",
        const=True,
        metavar="PATH",
        help="instead of fetching, write the manifest of the files in --out (to PATH, default the one in data/)",
    )
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per request before giving up")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    if args.dataset == "all" and (args.out or args.manifest or args.write_manifest):
        ap.error("--dataset all takes each folder from its variable; --out, --manifest and --write-manifest "
                 "need one dataset")  # fmt: skip
    if args.langs is not None and args.dataset != "tatoeba":
        ap.error("--langs selects Tatoeba languages: use it with --dataset tatoeba")
    names = list(DATASETS) if args.dataset == "all" else [args.dataset]
    return run_cli(
        lambda: _main(args, names),
        interrupted="the files fetched so far are kept; run again to fetch the rest",
    )


def _folder(args: argparse.Namespace, ds: Dataset) -> Path:
    if args.out is not None:
        return args.out
    raw = os.environ.get(ds.variable)
    if not raw:
        raise ConfigError(f"no folder for {ds.name}: pass --out DIR or set {ds.variable} (see README)")
    return Path(raw).expanduser()


def _main(args: argparse.Namespace, names: list[str]) -> int:
    base_url = args.base_url or os.environ.get(URL_VARIABLE)
    for name in names:
        ds = DATASETS[name]
        out = _folder(args, ds)
        if args.write_manifest:
            path = ds.manifest if args.write_manifest is True else Path(args.write_manifest)
            n = write_manifest(out, path) if name == "tatoeba" else write_file_list(out, ds, path)
            print(f"{path}: {n} files of {out}")
            continue
        if name == "tatoeba":
            from core.languages import tatoeba_codes

            rc = _fetch_cli(args, out, args.langs or tatoeba_codes(), base_url or ds.base_url)
        else:
            rc = _fetch_listed_cli(args, ds, out, base_url or ds.base_url)
        if rc:
            return rc  # one line said why; the next dataset would only repeat it
    return 0


def _fetch_cli(args: argparse.Namespace, out: Path, langs: list[str], base_url: str) -> int:
    todo = missing_files(out, langs)
    if not todo:
        print(f"{out}: all {len(langs)} languages present")
        return 0
    try:
        n = fetch(
            out,
            langs,
            base_url=base_url,
            manifest=load_manifest(args.manifest or MANIFEST),
            timeout=args.timeout,
            progress=not args.quiet,
        )
    except DataUnreachable as exc:
        print(f"error: {len(todo)} Tatoeba files missing and {exc}: {where_to_put(out)}", file=sys.stderr)
        return 2
    except DataError as exc:
        print(f"error: download rejected, nothing kept for that language: {exc}", file=sys.stderr)
        return 2
    print(f"{n} files fetched into {out}")
    return 0


def _fetch_listed_cli(args: argparse.Namespace, ds: Dataset, out: Path, base_url: str) -> int:
    listed = load_file_list(args.manifest or ds.manifest)
    todo = missing_listed(out, listed)
    if not todo:
        print(f"{out}: all {len(listed)} {ds.title} files present")
        return 0
    try:
        n = fetch_listed(
            out, listed, base_url=base_url, title=ds.title, timeout=args.timeout, progress=not args.quiet
        )
    except DataUnreachable as exc:
        print(
            f"error: {len(todo)} {ds.title} files missing and {exc}: {where_to_put(out, ds.name)}",
            file=sys.stderr,
        )
        return 2
    except DataError as exc:
        print(f"error: download rejected, nothing kept of that file: {exc}", file=sys.stderr)
        return 2
    print(f"{n} {ds.title} files fetched into {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
