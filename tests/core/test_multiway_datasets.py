"""FLORES-200 (SIB-200 layout) and NTREX-128 loaders on hand-written files, and the real folders' shape."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from core.datasets import (
    available_languages,
    build_tasks,
    check_dataset_options,
    is_multiway,
    load_bitexts,
    load_tasks,
)
from core.datasets.codes import iso639_3, noise_language, same_language, split_code
from core.errors import ConfigError, DataError, UnknownNameError

HEADER = "index_id\tcategory\ttext"
# index_id -> (English, Xhosa-ish, Amharic-ish). 7 and 3 share an English sentence; 12 holds quote characters.
SENTENCES = {
    3: ("It rained.", "Kwanetha.", "ዘነበ።"),
    7: ("It rained.", "Yanetha imvula.", "ዝናብ ዘነበ።"),
    12: ('He said "no" twice.', 'Wathi "hayi" kabini.', 'ሁለት ጊዜ "አይ" አለ።'),
    20: ("The river is wide.", "Umlambo ubanzi.", "ወንዙ ሰፊ ነው።"),
    31: ("Birds sing at dawn.", "Iintaka ziyacula kusasa.", "ወፎች ጎህ ሲቀድ ይዘምራሉ።"),
}
SPLIT_OF = {3: "train", 7: "dev", 12: "train", 20: "test", 31: "test"}


def write_flores(root: Path) -> Path:
    """Three languages: English (CRLF), xho_Latn (a BOM and an empty line), amh_Ethi (rows out of order)."""
    for code, col in (("eng_Latn", 0), ("xho_Latn", 1), ("amh_Ethi", 2)):
        folder = root / code
        folder.mkdir(parents=True)
        for split in ("train", "dev", "test"):
            ids = [i for i in SENTENCES if SPLIT_OF[i] == split]
            if code == "amh_Ethi":
                ids = ids[::-1]
            rows = [HEADER] + [f"{i}\ttopic\t{SENTENCES[i][col]}" for i in ids]
            if code == "xho_Latn":
                rows.insert(1, "")
            end = "\r\n" if code == "eng_Latn" else "\n"
            text = end.join(rows) + end
            if code == "xho_Latn" and split == "train":
                text = "\ufeff" + text
            (folder / f"{split}.tsv").write_bytes(text.encode("utf-8"))
    return root


ENGLISH = ["It rained.", 'He said "no".', "It rained.", "Markets fell.", "", "Stocks recovered later."]
DOCS = ["d1", "d1", "d1", "d2", "d2", "d2"]
AMH = ["ዘነበ።", '"አይ" አለ።', "ዝናብ ዘነበ።", "ገበያዎች ወደቁ።", "ባዶ", "አክሲዮኖች ተመለሱ።"]
AZE = ["Yağış yağdı.", '"Yox" dedi.', "Yenə yağdı.", "", "Boş.", "Səhmlər bərpa olundu."]


def write_ntrex(root: Path) -> Path:
    """English with CRLF and an empty line 4; amh with a BOM; aze-Latn with an empty translation at line 3."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "newstest2019-src.eng.txt").write_bytes(("\r\n".join(ENGLISH) + "\r\n").encode())
    (root / "newstest2019-ref.amh.txt").write_bytes(("\ufeff" + "\n".join(AMH) + "\n").encode())
    (root / "newstest2019-ref.aze-Latn.txt").write_bytes(("\n".join(AZE) + "\n").encode())
    (root / "DOCUMENT_IDS.tsv").write_text("\n".join(DOCS) + "\n", encoding="utf-8")
    (root / "newstest2019-ref-2.spa.txt").write_text("x\n" * 6, encoding="utf-8")  # not a language
    return root


# ------------------------------------------------------------------------------------------------ codes


def test_codes_name_language_and_script():
    assert split_code("amh_Ethi") == ("amh", "Ethi") and split_code("srp-Cyrl") == ("srp", "Cyrl")
    assert split_code("zho-TW") == ("zho", "Hant") and split_code("fra-CA") == ("fra", None)
    assert iso639_3("tat") == "tat"
    for bad in ("", "AMH", "amh_", "am", "amh_Ethi_x", None):
        with pytest.raises(ValueError):
            split_code(bad)
    # Tatoeba's codes keep their own tables; FLORES' individual codes find their macrolanguage's.
    assert noise_language("swh") == "swh" and noise_language("swh_Latn") == "swh"
    assert noise_language("arb_Arab") == "ara" and noise_language("zzz_Latn") == "zzz"
    assert same_language("arb_Arab", {"ara"}) and same_language("fas", {"pes"})
    assert not same_language("amh_Ethi", {"tir", "eng"})


