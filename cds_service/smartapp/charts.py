"""The view's timeline as one SVG, drawn on the server: no script, no CDN, works offline.

Four bands share one time axis: the antidepressant trials as bars (dark when the trial counts
as a failed adequate trial), the ketamine or esketamine sessions as marks, the PHQ-9 as a line
with the remission band and the response line, and the blood pressures with the caution and
defer lines. The SVG carries a title and a text description, and each mark its own title.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from xml.sax.saxutils import escape, quoteattr

from cds_service.services.detail import day
from cds_service.smartapp.timeline import Timeline

__all__ = ["describe", "timeline_svg"]

WIDTH = 960
LEFT = 190  # room for the trial labels
RIGHT = 20
ROW = 20
PHQ9_HEIGHT = 150
BP_HEIGHT = 260  # 1.44 px per mmHg: the 90 and 100 labels clear each other
PHQ9_MAX = 27.0
BP_LOW, BP_HIGH = 40.0, 220.0
TICKS = 6
LABEL_CHARS = 28

Scale = Callable[[date], float]


def timeline_svg(view: Timeline) -> str:
    """Usage: ``timeline_svg(timeline(assessment, settings))  # "<svg ..."``"""
    x = _scale(view.start, view.end)
    parts: list[str] = []
    top = 10
    parts += _trials(view, x, top)
    top += ROW * max(len(view.trials), 1) + 10
    parts += _sessions(view, x, top)
    top += ROW + 20
    parts += _phq9(view, x, top)
    top += PHQ9_HEIGHT + 30
    parts += _pressures(view, x, top)
    top += BP_HEIGHT + 10
    parts += _axis(view, x, top)
    height = top + 30
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" '
        'aria-labelledby="chart-title chart-desc" font-family="sans-serif" font-size="12">'
        '<title id="chart-title">Antidepressant trials, ketamine and esketamine sessions, '
        "PHQ-9 and blood pressure over time</title>"
        f'<desc id="chart-desc">{escape(describe(view))}</desc>'
    )
    return head + "".join(parts) + "</svg>"


def describe(view: Timeline) -> str:
    """The chart in words, for a screen reader or a printout without images."""
    counted = sum(t.counted for t in view.trials)
    undated = f" ({view.undated_trials} more without dates)" if view.undated_trials else ""
    words = [
        f"From {day(view.start)} to {day(view.end)}: "
        f"{_count(len(view.trials), 'dated antidepressant trial')}{undated}, {counted} "
        "counting toward TRD as failed adequate trials."
    ]
    if view.sessions:
        words.append(
            f"{_count(len(view.sessions), f'{view.course_drug} session')} from "
            f"{day(view.sessions[0])} "
            f"to {day(view.sessions[-1])}."
        )
    if view.phq9:
        last = view.phq9[-1]
        words.append(
            f"{_count(len(view.phq9), 'PHQ-9 score')}, the latest {last.value:g} on "
            f"{day(last.when)}."
        )
    else:
        words.append("No PHQ-9 on record.")
    if view.blood_pressures:
        bp = view.blood_pressures[-1]
        words.append(
            f"{_count(len(view.blood_pressures), 'blood pressure')}, the latest "
            f"{bp.systolic:g}/{bp.diastolic:g} on {day(bp.when)}."
        )
    else:
        words.append("No blood pressure on record.")
    return " ".join(words)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _scale(start: date, end: date) -> Scale:
    span = max((end - start).days, 1)

    def x(when: date) -> float:
        return round(LEFT + (WIDTH - LEFT - RIGHT) * (when - start).days / span, 1)

    return x


def _text(x: float, y: float, words: str, *, anchor: str = "start", css: str = "") -> str:
    klass = f" class={quoteattr(css)}" if css else ""
    return f'<text x="{x}" y="{y}" text-anchor="{anchor}"{klass}>{escape(words)}</text>'


def _trials(view: Timeline, x: Scale, top: int) -> list[str]:
    parts = [_text(4, top + 13, "Antidepressant trials", css="band")] if not view.trials else []
    for row, trial in enumerate(view.trials):
        y = top + row * ROW
        label = trial.medication
        if len(label) > LABEL_CHARS:
            label = label[: LABEL_CHARS - 1] + "…"
        dose = f"{trial.daily_dose_mg:g} mg/day" if trial.daily_dose_mg is not None else "dose?"
        end = "ongoing" if trial.ongoing else day(trial.end)
        hint = f"{trial.medication}, {dose}, {day(trial.start)} to {end}: {trial.why}"
        width = max(x(trial.end) - x(trial.start), 2)
        fill = "#1f4e79" if trial.counted else "#9dbbd9"
        parts += [
            _text(4, y + 13, label),
            f'<rect class="trial" x="{x(trial.start)}" y="{y + 3}" width="{width}" height="14" '
            f'fill="{fill}" data-counted="{str(trial.counted).lower()}">'
            f"<title>{escape(hint)}</title></rect>",
        ]
    return parts


