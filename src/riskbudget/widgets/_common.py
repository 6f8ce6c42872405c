"""Shared pieces of the explorers: the off-screen chart, axis helpers, HTML and the explorer base."""

from __future__ import annotations

import html
import io
import logging
import math
from collections.abc import Callable
from typing import Any

import ipywidgets as W
import numpy as np
import traitlets
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter, NullLocator

from .. import metrics
from .._parse import MONEY_EXAMPLES, parse_money, parse_number
from ..exceptions import RiskBudgetError
from ..formatting import money
from ..simulation import ALE_RSE_LIMIT

# The package's name, as when the explorers were one module.
log = logging.getLogger("riskbudget.widgets")

#: Colours shared by the explorers' charts.
NOW, BEFORE, LIMIT = "#1f77b4", "#9a9a9a", "#d62728"


# --------------------------------------------------------------------------- #
# Shared pieces
# --------------------------------------------------------------------------- #
class _Chart:
    """A matplotlib figure drawn off-screen into an ``ipywidgets.Image``.

    The axes, ticks, grid, titles and legends are drawn once and kept as a
    background; the artists registered with :meth:`animate` (the curves that
    move) are drawn on top of it at each refresh (blitting). Changing the
    limits or a title through :meth:`set_limits` / :meth:`set_title` redraws
    the background. A refresh then costs a few milliseconds instead of a full
    draw, and the image is a pure function of the artists' data and limits.
    """

    def __init__(self, width: float, height: float, *, ncols: int = 1, dpi: int = 80) -> None:
        self.figure = Figure(figsize=(width, height), dpi=dpi)
        FigureCanvasAgg(self.figure)
        self.axes = [self.figure.add_subplot(1, ncols, i + 1) for i in range(ncols)]
        # Fixed margins in inches: a layout engine would cost more than the drawing.
        self.figure.subplots_adjust(
            left=0.8 / width, right=1 - 0.3 / width, bottom=0.45 / height, top=1 - 0.35 / height,
            wspace=0.9 * ncols / width if ncols > 1 else 0.2,
        )
        self.image = W.Image(format="png", layout=W.Layout(width="100%", max_width=f"{int(width * dpi)}px", height="auto"))
        self.image.add_class("rb-chart")
        self._dynamic: list[Any] = []
        self._background: Any = None

    def animate(self, *artists: Any) -> None:
        """Register artists whose data change at each refresh."""
        for a in artists:
            a.set_animated(True)
            self._dynamic.append(a)

    def reset(self, ax: Any) -> None:
        """Clear an axes (and forget its animated artists) before building it again."""
        self._dynamic = [a for a in self._dynamic if a.axes is not ax]
        ax.clear()
        self._background = None

    def invalidate(self) -> None:
        self._background = None

    def set_limits(self, ax: Any, *, x: tuple[float, float] | None = None, y: tuple[float, float] | None = None) -> None:
        if x is not None and tuple(ax.get_xlim()) != tuple(x):
            ax.set_xlim(*x)
            self._background = None
        if y is not None and tuple(ax.get_ylim()) != tuple(y):
            ax.set_ylim(*y)
            self._background = None

    def set_title(self, ax: Any, text: str, **kwargs: Any) -> None:
        if ax.get_title() != text:
            ax.set_title(text, **kwargs)
            self._background = None

    def refresh(self) -> None:
        from PIL import Image

        canvas: Any = self.figure.canvas  # a FigureCanvasAgg (blitting and the RGBA buffer)
        if self._background is None:
            canvas.draw()  # animated artists are left out of the background
            self._background = canvas.copy_from_bbox(self.figure.bbox)
        else:
            canvas.restore_region(self._background)
        for a in self._dynamic:
            self.figure.draw_artist(a)
        w, h = canvas.get_width_height()
        img = Image.frombuffer("RGBA", (w, h), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        buf = io.BytesIO()
        img.save(buf, format="PNG", compress_level=1)
        self.image.value = buf.getvalue()


def _nice_top(x: float, steps: tuple[float, ...] = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)) -> float:
    """The smallest "nice" number (1, 1.5, 2, 2.5, ... times a power of ten) at or above ``x`` > 0.

    Axis limits rounded this way change only when the data cross a step, so
    most updates keep the background and the view stays a function of the data.
    """
    if not (x > 0 and math.isfinite(x)):
        return 1.0
    scale = 10.0 ** math.floor(math.log10(x))
    for s in steps:
        if s * scale >= x * (1 - 1e-12):
            return s * scale
    return 10.0 * scale


