"""Server-side SVG charts for the dashboard: pure functions of their numbers, no JavaScript and
no CDN. Colours come from CSS classes (the template maps them to the admin's palette, so the
charts follow the admin's light and dark themes); every bar carries a <title> tooltip."""

from __future__ import annotations

from dataclasses import dataclass
from math import log10

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe


@dataclass(frozen=True)
class Series:
    name: str
    values: list[int]
    css: str  # e.g. "s-in": the template gives it a colour


def nice_ceiling(value: float) -> int:
    """The smallest of 1, 2, 5 × 10^n at or above `value` (at least 1): a readable axis top."""
    if value <= 1:
        return 1
    magnitude = 10 ** int(log10(value))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return int(step * magnitude)
    return int(10 * magnitude)  # pragma: no cover - the loop always returns


def bar_chart(
    *,
    title: str,
    categories: list[str],
    series: list[Series],
    label_every: int = 1,
    width: int = 760,
    height: int = 240,
) -> SafeString:
    """Grouped vertical bars: one group per category, one bar per series, a legend on top."""
    left, right, top, bottom = 40, 10, 28, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = nice_ceiling(max((v for s in series for v in s.values), default=0))
    group_w = plot_w / max(len(categories), 1)
    bar_w = max(group_w * 0.8 / max(len(series), 1), 1.0)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}"'
        f' xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for fraction in (0, 0.5, 1) if peak > 1 else (0, 1):
        y = top + plot_h * (1 - fraction)
        label = f"{peak * fraction:g}".replace(".", ",")
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    for i, category in enumerate(categories):
        x0 = left + i * group_w + group_w * 0.1
        for j, s in enumerate(series):
            value = s.values[i]
            h = plot_h * value / peak
            parts.append(
                f'<rect class="bar {s.css}" x="{x0 + j * bar_w:.1f}" y="{top + plot_h - h:.1f}"'
                f' width="{bar_w:.1f}" height="{h:.1f}">'
                f"<title>{escape(category)} — {escape(s.name)}: {value}</title></rect>"
            )
        if i % label_every == 0 or i == len(categories) - 1:
            cx = left + (i + 0.5) * group_w
            parts.append(
                f'<text class="axis" x="{cx:.1f}" y="{height - 8}" text-anchor="middle">{escape(category)}</text>'
            )
    legend_x = left
    for s in series:
        parts.append(f'<rect class="bar {s.css}" x="{legend_x}" y="6" width="12" height="12"/>')
        parts.append(f'<text class="legend" x="{legend_x + 16}" y="16">{escape(s.name)}</text>')
        legend_x += 24 + 8 * len(s.name)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above went through escape()


def funnel_chart(*, title: str, stages: list[tuple[str, int]], width: int = 760) -> SafeString:
    """Horizontal bars, widest first, each with its count and its share of the first stage."""
    row_h, gap, label_w = 34, 8, 190
    height = len(stages) * (row_h + gap) + gap
    top_value = stages[0][1] if stages else 0
    bar_space = width - label_w - 130
    parts = [
        f'<svg class="chart funnel" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}"'
        f' xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for i, (label, value) in enumerate(stages):
        y = gap + i * (row_h + gap)
        share = value / top_value if top_value else 0.0
        w = max(bar_space * share, 2.0 if value else 0.0)
        parts.append(
            format_html(
                '<text class="legend" x="{}" y="{}" text-anchor="end">{}</text>'
                '<rect class="bar s-funnel-{}" x="{}" y="{}" width="{}" height="{}"><title>{}: {}</title></rect>'
                '<text class="value" x="{}" y="{}">{} · {}%</text>',
                label_w - 8,
                y + row_h / 2 + 4,
                label,
                i,
                label_w,
                y,
                f"{w:.1f}",
                row_h,
                label,
                value,
                f"{label_w + w + 8:.1f}",
                y + row_h / 2 + 4,
                value,
                round(share * 100),
            )
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - labels went through escape()/format_html