def test_multiway_names():
    assert is_multiway("flores200") and is_multiway("flores200-test") and is_multiway("ntrex128")
    assert not is_multiway("tatoeba") and not is_multiway("generic")


# --------------------------------------------------------------------------------------------- FLORES


def test_flores_loader_reads_every_quirk(tmp_path):
    root = write_flores(tmp_path / "f")
    assert available_languages("flores200", root) == ["amh_Ethi", "xho_Latn"]
    bts = load_bitexts("flores200", ["xho_Latn", "amh_Ethi"], root)
    ids = sorted(SENTENCES)
    for code, col in (("xho_Latn", 1), ("amh_Ethi", 2)):
        bt = bts[code]
        assert bt.dataset == "flores200" and bt.qids == tuple(ids)
        assert bt.queries == tuple(SENTENCES[i][col] for i in ids)
        assert bt.documents == tuple(SENTENCES[i][0] for i in ids)
    assert bts["xho_Latn"].queries[2] == 'Wathi "hayi" kabini.'  # quotes are text, not quoting


def test_flores_pair_shares_one_english_corpus(tmp_path):
    root = write_flores(tmp_path / "f")
    tasks = load_tasks("flores200", ["xho_Latn", "amh_Ethi"], ["pair"], root)
    assert [t.lang for t in tasks] == ["amh_Ethi", "xho_Latn"]
    assert tasks[0].corpus is tasks[1].corpus and tasks[0].corpus.corpus_id == "flores200/pair/eng"
    # The duplicate English sentence (ids 3 and 7) is one document, the gold of both queries.
    assert tasks[0].corpus.documents == ("It rained.", 'He said "no" twice.', "The river is wide.",
                                         "Birds sing at dawn.")  # fmt: skip
    assert tasks[0].gold.tolist() == [0, 0, 1, 2, 3] and tasks[0].qids.tolist() == [3, 7, 12, 20, 31]
    short = load_tasks("flores200", ["xho_Latn"], ["pair"], root, max_queries=2)[0]
    assert short.qids.tolist() == [3, 7] and short.n_docs == 4  # the corpus keeps every document


def test_flores_split_is_its_own_dataset(tmp_path):
    root = write_flores(tmp_path / "f")
    (t,) = load_tasks("flores200", ["amh_Ethi"], ["pair"], root, split="test")
    assert t.dataset == "flores200-test" and t.corpus.corpus_id == "flores200-test/pair/eng"
    assert t.qids.tolist() == [20, 31] and t.corpus.documents == ("The river is wide.", "Birds sing at dawn.")
    with pytest.raises(UnknownNameError, match="split"):
        load_tasks("flores200", ["amh_Ethi"], ["pair"], root, split="nope")


def test_flores_bad_files(tmp_path):
    root = write_flores(tmp_path / "f")
    with pytest.raises(UnknownNameError, match="xho_Latn"):
        load_bitexts("flores200", ["zzz_Latn"], root)
    with pytest.raises(UnknownNameError):
        load_bitexts("flores200", ["eng_Latn"], root)  # the English side is not a query language
    dev = root / "amh_Ethi" / "dev.tsv"
    dev.write_text(HEADER + "\n", encoding="utf-8")  # a sentence missing: a different count than English
    with pytest.raises(DataError, match=r"amh_Ethi: 4 sentences where English \(eng_Latn\) has 5"):
        load_bitexts("flores200", ["amh_Ethi"], root)
    dev.write_text(HEADER + "\n7\tt\tx\n7\tt\ty\n", encoding="utf-8")
    with pytest.raises(DataError, match="index_id 7 appears twice"):
        load_bitexts("flores200", ["amh_Ethi"], root)
    dev.write_text(HEADER + "\n7\tx\n", encoding="utf-8")
    with pytest.raises(DataError, match="dev.tsv:2: 2 tab-separated fields"):
        load_bitexts("flores200", ["amh_Ethi"], root)
    dev.unlink()
    with pytest.raises(DataError, match="dev.tsv is missing"):
        load_bitexts("flores200", ["amh_Ethi"], root)


# --------------------------------------------------------------------------------------------- NTREX


