"""Every page's selection lives in the URL, so a link reproduces the view it was copied from.

Pages draw their selectors through the wrappers here (:func:`selectbox`, :func:`multiselect`, :func:`radio`,
:func:`select_slider`, :func:`number`, :func:`text`) instead of ``st.*``. Each wrapper, for a widget key
such as ``curves_noise``:

* when the session has no value yet (a fresh page, an opened link), takes the URL's ``?noise=...`` if it is
  valid here, else the page's default, with a one-line notice next to the widget saying what was ignored;
* keeps the session's value while it stays valid (a language switch can invalidate an encoder list);
* writes the shown value back to the URL, so the address bar always reproduces the view.

Invalid parameters never raise. :func:`begin` / :func:`finish` (called by ``app.py`` around each page run)
drop parameters no widget of the page claimed, with a notice. Parameter values are shown only inside code
spans (never as Markdown or HTML), so a hostile link cannot inject markup.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

_CLAIMED = "_url_claimed"  # parameters the current run's widgets bound
SEP = ","  # multiselect values; option names (encoders, languages, seeds) never contain a comma


def param(key: str) -> str:
    """The URL parameter of widget ``key``: the key without its page prefix (``curves_noise`` -> ``noise``).

    Example:
        >>> param("curves_noise"), param("pq_enc_a"), param("q")
        ('noise', 'enc_a', 'q')
    """
    return key.split("_", 1)[1] if "_" in key else key


def dump(value: Any) -> str:
    """The URL form of one option: numbers in the shortest text that reads back as exactly the same number
    (``0.1``, ``3``, ``0.20000001``: never rounded, so two levels that print alike keep two links), text as is.

    Example:
        >>> dump(0.1), dump(2.0), dump(3), dump("amh"), dump(0.20000001)
        ('0.1', '2', '3', 'amh', '0.20000001')
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        value = float(value)  # numpy's float64 has another repr
        # repr() is the shortest round-tripping text; whole numbers drop their ".0" (links stay as before).
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    return str(value)


def _shown(raw: str) -> str:
    """A parameter value for a notice: in a code span, shortened, with nothing that could leave the span."""
    raw = raw.replace("`", "'").replace("\n", " ")
    return f"`{raw[:60]}{'…' if len(raw) > 60 else ''}`"


def _notice(name: str, raw: str, why: str) -> None:
    st.warning(f"Link parameter `{name}` = {_shown(raw)} ignored: {why}.", icon=":material/link_off:")


def _url(name: str) -> str | None:
    return st.query_params.get(name)


def _claim(name: str) -> None:
    st.session_state.setdefault(_CLAIMED, set()).add(name)


def _publish(name: str, value: str) -> None:
    _claim(name)
    if st.query_params.get(name) != value:
        st.query_params[name] = value


def _bind(key: str, valid: Callable[[Any], bool], from_url: Callable[[str], tuple[Any, str | None]], default):
    """Set ``st.session_state[key]`` before its widget is drawn (see the module docstring)."""
    name = param(key)
    state = st.session_state
    if key in state and valid(state[key]):
        return
    raw = _url(name) if key not in state else None
    if raw is not None:
        value, why = from_url(raw)
        if why is None:
            state[key] = value
            return
        _notice(name, raw, why)
    state[key] = default


def _same_number(raw: str, options: Sequence) -> Any:
    """The float option exactly equal to ``raw`` read as a number (``0.20`` is the level ``0.2``), else None:
    never the nearest one, so a link never opens on another level than its own."""
    try:
        value = float(raw)
    except ValueError:
        return None
    return next((o for o in options if isinstance(o, float) and float(o) == value), None)


def _pick_from(options: Sequence) -> Callable[[str], tuple[Any, str | None]]:
    by_text = {dump(o): o for o in options}

    def from_url(raw: str):
        if raw in by_text:
            return by_text[raw], None
        same = _same_number(raw, options)
        if same is not None:
            return same, None
        listed = ", ".join(list(by_text)[:8]) + (" …" if len(by_text) > 8 else "")
        return None, f"not one of the choices here ({listed})"

    return from_url


def _choice(widget, label: str, options: Sequence, key: str, default, *, last: bool = False, **kwargs) -> Any:
    """One-value widget ``widget(label, options, key=key)`` bound to the URL; ``default`` when it is not an
    option: the first option (the last with ``last``)."""
    options = list(options)
    if not options:
        return widget(label, options, key=key, **kwargs)
    fallback = default if default in options else options[-1 if last else 0]
    _bind(key, lambda v: v in options, _pick_from(options), fallback)
    value = widget(label, options, key=key, **kwargs)
    _publish(param(key), dump(value))
    return value


def selectbox(label: str, options: Sequence, key: str, default=None, **kwargs) -> Any:
    """``st.selectbox`` whose value is in the URL; ``default`` (first option when None or unavailable)."""
    return _choice(st.selectbox, label, options, key, default, **kwargs)