def _nice_range(values: Any, pad: float = 0.08) -> tuple[float, float]:
    """Limits covering ``values`` with a margin, rounded outwards to a step of the span's order."""
    v = np.asarray([x for x in np.ravel(values) if np.isfinite(x)], dtype=float)
    if v.size == 0:
        return (0.0, 1.0)
    lo, hi = float(v.min()), float(v.max())
    span = hi - lo if hi > lo else (abs(hi) or 1.0)
    step = 10.0 ** math.floor(math.log10(span)) / 2.0
    return (math.floor((lo - pad * span) / step) * step, math.ceil((hi + pad * span) / step) * step)


def _money_log_axis(ax: Any, axis: str = "x") -> None:
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_formatter(FuncFormatter(lambda v, _pos: money(v, digits=2)))
    target.set_minor_formatter(NullFormatter())
    target.set_minor_locator(NullLocator())  # minor ticks of a log axis cost most of a redraw


def _percent_axis(ax: Any) -> None:
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{100 * v:g}%"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _log_probability_axis(ax: Any, years: int) -> None:
    """A log y axis of exceedance probability, fixed from the smallest resolvable one to 100%."""
    ax.set_yscale("log")
    ax.set_ylim(max(0.5 / years, 1e-6), 1.5)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{100 * v:g}%"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_minor_locator(NullLocator())


def _positive_or_nan(p: np.ndarray) -> np.ndarray:
    return np.where(p > 0, p, np.nan)