def test_ntrex_loader_keeps_line_numbers(tmp_path):
    root = write_ntrex(tmp_path / "n")
    assert available_languages("ntrex128", root) == ["amh", "aze-Latn"]
    bts = load_bitexts("ntrex128", ["amh", "aze-Latn"], root)
    # English line 4 is empty: no language has a query there; aze-Latn's line 3 is empty too.
    assert bts["amh"].qids == (0, 1, 2, 3, 5) and bts["aze-Latn"].qids == (0, 1, 2, 5)
    assert bts["amh"].queries[0] == "ዘነበ።"  # the BOM is gone
    assert bts["aze-Latn"].queries[1] == '"Yox" dedi.'
    assert bts["amh"].doc_ids == ("d1", "d1", "d1", "d2", "d2")


def test_ntrex_pair_and_document_tasks(tmp_path):
    root = write_ntrex(tmp_path / "n")
    tasks = load_tasks("ntrex128", ["amh", "aze-Latn"], ["pair", "document"], root)
    pair = [t for t in tasks if t.mode == "pair"]
    doc = [t for t in tasks if t.mode == "document"]
    assert pair[0].corpus is pair[1].corpus and pair[0].corpus.corpus_id == "ntrex128/pair/eng"
    assert pair[0].corpus.documents == (
        "It rained.",
        'He said "no".',
        "Markets fell.",
        "Stocks recovered later.",
    )
    assert pair[0].gold.tolist() == [0, 1, 0, 2, 3]
    assert doc[0].corpus.corpus_id == "ntrex128/document/eng" and doc[0].n_docs == 2
    assert doc[0].corpus.documents == (
        'It rained. He said "no". It rained.',
        "Markets fell. Stocks recovered later.",
    )
    assert doc[0].corpus.segments[1] == ("Markets fell.", "Stocks recovered later.")
    assert doc[0].gold.tolist() == [0, 0, 0, 1, 1] and doc[1].gold.tolist() == [0, 0, 0, 1]


def test_ntrex_bad_files(tmp_path):
    root = write_ntrex(tmp_path / "n")
    (root / "newstest2019-ref.amh.txt").write_text("one\ntwo\n", encoding="utf-8")
    with pytest.raises(DataError, match="has 2 lines where newstest2019-src.eng.txt has 6"):
        load_bitexts("ntrex128", ["amh"], root)
    (root / "DOCUMENT_IDS.tsv").write_text("d1\nd2\nd1\nd1\nd1\nd1\n", encoding="utf-8")
    with pytest.raises(DataError, match="not contiguous"):
        load_tasks("ntrex128", ["aze-Latn"], ["document"], root)
    with pytest.raises(UnknownNameError, match="aze-Latn"):
        load_bitexts("ntrex128", ["spa"], root)


def test_options_refused_before_reading(tmp_path):
    with pytest.raises(ConfigError, match="mode 'document' needs a dataset with documents"):
        check_dataset_options("flores200", ["document"])
    with pytest.raises(ConfigError, match="'pooled' on ntrex128 is 'pair'"):
        check_dataset_options("ntrex128", ["pooled"])
    with pytest.raises(ConfigError, match="tatoeba has no splits"):
        check_dataset_options("tatoeba", ["pair"], "test")
    with pytest.raises(UnknownNameError, match="mode"):
        check_dataset_options("tatoeba", ["nope"])
    with pytest.raises(DataError, match="needs a dataset with documents"):
        build_tasks(load_bitexts("generic", ["xx"], _generic(tmp_path)), "document")


def _generic(tmp_path: Path) -> Path:
    (tmp_path / "xx.tsv").write_text("query\tdocument\na\tb\n", encoding="utf-8")
    return tmp_path


# ----------------------------------------------------------------------------------- the real folders


def _real(var: str) -> Path:
    raw = os.environ.get(var)
    if not raw or not Path(raw).is_dir():
        pytest.skip(f"{var} is not set to the shared data folder")
    return Path(raw)


def test_real_flores_is_multiway():
    root = _real("CLIR_FLORES200_DIR")
    langs = available_languages("flores200", root)
    assert len(langs) >= 180 and "amh_Ethi" in langs and "eng_Latn" not in langs
    bts = load_bitexts("flores200", ["amh_Ethi", "tel_Telu"], root)
    assert len(bts["amh_Ethi"]) == 1004 and bts["amh_Ethi"].documents == bts["tel_Telu"].documents
    assert len(load_bitexts("flores200", ["amh_Ethi"], root, split="test")["amh_Ethi"]) == 204


def test_real_ntrex_documents():
    root = _real("CLIR_NTREX128_DIR")
    assert len(available_languages("ntrex128", root)) >= 110
    tasks = load_tasks("ntrex128", ["amh"], ["pair", "document"], root)
    assert [len(t.queries) for t in tasks] == [1997, 1997] and tasks[1].n_docs == 123
    assert np.bincount(tasks[1].gold).min() >= 1  # every document is some query's gold
