"""Widgets shared by the pages: database guard, language metadata, caveats and the edit highlighter.

Text from the data or from a user is only ever put into HTML after :func:`html.escape` (see
:func:`highlight_edits`), so a query holding ``<script>`` is shown as those characters.
"""

from __future__ import annotations

import contextlib
import functools
import html
import json
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pandas as pd
import streamlit as st

from core.conditions import CLEAN_NOISE
from core.errors import ClirError, user_message
from core.languages import load_languages, resource_class_label
from dashboard import data
from dashboard import url_state as url

CAVEATS = (
    "**Data caveats.** Tatoeba's English sides differ per language (each language has its own set of "
    "English sentences, of different length and difficulty), so comparisons of absolute scores *across* "
    "languages are indicative only; compare encoders within a language. Several low-resource languages "
    "have few queries (see *n*), so their intervals are wide."
)
# Markdown-active characters encoded as entities, so escaped text cannot turn into emphasis, links or math.
# One pass over the text, so the entities themselves are never re-escaped.
_ENTITIES = str.maketrans({c: f"&#{ord(c)};" for c in "&<>\"'*_`[]()#$\\~|!{}"})
# What GFM turns into a link without any bracket: "scheme://", "www." and "name@host" (autolink literals).
# Only the character that triggers each is encoded, so ordinary text keeps its ":" "." and " @ ".
_AUTOLINK = re.compile(r"(?<=:)/|(?<=www)\.|(?<=[\w.+-])@", re.IGNORECASE)
_LINE_END = re.compile(r"\r\n?|\n")


def one_line_errors(page: Callable[[], None]) -> Callable[[], None]:
    """Wrap a page's ``main`` so that any failure a user can cause (a locked, missing, foreign or damaged
    database, a full disk) is one warning line on the page, never a traceback or a source path; bugs still
    raise."""

    @functools.wraps(page)
    def run() -> None:
        try:
            page()
        except Exception as exc:
            message = user_message(exc)
            if message is None:
                raise
            st.warning(safe(message))  # it may quote a file name, a language code or a text of the data

    return run


def guard() -> bool:
    """Show a helpful message and return False when the database cannot be shown yet."""
    state = data.db_state()
    if not state.ok:
        (st.warning if state.level == "warning" else st.info)(state.message)
    return state.ok


def lang_name(code: str) -> str:
    """``"Amharic (amh)"``, or the bare code for a language outside the registry."""
    try:
        lang = load_languages().get(code)
    except ClirError:
        lang = None
    return lang.label if lang else code


UNKNOWN_CLASS = "unknown resource class"


def resource_class(code: str) -> str:
    """Joshi et al. class label of ``code``: ``"unclassified"`` for a language ``data/languages.csv`` lists
    without a class, ``"unknown resource class"`` for one it does not list (a generic dataset's codes; the
    research answer's ``unknown`` group, :func:`core.research.resource_groups`)."""
    try:
        lang = load_languages().get(code)
    except ClirError:
        return UNKNOWN_CLASS
    return resource_class_label(lang.resource_class) if lang else UNKNOWN_CLASS


def scripts(langs: Iterable[str]) -> dict[str, str]:
    """Language -> its ISO 15924 script (``data/languages.csv``, else the code's own script tag as in
    ``amh_Ethi``; ``""`` when neither says), in ``langs``' order (:func:`core.research.language_meta`)."""
    from core.research import language_meta

    langs = list(langs)
    try:
        meta = language_meta(langs)
    except ClirError:
        return dict.fromkeys(langs, "")
    return {lang: meta[lang][0] for lang in langs}


def language_table(langs: Iterable[str]) -> pd.DataFrame:
    """Metadata of ``langs``: name, script, resource class, n queries, and per encoder seen-in-training."""
    langs = list(langs)
    try:
        registry = load_languages()
    except ClirError:
        registry = {}
    cond = data.read("conditions")
    n = cond[cond["noise"] == CLEAN_NOISE].groupby("lang")["n_queries"].max()
    rows = []
    for code in langs:
        lang = registry.get(code)
        rows.append({
            "code": code, "language": lang.name if lang else code, "script": lang.script if lang else "",
            "resource class": resource_class(code), "n queries": int(n.get(code, 0)),
        })  # fmt: skip
    out = pd.DataFrame(rows)
    seen = data.read("encoder_languages")
    for enc, part in seen.groupby("encoder"):
        m = dict(zip(part["lang"], part["seen_in_training"]))
        out[f"seen by {enc}"] = [
            "unknown" if pd.isna(m.get(c)) else ("yes" if m.get(c) else "no") for c in langs
        ]
    return out