def _sessions(view: Timeline, x: Scale, top: int) -> list[str]:
    label = f"{view.course_drug} sessions" if view.course_drug else "No ketamine sessions"
    parts = [_text(4, top + 13, label)]
    for when in view.sessions:
        parts.append(
            f'<rect class="session" x="{x(when) - 1.5}" y="{top + 2}" width="3" height="16" '
            f'fill="#7a3e9d"><title>{escape(f"{view.course_drug} on {day(when)}")}</title></rect>'
        )
    return parts


def _y(value: float, low: float, high: float, top: int, height: int) -> float:
    clamped = min(max(value, low), high)
    return round(top + height - height * (clamped - low) / (high - low), 1)


def _phq9(view: Timeline, x: Scale, top: int) -> list[str]:
    def y(value: float) -> float:
        return _y(value, 0, PHQ9_MAX, top, PHQ9_HEIGHT)

    right = WIDTH - RIGHT
    parts = [
        _text(4, top + 12, "PHQ-9 (0-27)"),
        f'<rect class="remission-band" x="{LEFT}" y="{y(view.remission_below)}" '
        f'width="{right - LEFT}" height="{round(y(0) - y(view.remission_below), 1)}" '
        'fill="#e3f1e3"><title>Remission: PHQ-9 below '
        f"{view.remission_below:g}</title></rect>",
        _text(4, y(view.remission_below / 2) + 4, f"remission < {view.remission_below:g}"),
        f'<line x1="{LEFT}" y1="{y(0)}" x2="{right}" y2="{y(0)}" stroke="#999"/>',
    ]
    if view.response_at is not None:
        parts += [
            f'<line class="response-line" x1="{LEFT}" y1="{y(view.response_at)}" x2="{right}" '
            f'y2="{y(view.response_at)}" stroke="#2e7d32" stroke-dasharray="6 4"/>',
            _text(4, y(view.response_at) + 4, f"response ≤ {view.response_at:g}"),
        ]
    if view.phq9:
        points = " ".join(f"{x(p.when)},{y(p.value)}" for p in view.phq9)
        parts.append(f'<polyline points="{points}" fill="none" stroke="#b33" stroke-width="1.5"/>')
        parts += [
            f'<circle class="phq9" cx="{x(p.when)}" cy="{y(p.value)}" r="3.5" fill="#b33" '
            f'data-value="{p.value:g}"><title>PHQ-9 {p.value:g} on {day(p.when)}</title></circle>'
            for p in view.phq9
        ]
        parts += [
            _text(x(p.when), y(p.value) - 7, f"{p.value:g}", anchor="middle", css="phq9-value")
            for p in view.phq9
        ]
    return parts


def _pressures(view: Timeline, x: Scale, top: int) -> list[str]:
    def y(value: float) -> float:
        return _y(value, BP_LOW, BP_HIGH, top, BP_HEIGHT)

    right = WIDTH - RIGHT
    parts = [
        _text(4, top + 12, "Blood pressure (mmHg)"),
        _text(4, top + 28, "● systolic  ○ diastolic"),
    ]
    for (systolic, diastolic), colour in zip(view.bp_lines, ("#e0a000", "#c62828"), strict=False):
        for value, kind in ((systolic, "systolic"), (diastolic, "diastolic")):
            parts += [
                f'<line class="bp-line" x1="{LEFT}" y1="{y(value)}" x2="{right}" y2="{y(value)}" '
                f'stroke="{colour}" stroke-dasharray="4 3" data-value="{value}">'
                f"<title>{kind} {value}</title></line>",
                _text(LEFT - 6, y(value) + 4, f"{kind} {value}", anchor="end"),
            ]
    for bp in view.blood_pressures:
        reading = f"BP {bp.systolic:g}/{bp.diastolic:g} on {day(bp.when)}"
        parts.append(
            f'<line x1="{x(bp.when)}" y1="{y(bp.systolic)}" x2="{x(bp.when)}" '
            f'y2="{y(bp.diastolic)}" stroke="#555"/>'
            f'<circle class="systolic" cx="{x(bp.when)}" cy="{y(bp.systolic)}" r="3" '
            f'fill="#333" data-value="{bp.systolic:g}"><title>{escape(reading)}</title></circle>'
            f'<circle class="diastolic" cx="{x(bp.when)}" cy="{y(bp.diastolic)}" r="3" '
            f'fill="#fff" stroke="#333" data-value="{bp.diastolic:g}">'
            f"<title>{escape(reading)}</title></circle>"
        )
    return parts


def _axis(view: Timeline, x: Scale, top: int) -> list[str]:
    span = (view.end - view.start).days
    parts = [f'<line x1="{LEFT}" y1="{top}" x2="{WIDTH - RIGHT}" y2="{top}" stroke="#999"/>']
    for tick in range(TICKS + 1):
        when = view.start + timedelta(days=round(span * tick / TICKS))
        anchor = "start" if tick == 0 else "end" if tick == TICKS else "middle"
        parts.append(_text(x(when), top + 16, day(when), anchor=anchor))
    return parts
