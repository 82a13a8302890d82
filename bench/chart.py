#!/usr/bin/env python3
"""chart.py: an SVG bar chart of the frugal / llama.cpp ratios in a Markdown table.

Reads a table from bench/compare.sh or bench/serve_compare.sh on stdin: the first column
(and the second, if it is not numeric) names a bar, the column headed "ratio" gives its
height. Writes a self-contained SVG to stdout, with a line at 1.0 (parity).

usage: sh bench/compare.sh ... | tee bench.md | python3 bench/chart.py "title" > bench.svg
"""
import html
import sys


def parse(lines):
    header, rows = None, []
    for line in lines:
        line = line.strip()
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if header is None:
            header = [c.lower() for c in cells]
            continue
        rows.append(cells)
    if header is None or "ratio" not in header:
        sys.exit("chart.py: no Markdown table with a 'ratio' column on stdin")
    ri = header.index("ratio")
    bars = []
    for r in rows:
        try:
            v = float(r[ri])
        except (ValueError, IndexError):
            continue
        label = r[0]
        if len(r) > 1 and not r[1].replace(".", "", 1).isdigit():
            label = f"{r[0]} {r[1]}"
        bars.append((label.replace(".gguf", ""), v))
    return bars


def svg(title, bars):
    w_bar, gap, left, top, height = 46, 18, 60, 50, 260
    width = left + len(bars) * (w_bar + gap) + gap
    vmax = max([v for _, v in bars] + [1.2])
    vmax = (int(vmax * 4) + 1) / 4.0
    y = lambda v: top + height - v / vmax * height
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{top + height + 120}" '
           f'font-family="sans-serif" font-size="12">',
           f'<text x="{left}" y="24" font-size="15" font-weight="bold">{html.escape(title)}</text>']
    t = 0.0
    while t <= vmax + 1e-9:
        out.append(f'<line x1="{left - 4}" x2="{width}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#ddd"/>'
                   f'<text x="{left - 8}" y="{y(t) + 4:.1f}" text-anchor="end">{t:.2f}x</text>')
        t += 0.25 if vmax <= 3 else 0.5
    for i, (label, v) in enumerate(bars):
        x = left + gap + i * (w_bar + gap)
        color = "#2a7" if v >= 1 else "#d64"
        out.append(f'<rect x="{x}" y="{y(v):.1f}" width="{w_bar}" height="{y(0) - y(v):.1f}" fill="{color}"/>'
                   f'<text x="{x + w_bar / 2}" y="{y(v) - 4:.1f}" text-anchor="middle">{v:.2f}</text>'
                   f'<text transform="translate({x + w_bar / 2},{y(0) + 10}) rotate(40)">{html.escape(label)}</text>')
    out.append(f'<line x1="{left}" x2="{width}" y1="{y(1):.1f}" y2="{y(1):.1f}" stroke="#333" stroke-dasharray="4 3"/>'
               f'<text x="{width - 4}" y="{y(1) - 4:.1f}" text-anchor="end">parity (llama.cpp = 1)</text></svg>')
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    title = sys.argv[1] if len(sys.argv) > 1 else "frugal / llama.cpp (higher is better)"
    bars = parse(sys.stdin.read().splitlines())
    if not bars:
        sys.exit("chart.py: the table has no numeric ratios")
    sys.stdout.write(svg(title, bars))