@contextlib.contextmanager
def lazy_expander(label: str, key: str, *, expanded: bool = False) -> Iterator[bool]:
    """An expander that tracks whether it is open (toggling it reruns the page); yields that state, so the
    caller builds heavy content only while it is open. Why: Streamlit sends a collapsed expander's content
    anyway, and the browser builds it on every page load (a full study's 112-language table alone cost
    about a second of a page's first paint, measured)."""
    box = st.expander(label, expanded=expanded, key=key, on_change="rerun")
    with box:
        yield bool(box.open)


def language_expander(langs: Iterable[str], *, expanded: bool = False) -> None:
    """The metadata table of ``langs`` and the data caveats, in an expander (the table built when open)."""
    with lazy_expander("Languages and data caveats", "languages_expander", expanded=expanded) as open_:
        if open_:
            st.dataframe(language_table(langs), hide_index=True, width="stretch")
        st.markdown(CAVEATS)


def dataset_name(dataset: str) -> str:
    """How a dataset selector names a stored dataset: ``"FLORES-200 (flores200)"``, the stored name alone
    when it has no display name (:func:`core.research.dataset_title`)."""
    from core.research import dataset_title

    title = dataset_title(dataset)
    return title if title == dataset else f"{title} ({dataset})"


def dataset_mode(prefix: str, cond: pd.DataFrame) -> tuple[str, str]:
    """Dataset and mode selectors (a selector is hidden when there is one choice). The URL keeps the stored
    names (``dataset=flores200``); the selector shows their display names."""
    datasets = sorted(cond["dataset"].unique())
    dataset = (
        datasets[0]
        if len(datasets) == 1
        else url.selectbox("Dataset", datasets, key=f"{prefix}_dataset", format_func=dataset_name)
    )
    modes = sorted(cond.loc[cond["dataset"] == dataset, "mode"].unique())
    mode = url.selectbox(
        "Mode",
        modes,
        key=f"{prefix}_mode",
        help="pair: each language's queries against its own English sentences (on multi-way data, the one "
        "English side every language shares); pooled: against the union of all languages' English sentences "
        "(harder, more distractors); document: against whole English news documents (NTREX-128).",
    )
    return dataset, mode


def corpus_select(prefix: str, sel: pd.DataFrame) -> str | None:
    """The pooled corpus to show when ``sel`` (conditions of one dataset and mode) holds several.

    Pooled grids of different language sets are different experiments: their rows are never shown
    together. Returns None when there is nothing to choose (pair mode, or one pooled corpus).
    """
    if sel.empty or (sel["mode"] != "pooled").all() or sel["corpus"].nunique() < 2:
        return None
    langs = sel.groupby("corpus")["lang"].agg(lambda s: ", ".join(sorted(s.unique())))
    corpora = sorted(langs.index)
    return url.selectbox(
        "Pooled language set", corpora, key=f"{prefix}_corpus",
        format_func=lambda c: f"{langs[c]} ({c.rsplit('/', 1)[-1]})",
        help="Each pooled grid ranks against the English sides of its own languages: different language "
        "sets are different corpora and are never averaged together.",
    )  # fmt: skip


def language_select(
    prefix: str, sel: pd.DataFrame, label: str = "Language", prefer: str | None = None
) -> str:
    """Language selector over the languages of ``sel`` (named, with ``prefer`` preselected when present)."""
    langs = sorted(sel["lang"].unique())
    return url.selectbox(label, langs, key=f"{prefix}_lang", default=prefer, format_func=lang_name)


def safe(text: object) -> str:
    """``text`` escaped for HTML and neutralised for Markdown; line breaks kept (as ``<br>``).

    The one escaping helper of the dashboard: every string that comes from the data, the database, a link
    or the user (language codes, encoder and noise names, query text, file paths, error messages that quote
    them) goes through it before it is put into a message, caption, heading, Markdown table, widget label or
    HTML, so it is shown as the characters it holds and can never become emphasis, a link, an image, math,
    a heading, a list or markup.

    Example:
        >>> safe("**bold**[x](http://e.vil)")
        '&#42;&#42;bold&#42;&#42;&#91;x&#93;&#40;http:&#47;/e.vil&#41;'
    """
    text = _AUTOLINK.sub(lambda m: f"&#{ord(m.group())};", str(text).translate(_ENTITIES))
    if text[:1] in ("-", "+"):  # a list item or a rule when it starts a message
        text = f"&#{ord(text[0])};{text[1:]}"
    return _LINE_END.sub("<br>", text)


def parse_edits(edits) -> list[dict]:
    """Edits as dicts from a JSON string, a list of dicts or of :class:`core.noise.Edit`; bad input -> []."""
    if isinstance(edits, str):
        try:
            edits = json.loads(edits)
        except ValueError:
            return []
    out = []
    for e in edits or []:
        d = e.to_dict() if hasattr(e, "to_dict") else e
        if isinstance(d, dict) and {"start", "end", "new"} <= set(d):
            out.append(d)
    return sorted(out, key=lambda d: (d["start"], d["end"]))


