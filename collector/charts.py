"""Event volume over time, drawn as server-rendered SVG (no JavaScript needed).

Two windows: the last 24 hours by hour, the last 30 days by day (UTC). Each chart is a
row of bars with a <title> per bar, so hovering tells the exact count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from markupsafe import Markup, escape

from collector.storage import Storage
from collector.timeutil import from_us, to_us

WINDOWS = {
    "24h": (timedelta(hours=1), 24, "%H:00"),
    "30d": (timedelta(days=1), 30, "%b %d"),
}


@dataclass(frozen=True, slots=True)
class Volume:
    window: str
    labels: list[str]
    counts: list[int]

    @property
    def total(self) -> int:
        return sum(self.counts)


async def volume(
    storage: Storage, event: str | None, window: str, now: datetime | None = None
) -> Volume:
    step, n, fmt = WINDOWS[window]
    now = now or datetime.now(UTC)
    if step == timedelta(hours=1):
        end = now.replace(minute=0, second=0, microsecond=0) + step
    else:
        end = now.replace(hour=0, minute=0, second=0, microsecond=0) + step
    start = end - n * step
    bucket_us = int(step.total_seconds() * 1_000_000)
    counts = [0] * n
    for bucket, _, count in await storage.event_volume(event, to_us(start), bucket_us):
        if 0 <= bucket < n:
            counts[bucket] += count
    labels = [from_us(to_us(start) + i * bucket_us).strftime(fmt) for i in range(n)]
    return Volume(window, labels, counts)


def bar_chart(volume: Volume, *, width: int = 640, height: int = 140) -> Markup:
    """An accessible SVG bar chart of one Volume."""
    n = len(volume.counts)
    top = max(volume.counts) or 1
    pad_left, pad_bottom, gap = 34, 18, 2
    bar_w = (width - pad_left) / n
    plot_h = height - pad_bottom - 6
    span = "last 24 hours by hour" if volume.window == "24h" else "last 30 days by day"
    label = f"{volume.total} events, {span}"
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">',
        f'<text class="axis" x="{pad_left - 6}" y="12" text-anchor="end">{top}</text>',
        f'<text class="axis" x="{pad_left - 6}" y="{height - pad_bottom}" '
        'text-anchor="end">0</text>',
        f'<line class="base" x1="{pad_left}" x2="{width}" y1="{height - pad_bottom}" '
        f'y2="{height - pad_bottom}"/>',
    ]
    for i, (text, count) in enumerate(zip(volume.labels, volume.counts, strict=True)):
        h = plot_h * count / top
        x = pad_left + i * bar_w
        y = height - pad_bottom - h
        parts.append(
            f'<rect class="bar" x="{x + gap / 2:.1f}" y="{y:.1f}" width="{bar_w - gap:.1f}" '
            f'height="{h:.1f}"><title>{escape(text)}: {count}</title></rect>'
        )
        if i % max(1, n // 6) == 0:
            parts.append(
                f'<text class="axis" x="{x + bar_w / 2:.1f}" y="{height - 4}" '
                f'text-anchor="middle">{escape(text)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