def _exceedance_on(sorted_losses: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """P(annual loss > x) for each x of ``grid``, from ascending losses."""
    n = sorted_losses.size
    return (n - np.searchsorted(sorted_losses, grid, side="right")) / n


def _metric_table(rows: list[tuple[str, str, str]], title: str = "") -> str:
    """HTML of (key, label, shown value) rows; each value cell carries ``data-metric=key``."""
    head = f"<div class='rb-title' style='font-weight:600;margin-bottom:4px'>{html.escape(title)}</div>" if title else ""
    body = "".join(
        f"<tr><td style='padding:2px 12px 2px 0;color:#444'>{html.escape(label)}</td>"
        f"<td data-metric='{html.escape(key)}' style='padding:2px 0;font-weight:600;text-align:right'>"
        f"{html.escape(value)}</td></tr>"
        for key, label, value in rows
    )
    return f"{head}<table class='rb-metrics' style='border-collapse:collapse'>{body}</table>"


def _precision_note(losses: Any, what: str = "the ALE", limit: float = ALE_RSE_LIMIT) -> str:
    """A plain-language note when the ALE of ``losses`` has a standard error above ``limit`` of it, else "".

    The same rule and words as :meth:`~riskbudget.simulation.SimulationResult.precision_notes`.
    """
    x = np.asarray(losses, dtype=float)
    ale, se = metrics.ale(x), metrics.ale_se(x)
    if not (ale > 0 and math.isfinite(se) and se > limit * ale):
        return ""
    return (f"{what} is imprecise: its Monte Carlo standard error is {se / ale:.1%} of it (above {limit:.0%}); "
            "simulate more years, or check for a heavy-tailed loss estimate")


def _notes_html(notes: list[str], css_class: str = "rb-precision") -> str:
    """Warning notes (e.g. imprecise ALEs) as a list, or "" when there are none."""
    if not notes:
        return ""
    items = "".join(f"<li>{html.escape(n[:1].upper() + n[1:])}</li>" for n in notes)
    return f"<ul class='{css_class}' style='margin:4px 0 0 16px;padding:0;color:#8a6d3b'>{items}</ul>"


def _html_table(header: list[str], rows: list[list[str]], *, key: str = "", row_keys: list[str] | None = None) -> str:
    """A compact HTML table of already formatted (and escaped) cells; ``data-metric=key`` on the table."""
    cell = "padding:1px 10px 1px 0;vertical-align:top"
    head = "".join(f"<th style='{cell};text-align:left;color:#444'>{h}</th>" for h in header)
    body = "".join(
        (f"<tr data-item='{html.escape(row_keys[i])}'>" if row_keys else "<tr>")
        + "".join(f"<td style='{cell}'>{c}</td>" for c in r) + "</tr>"
        for i, r in enumerate(rows)
    )
    attr = f" data-metric='{html.escape(key)}'" if key else ""
    return (f"<table{attr} style='border-collapse:collapse;font-size:90%'><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>")


def _message_html(text: str, kind: str = "error") -> str:
    if not text:
        return ""
    colour = {"error": "#a94442", "info": "#31708f", "ok": "#3c763d"}[kind]
    background = {"error": "#f2dede", "info": "#d9edf7", "ok": "#dff0d8"}[kind]
    return (
        f"<div class='rb-message rb-{kind}' style='color:{colour};background:{background};"
        f"padding:6px 10px;border-radius:4px'>{html.escape(text)}</div>"
    )


def _plain(exc: BaseException) -> str:
    """A person-readable one-line message for an exception."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


class _Explorer:
    """Shared behaviour: the message line, the last good view, display."""

    #: The top-level container; set by subclasses.
    widget: W.Widget

    def __init__(self) -> None:
        self.message = W.HTML(value="")
        self.message.add_class("rb-message-box")
        self._values: dict[str, Any] = {}
        self._shown: dict[str, str] = {}
        self._error: str | None = None
        self._said = False
        self._updating = 0

    # -- state seen by tests, benchmarks and people --------------------- #
    @property
    def values(self) -> dict[str, Any]:
        """Raw numbers of the view on screen (the last good one)."""
        return dict(self._values)

    @property
    def shown(self) -> dict[str, str]:
        """The rounded strings on screen, by label (the last good view)."""
        return dict(self._shown)

    @property
    def error(self) -> str | None:
        """The plain message on screen when the last input made no sense, else None."""
        return self._error

    def _say(self, text: str, kind: str = "error") -> None:
        self._error = text if text and kind == "error" else None
        self._said = True
        self.message.value = _message_html(text, kind)

    def _run(self, action: Callable[[], Any]) -> bool:
        """Run an update; on bad input show a message and keep the last good view.

        A message from an earlier change is cleared once a change succeeds,
        unless the change itself said something (e.g. Optimise's notes).
        """
        self._said = False
        try:
            action()
        except RiskBudgetError as exc:
            self._say(_plain(exc) + " - showing the last valid figures.")
            return False
        except (ValueError, TypeError, ZeroDivisionError, OverflowError) as exc:
            self._say(f"That input cannot be used ({_plain(exc)}) - showing the last valid figures.")
            return False
        except Exception as exc:  # never let a traceback reach the screen
            log.exception("riskbudget explorer update failed")
            self._say(f"Something went wrong ({type(exc).__name__}: {_plain(exc)}); showing the last valid figures.")
            return False
        if not self._said:
            self._say("")
        return True

    def _observe(self, widget: W.Widget, handler: Callable[[], Any]) -> None:
        def on_change(_change: Any) -> None:
            if self._updating:
                return
            self._run(handler)

        widget.observe(on_change, names="value")

    # -- display --------------------------------------------------------- #
    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        if isinstance(bundle, dict) and "text/plain" in bundle:
            bundle["text/plain"] = repr(self)  # short and stable (nbval compares it)
        return bundle

    def __repr__(self) -> str:
        head = ", ".join(f"{k}={v}" for k, v in list(self._shown.items())[:3])
        return f"{type(self).__name__}({head})"



# --------------------------------------------------------------------------- #
# Amounts people type
# --------------------------------------------------------------------------- #
#: The largest amount a box of the explorers accepts: a trillion dollars, far above any budget or loss
#: a board sets (the library's own ceiling, 1e15, is for files and sums; in a box it is a typing mistake).
MAX_TYPED_AMOUNT = 1e12


class _AmountText(W.Text):
    """A text box that also takes a number (``box.value = 6e6``, as code and older tests set it)."""

    value = traitlets.CUnicode(help="String value").tag(sync=True)


def exact_money(value: float) -> str:
    """An amount in full, as a person reads it and :func:`parse_money` reads it back: ``$6,000,000``."""
    v = float(value)
    if v == round(v):
        return f"{'-' if v < 0 else ''}${abs(v):,.0f}"
    return f"{'-' if v < 0 else ''}${abs(v):,.2f}"


def exact_percent(value: float) -> str:
    """A percentage as typed: ``0.5%``."""
    return f"{float(value):g}%"


def exact_money_label(value: float, _pos: Any = None) -> str:
    """A tick label that says the tick's value exactly: the fewest significant digits that read back to it.

    ``money(17.5e6, digits=2)`` says "$18M"; this says "$17.5M", and "$20M" for 20e6.
    """
    v = float(value)
    if v == 0 or not math.isfinite(v):
        return money(v)
    for digits in range(1, 8):
        text = money(v, digits=digits)
        try:
            back = parse_money(text, where="", name="tick", allow_negative=True, ceiling=None)
        except RiskBudgetError:
            continue
        if math.isclose(back, v, rel_tol=1e-9, abs_tol=1e-6):
            return text
    return exact_money(v)


class _AmountField:
    """A box where a person types an amount of money (or a percentage), with a note next to it.

    The box accepts what the command line accepts (``6M``, ``$6,000,000``,
    ``6e6``, ``6 000 000``: :func:`riskbudget._parse.parse_money`); once read it
    shows the amount in full (``$6,000,000``). Text that is no amount, an
    amount out of range, or an absurd magnitude (above
    :data:`MAX_TYPED_AMOUNT`) puts a plain message next to the box and raises,
    so the explorer keeps its last valid figures.
    """

    def __init__(self, value: float | None, description: str, *, name: str, kind: str = "money",
                 width: str = "300px", description_width: str = "170px", optional: bool = False) -> None:
        self.name, self.kind, self.optional = name, kind, optional
        self.amount: float | None = None if value is None else float(value)
        self.box = _AmountText(value=self.format(self.amount), description=description, continuous_update=False,
                               style={"description_width": description_width}, layout=W.Layout(width=width))
        self.box.add_class("rb-amount")
        self.note = W.HTML(layout=W.Layout(margin="0 0 0 6px"))
        self.note.add_class("rb-field-note")
        self.row = W.HBox([self.box, self.note], layout=W.Layout(align_items="center"))

    def format(self, value: float | None) -> str:
        if value is None:
            return ""
        return exact_percent(value) if self.kind == "percent" else exact_money(value)

    def _parse(self, text: str) -> float | None:
        text = text.strip()
        if not text:
            if self.optional:
                return None
            raise RiskBudgetError(f"{self.name} is empty: type an amount such as 6M or $6,000,000")
        if self.kind == "percent":
            number = text[:-1].strip() if text.endswith("%") else text
            try:
                value = parse_number(number, where="", name=self.name)
            except RiskBudgetError:
                raise RiskBudgetError(f"{self.name} ({text!r}) is not a percentage: type one such as 0.5 or 0.5%") from None
            if not 0.0 < value <= 100.0:
                raise RiskBudgetError(f"The limit on {self.name} ({value:g}%) must be a percentage above 0 and at most 100")
            return value
        try:
            value = parse_money(text, where="", name=self.name, allow_negative=True, ceiling=None)
        except RiskBudgetError:
            raise RiskBudgetError(f"{self.name} ({text!r}) is not an amount of money: type one such as "
                                  f"{MONEY_EXAMPLES}") from None
        if abs(value) > MAX_TYPED_AMOUNT:
            raise RiskBudgetError(f"{self.name} ({money(value)}) is beyond any real budget or loss (at most "
                                  f"{money(MAX_TYPED_AMOUNT)}); is the unit right (dollars, not cents)?")
        return value

    def read(self) -> float | None:
        """The amount in the box (and remember it), or a RiskBudgetError with the message next to the box."""
        try:
            value = self._parse(str(self.box.value))
        except RiskBudgetError as exc:
            self.note.value = _field_note(_plain(exc))
            raise
        self.note.value = ""
        self.amount = value
        return value

    def refuse(self, text: str) -> None:
        """A rule on the amount (checked by the caller) failed: say it next to the box."""
        self.note.value = _field_note(text)

    def tidy(self) -> bool:
        """Show the amount read in full (``6M`` becomes ``$6,000,000``); True when the text changed."""
        text = self.format(self.amount)
        if self.box.value != text:
            self.box.value = text
            return True
        return False


def _field_note(text: str) -> str:
    return f"<span class='rb-field-error' style='color:#a94442;font-size:90%'>{html.escape(text)}</span>"


#: Style for the explorers' pages: preformatted text and table cells wrap between words, never inside one.
NO_MIDWORD_BREAKS = (
    "<style>"
    ".rb-explorer pre, .jp-RenderedText pre, .jp-OutputArea-output pre, .output_text pre"
    "{white-space:pre-wrap;word-break:normal;overflow-wrap:normal;overflow-x:auto}"
    ".rb-explorer td, .rb-explorer th, .rb-explorer li{word-break:normal;overflow-wrap:normal}"
    ".rb-explorer .rb-metrics td{line-height:1.3;padding-top:1px;padding-bottom:1px}"
    ".rb-explorer .rb-controls .widget-html-content{line-height:1.4}"
    "</style>"
)