def radio(label: str, options: Sequence, key: str, default=None, **kwargs) -> Any:
    """``st.radio`` whose value is in the URL (as :func:`selectbox`)."""
    return _choice(st.radio, label, options, key, default, **kwargs)


def select_slider(label: str, options: Sequence, key: str, default=None, **kwargs) -> Any:
    """``st.select_slider`` whose value is in the URL; ``default`` (the last option when None)."""
    return _choice(st.select_slider, label, options, key, default, last=True, **kwargs)


def multiselect(label: str, options: Sequence, key: str, default: Sequence | None = None, **kwargs) -> list:
    """``st.multiselect`` whose values are in the URL, comma-separated. Unknown values in a link are dropped
    with a notice and the known ones kept; ``default`` (all options when None) when none is known."""
    options = list(options)
    fallback = [o for o in (options if default is None else default) if o in options]
    by_text = {dump(o): o for o in options}

    def from_url(raw: str):
        parts = [p for p in raw.split(SEP) if p] if raw else []
        unknown = [p for p in parts if p not in by_text]
        if unknown:
            _notice(param(key), SEP.join(unknown), "not available here")
        known = [by_text[p] for p in dict.fromkeys(parts) if p in by_text]
        return (known, None) if known or not parts else (None, "nothing in it is available here")

    _bind(key, lambda v: isinstance(v, list) and all(x in options for x in v), from_url, fallback)
    value = st.multiselect(label, options, key=key, **kwargs)
    _publish(param(key), SEP.join(dump(v) for v in value))
    return value


def number(label: str, key: str, low: float, high: float, default: float, *, step: float, slider: bool = False,
           **kwargs) -> float:  # fmt: skip
    """``st.slider`` (``slider=True``) or ``st.number_input`` over [``low``, ``high``] whose value is in the
    URL; integers when every bound and the step are integers."""
    integer = all(float(x).is_integer() for x in (low, high, default, step))
    cast = int if integer else float

    def from_url(raw: str):
        try:
            value = cast(float(raw)) if not integer else int(raw)
        except ValueError:
            return None, f"not a number between {dump(cast(low))} and {dump(cast(high))}"
        if not low <= value <= high:
            return None, f"outside {dump(cast(low))} to {dump(cast(high))}"
        return value, None

    def valid(v) -> bool:
        return isinstance(v, (int, float)) and low <= v <= high

    _bind(key, valid, from_url, cast(default))
    widget = st.slider if slider else st.number_input
    value = widget(label, cast(low), cast(high), step=cast(step), key=key, **kwargs)
    _publish(param(key), dump(value))
    return value


def text(label: str, key: str, default: str = "", *, check: Callable[[str], str | None] | None = None,
         **kwargs) -> str:  # fmt: skip
    """``st.text_input`` (single line: Enter submits) whose text is in the URL; a linked text that
    ``check`` refuses (returns a reason) is dropped with that reason."""

    def from_url(raw: str):
        why = check(raw) if check and raw else None
        return (None, why.rstrip(".")) if why else (raw, None)

    _bind(key, lambda v: isinstance(v, str), from_url, default)
    value = st.text_input(label, key=key, **kwargs)
    if value:
        _publish(param(key), value)
    else:  # an empty box leaves no parameter behind
        _claim(param(key))
        if param(key) in st.query_params:
            del st.query_params[param(key)]
    return value


def keep(*keys: str) -> None:
    """Keep the URL parameters of widgets ``keys`` that this run does not draw (a panel shown only for some
    selections, e.g. multi-way data): switching back restores their values, and :func:`finish` neither drops
    them nor says they were ignored (the user switched the selection; nothing in a link was wrong)."""
    for key in keys:
        _claim(param(key))


def begin() -> None:
    """Start a page run: no parameter is claimed yet."""
    st.session_state[_CLAIMED] = set()


def finish() -> None:
    """End a page run: drop URL parameters that no widget of the page claimed, with one notice."""
    claimed = st.session_state.get(_CLAIMED, set())
    extra = [k for k in st.query_params if k not in claimed]
    if not extra:
        return
    for k in extra:
        del st.query_params[k]
    st.warning(f"Link parameter(s) {', '.join(_shown(k) for k in extra[:6])} ignored: not used on this page.",
               icon=":material/link_off:")  # fmt: skip


def link(page: str, **selection) -> str:
    """A relative link to ``page`` (its ``url_path``) with ``selection`` as the widgets' parameters; lists
    are comma-joined, values in :func:`dump`'s form, everything percent-encoded.

    Example:
        >>> link("curves", noise="substitute", encoders=["e5-small", "muse3"], level=0.2)
        'curves?noise=substitute&encoders=e5-small%2Cmuse3&level=0.2'
    """
    from urllib.parse import urlencode

    query = {
        k: SEP.join(dump(x) for x in v) if isinstance(v, (list, tuple)) else dump(v)
        for k, v in selection.items()
        if v is not None
    }
    return f"{page}?{urlencode(query)}" if query else page
