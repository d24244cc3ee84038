"""Small server-rendered SVG charts for the dashboard: no script, no library.

Each function returns markup safe to insert (``markupsafe.Markup``): every
label is escaped here, numbers are formatted by us. Colours come from CSS
classes (``series-0`` ...), so the page's stylesheet decides them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD = 640, 220, 36


def bars(values: Sequence[tuple[str, int]], title: str) -> Markup:
    """One bar per label (e.g. queue depth per site)."""
    if not values:
        return _empty(title)
    top = max(v for _, v in values) or 1
    step = (WIDTH - 2 * PAD) / len(values)
    parts = []
    for i, (label, value) in enumerate(values):
        h = (HEIGHT - 2 * PAD) * value / top
        x = PAD + i * step + step * 0.1
        y = HEIGHT - PAD - h
        parts.append(
            f'<rect class="series-0" x="{x:.1f}" y="{y:.1f}" width="{step * 0.8:.1f}" '
            f'height="{h:.1f}"><title>{escape(label)}: {value}</title></rect>'
            f'<text x="{x + step * 0.4:.1f}" y="{HEIGHT - PAD + 14}" text-anchor="middle">'
            f"{escape(_short(label))}</text>"
            f'<text x="{x + step * 0.4:.1f}" y="{y - 4:.1f}" text-anchor="middle">{value}</text>'
        )
    return _svg(title, "".join(parts))


def stacked(
    days: Sequence[str], counts: Mapping[str, Mapping[str, int]], series: Sequence[str], title: str
) -> Markup:
    """Stacked bars per day for each series (verdicts, or who decided)."""
    totals = [sum(counts.get(d, {}).get(s, 0) for s in series) for d in days]
    top = max(totals) if totals else 0
    if not top:
        return _empty(title)
    step = (WIDTH - 2 * PAD) / len(days)
    parts = []
    for i, day in enumerate(days):
        y = float(HEIGHT - PAD)
        for k, name in enumerate(series):
            value = counts.get(day, {}).get(name, 0)
            h = (HEIGHT - 2 * PAD) * value / top
            y -= h
            if value:
                parts.append(
                    f'<rect class="series-{k}" x="{PAD + i * step + 2:.1f}" y="{y:.1f}" '
                    f'width="{step - 4:.1f}" height="{h:.1f}"><title>{escape(day)} '
                    f"{escape(name)}: {value}</title></rect>"
                )
        if i % 2 == 0:
            parts.append(
                f'<text x="{PAD + i * step + step / 2:.1f}" y="{HEIGHT - PAD + 14}" '
                f'text-anchor="middle">{escape(day[5:])}</text>'
            )
    legend = "".join(
        f'<rect class="series-{k}" x="{PAD + k * 90}" y="6" width="10" height="10"></rect>'
        f'<text x="{PAD + k * 90 + 14}" y="15">{escape(name)}</text>'
        for k, name in enumerate(series)
    )
    return _svg(title, legend + "".join(parts))


def histogram(values: Sequence[float], title: str, scale: float = 1.0, bins: int = 12) -> Markup:
    """How values spread (time in queue), in ``scale`` units."""
    if not values:
        return _empty(title)
    scaled = [v / scale for v in values]
    top = max(scaled) or 1.0
    width = top / bins
    counts = [0] * bins
    for v in scaled:
        counts[min(int(v / width), bins - 1)] += 1
    digits = 1 if width < 1 else 0
    labels = [f"{i * width:.{digits}f}-{(i + 1) * width:.{digits}f}" for i in range(bins)]
    return bars(list(zip(labels, counts, strict=True)), title)


def _svg(title: str, body: str) -> Markup:
    # Every piece of text in ``body`` was escaped where it was made.
    return Markup(  # noqa: S704
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>{body}</svg>'
    )


def _empty(title: str) -> Markup:
    return Markup(f'<p class="empty">{escape(title)}: nothing yet.</p>')  # noqa: S704


def _short(label: str) -> str:
    return label if len(label) <= 14 else label[:13] + "…"