_DEL = "background:#fbd5d5;color:#7a1010;text-decoration:line-through;border-radius:3px;padding:0 1px"
_INS = "background:#c9f2d4;color:#0c5a23;border-radius:3px;padding:0 1px;font-weight:600"
_BOX = (
    "font-size:1.15rem;line-height:1.9;padding:.35rem .6rem;border:1px solid rgba(128,128,128,.35);"
    "border-radius:6px;margin:.15rem 0 .5rem 0;white-space:pre-wrap;unicode-bidi:plaintext"
)


def highlight_edits(original: str, edits) -> tuple[str, str]:
    """HTML of the original (edited spans struck through) and of the noisy text (replacements marked).

    Every piece of text is escaped; only the wrapping ``<span>`` tags are markup. Edits are in the
    original's code-point offsets (see :class:`core.noise.Edit`); the noisy side is rebuilt from them, so it
    equals ``replay(original, edits)``.
    """
    edits = parse_edits(edits)
    a, b, pos = [], [], 0
    for e in edits:
        start, end = int(e["start"]), int(e["end"])
        if start < pos or end > len(original):
            continue  # malformed or overlapping: skip rather than mis-highlight
        a.append(safe(original[pos:start]))
        b.append(safe(original[pos:start]))
        old, new, op = original[start:end], str(e.get("new", "")), e.get("op", "")
        if old:
            a.append(f'<span style="{_DEL}" title="{html.escape(op)}">{safe(old)}</span>')
        if new:
            b.append(f'<span style="{_INS}" title="{html.escape(op)}">{safe(new)}</span>')
        elif op == "delete":
            b.append(f'<span style="{_INS}" title="deleted">&#8248;</span>')
        pos = end
    a.append(safe(original[pos:]))
    b.append(safe(original[pos:]))
    return "".join(a), "".join(b)


def show_edits(original: str, edits, *, noisy_label: str = "Noisy", cer: float | None = None) -> None:
    """Render the clean and the noisy query one above the other with the edits highlighted."""
    clean_html, noisy_html = highlight_edits(original, edits)
    n = len(parse_edits(edits))
    extra = f" &middot; CER {cer:.3f}" if cer is not None else ""
    st.html(
        f'<div style="font-size:.85rem;opacity:.7">Clean</div><div dir="auto" style="{_BOX}">{clean_html}</div>'
        f'<div style="font-size:.85rem;opacity:.7">{html.escape(noisy_label)} &middot; {n} edit(s){extra}'
        f'</div><div dir="auto" style="{_BOX}">{noisy_html}</div>'
    )


def text_box(label: str, text: str) -> None:
    """One escaped text in a bordered box (e.g. a gold document)."""
    st.html(
        f'<div style="font-size:.85rem;opacity:.7">{html.escape(label)}</div>'
        f'<div dir="auto" style="{_BOX}">{safe(text)}</div>'
    )


def chart_downloads(fig, stem: str, key: str, *, width: int = 1200, height: int = 700) -> None:
    """PNG and SVG buttons for ``fig`` (a plotly figure, or a function returning one: built only on a click);
    the image is rendered only when a button is clicked, through the system Chromium
    (:func:`dashboard.export.figure_image`). Disabled, with the reason, when Chromium is missing."""
    from dashboard.export.image import CHROMIUM, NEEDS_CHROMIUM, figure_image

    def image(fmt: str, scale: float) -> bytes:
        return figure_image(fig() if callable(fig) else fig, fmt, width, height, scale)

    ready = Path(CHROMIUM).is_file()
    row = st.container(horizontal=True)  # buttons side by side at their own width, even in a narrow column
    for fmt, mime, scale in (("png", "image/png", 2.0), ("svg", "image/svg+xml", 1.0)):
        row.download_button(
            f"{fmt.upper()}", data=lambda fmt=fmt, scale=scale: image(fmt, scale),
            file_name=f"{stem}.{fmt}", mime=mime, key=f"{key}_{fmt}", on_click="ignore", disabled=not ready,
            icon=":material/download:", help=f"Download this chart as {fmt.upper()}" if ready else NEEDS_CHROMIUM,
        )  # fmt: skip


def table_downloads(table: pd.DataFrame, stem: str, key: str, caption: str | None = None) -> None:
    """CSV and LaTeX (booktabs) buttons for ``table``, as shown on the page."""
    from dashboard.export import table_csv, table_latex

    row = st.container(horizontal=True)
    row.download_button("CSV", table_csv(table), file_name=f"{stem}.csv", mime="text/csv",
                            key=f"{key}_csv", on_click="ignore", icon=":material/download:")  # fmt: skip
    row.download_button("LaTeX", table_latex(table, caption=caption), file_name=f"{stem}.tex",
                            mime="text/x-tex", key=f"{key}_tex", on_click="ignore", icon=":material/download:",
                            help="A booktabs table; needs \\usepackage{booktabs,amssymb}.")  # fmt: skip
