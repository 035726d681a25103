"""Draw the figure of the two simulated pipelines, CRUD and CQRS, for docs/explanation/model.md.

Run it from the repository's top level after changing it (``python docs/figures/pipelines.py``); it rewrites
``docs/images/pipelines.png`` (or the path given as its one argument). It imports only matplotlib, so it
keeps working whatever the package's layout.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

CRUD, CQRS = "#d95f02", "#1b9e77"  #: the colours the simulator's own plots give each design
INK, MUTED, OUT_OF_POOL = "0.15", "0.45", "0.82"
DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "images" / "pipelines.png"


def box(ax, x, y, w, h, title, detail="", colour=INK, fill="white", dashed=False, size=12.5):
    """A rounded box with a bold title and a smaller detail under it; returns its (centre x, bottom, top)."""
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.1", linewidth=1.8,
                                edgecolor=colour, facecolor=fill, linestyle="--" if dashed else "-"))
    extra = 0.11 * detail.count("\n")  # a detail of two lines pushes the title up and itself down
    ax.text(x + w / 2, y + h / 2 + (0.17 + extra if detail else 0), title, ha="center", va="center", fontsize=size,
            fontweight="bold", color=INK)
    if detail:
        ax.text(x + w / 2, y + h / 2 - 0.17 - extra, detail, ha="center", va="center", fontsize=10.5, color=MUTED)
    return x + w / 2, y, y + h


def arrow(ax, start, end, label="", colour=INK, dashed=False, offset=(0.1, 0.0), ha="left", size=10.5):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=15, linewidth=1.6, color=colour,
                                 linestyle="--" if dashed else "-", shrinkA=2, shrinkB=2))
    if label:
        x = (start[0] + end[0]) / 2 + offset[0]
        y = (start[1] + end[1]) / 2 + offset[1]
        ax.text(x, y, label, ha=ha, va="center", fontsize=size, color=colour)


def front(ax, x, colour):
    """Reads → load balancer → handlers, the part both designs share, in a column at ``x``; returns the handlers."""
    ax.text(x + 1.45, 9.05, "reads", ha="center", va="bottom", fontsize=12.5, fontweight="bold", color=INK)
    cx, lb_bottom, lb_top = box(ax, x + 0.35, 7.75, 2.2, 0.85, "load balancer", "load_balancer", colour)
    arrow(ax, (cx, 9.0), (cx, lb_top))
    _, h_bottom, h_top = box(ax, x, 6.3, 2.9, 0.85, "handlers", "count × concurrency slots", colour)
    arrow(ax, (cx, lb_bottom), (cx, h_top))
    return cx, h_bottom


def crud_column(ax):
    ax.text(0.1, 9.75, "CRUD: one database", fontsize=14, fontweight="bold", color=CRUD)
    cx, h_bottom = front(ax, 0.1, CRUD)
    _, db_bottom, db_top = box(ax, 0.0, 4.1, 3.1, 1.2, "database", "crud.connections; locking", CRUD, fill="#fdf0e6")
    arrow(ax, (cx, h_bottom), (cx, db_top), "query_time")
    ax.text(4.05, 7.3, "writes", ha="center", va="bottom", fontsize=12.5, fontweight="bold", color=INK)
    arrow(ax, (4.05, 7.25), (3.1, 4.85), "apply_time", offset=(0.12, 0.15))
    ax.text(1.45, 3.95, "exclusive: a write waits for\nrunning queries, then holds\nthe whole database; reads\n"
            "queue behind it", ha="center", va="top", fontsize=10.5, color=MUTED)
    _, _, rep_top = box(ax, 0.0, 0.6, 3.1, 2.0, "streaming replicas",
                        "optional: crud.replicas;\nreads go here; commits\nreach them after\nreplication_lag", CRUD,
                        dashed=True, size=12)
    arrow(ax, (2.9, db_bottom), (2.9, rep_top), colour=CRUD, dashed=True)


def cqrs_column(ax):
    ax.text(5.1, 9.75, "CQRS: write image, read replicas", fontsize=14, fontweight="bold", color=CQRS)
    cx, h_bottom = front(ax, 5.1, CQRS)
    # the replica pool: eight replicas; the rollout has reached the first three, the fourth is out for its swap
    px, py, pw, ph = 5.1, 2.35, 2.9, 2.75
    ax.add_patch(FancyBboxPatch((px, py), pw, ph, boxstyle="round,pad=0.02,rounding_size=0.1", linewidth=1.8,
                                edgecolor=CQRS, facecolor="#e8f5f1"))
    ax.text(px + pw / 2, py + ph - 0.25, "replica pool", ha="center", va="center", fontsize=12.5, fontweight="bold",
            color=INK)
    ax.text(px + pw / 2, py + ph - 0.58, "routing; connections each", ha="center", va="center", fontsize=10.5,
            color=MUTED)
    for i, version in enumerate(["v3", "v3", "v3", "out", "v2", "v2", "v2", "v2"]):
        rx, ry = px + 0.14 + (i % 4) * 0.68, py + 1.1 - (i // 4) * 0.92
        out = version == "out"
        fill = OUT_OF_POOL if out else ("white" if version == "v3" else "#fff7d6")
        ax.add_patch(FancyBboxPatch((rx, ry), 0.56, 0.72, boxstyle="round,pad=0.01,rounding_size=0.06",
                                    linewidth=1.2, edgecolor=MUTED if out else CQRS, facecolor=fill,
                                    linestyle="--" if out else "-"))
        ax.text(rx + 0.28, ry + 0.5, f"r{i}", ha="center", va="center", fontsize=10, color=INK)
        ax.text(rx + 0.28, ry + 0.22, version, ha="center", va="center", fontsize=10, color=INK,
                fontweight="normal" if version == "v3" else "bold")
    arrow(ax, (cx, h_bottom), (cx, py + ph), "query_time")
    ax.text(px + pw / 2, py - 0.12, "v2: stale until the rollout reaches it;\nout: leaving, draining, being replaced",
            ha="center", va="top", fontsize=10.5, color=MUTED)
    # the write side
    wx = 9.15
    ax.text(wx, 9.05, "writes", ha="center", va="bottom", fontsize=12.5, fontweight="bold", color=INK)
    _, ws_bottom, ws_top = box(ax, wx - 0.8, 7.75, 1.6, 0.85, "write servers", "write_servers", CQRS, size=11.5)
    arrow(ax, (wx, 9.0), (wx, ws_top))
    _, wi_bottom, wi_top = box(ax, wx - 0.8, 5.5, 1.6, 0.95, "write image", "holds v3", CQRS, fill="#e8f5f1", size=11.5)
    arrow(ax, (wx, ws_bottom), (wx, wi_top), "apply", offset=(0.08, 0.0))
    arrow(ax, (wx, wi_bottom), (px + pw, 4.2), "rollout", CQRS, offset=(0.12, 0.12), size=11.5)
    ax.text(wx + 0.05, 3.75, "after each commit:\na snapshot,\nbatch_size replicas\nat a time,\nreplace_time each",
            ha="center", va="top", fontsize=10.5, color=CQRS)


def draw(output: Path = DEFAULT_OUTPUT) -> Path:
    fig, ax = plt.subplots(figsize=(10, 10), dpi=100)
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)
    ax.axis("off")
    crud_column(ax)
    ax.plot([4.6, 4.6], [0.6, 9.6], color="0.85", lw=1)
    cqrs_column(ax)
    ax.text(0.0, 0.15, "Both designs draw the same arrivals, handler, query and apply times from the same\n"
            "random streams, so each difference between them is paired.", fontsize=10.5, color=MUTED, ha="left",
            va="center")
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return output


if __name__ == "__main__":
    print(draw(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUTPUT))
