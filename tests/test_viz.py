"""Image grids, curves, progress bars and the widget fallback."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_lib import progress, viz, widgets


def test_image_grid_places_each_image_in_unit_range():
    imgs = torch.stack([torch.full((1, 4, 4), v) for v in (-1.0, 0.0, 1.0)])  # (3, 1, 4, 4)
    grid = viz.image_grid(imgs, nrow=2, pad=1)
    assert grid.shape == (2 * 5 + 1, 2 * 5 + 1, 3)
    assert np.allclose(grid[1:5, 1:5], 0.0) and np.allclose(grid[1:5, 6:10], 0.5) and np.allclose(grid[6:10, 1:5], 1.0)
    unit = viz.image_grid(torch.rand(2, 3, 4, 4), nrow=2, value_range="unit")
    assert unit.min() >= 0 and unit.max() <= 1


def test_image_grid_rejects_bad_input():
    with pytest.raises(ValueError, match=r"expects \(B, C, H, W\) with C 1 or 3, got \(4, 4\)"):
        viz.image_grid(torch.zeros(4, 4))
    with pytest.raises(ValueError, match="unknown value_range 'pixels'"):
        viz.image_grid(torch.zeros(1, 1, 4, 4), value_range="pixels")


def test_figures_are_saved_as_png(tmp_path):
    fig = viz.show_images(torch.zeros(4, 1, 8, 8), nrow=2, title="t", path=tmp_path / "f" / "grid.png")
    fig2 = viz.plot_curves({"a": [3, 2, 1], "b": {0: 1.0, 5: 2.0}}, ylabel="loss", path=tmp_path / "curves.png")
    for path in (tmp_path / "f" / "grid.png", tmp_path / "curves.png"):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [l.get_label() for l in fig2.axes[0].get_lines()] == ["a", "b"]
    assert list(fig2.axes[0].get_lines()[1].get_xdata()) == [0, 5]
    import matplotlib.pyplot as plt

    plt.close(fig)
    plt.close(fig2)


def test_curves_over_epochs_have_whole_ticks():
    import matplotlib.pyplot as plt

    fig = viz.plot_curves(
        {"loss": {e: 1.0 / e for e in range(1, 21)}}
    )  # 20 epochs: matplotlib's default ticks at 2.5, 7.5...
    ticks = fig.axes[0].get_xticks()
    assert len(ticks) >= 3 and all(float(t).is_integer() for t in ticks), ticks
    real = viz.plot_curves({"x": {0.5: 1.0, 1.25: 2.0}})  # non-integer x keeps matplotlib's ticks
    assert not all(float(t).is_integer() for t in real.axes[0].get_xticks())
    plt.close(fig)
    plt.close(real)


def test_progress_can_be_silenced(monkeypatch):
    monkeypatch.setenv("COURSE_PROGRESS", "0")
    bar = progress.progress(range(3), desc="x")
    assert bar.disable and list(bar) == [0, 1, 2]


def test_widget_falls_back_to_one_static_frame(monkeypatch):
    import ipywidgets as w

    monkeypatch.setenv("COURSE_STATIC_WIDGETS", "1")
    seen = []
    assert not widgets.has_frontend()
    result = widgets.interactive_or_static(lambda alpha: seen.append(alpha), alpha=w.FloatSlider(value=0.25))
    assert result is None and seen == [0.25]
