"""The plots of a diagnosis and of per-keypoint metrics (needs matplotlib: ``[plot]``)."""

from __future__ import annotations

import pytest

import posetable as pt
from tests._predictions import noisy_predictions

pytestmark = pytest.mark.integration
pytest.importorskip("matplotlib")


@pytest.fixture
def predictions(coco_table):
    return noisy_predictions(coco_table, seed=9, noise=0.05)


def test_diagnosis_plots_draw_every_class_and_fix(coco_table, predictions, tmp_path) -> None:
    diagnosis = pt.diagnose(coco_table, predictions)
    breakdown = diagnosis.plot_breakdown()
    labels = [t.get_text() for t in breakdown.axes[0].get_legend().get_texts()]
    assert labels == ["good", "jitter", "inversion", "swap", "miss"]
    curves = diagnosis.plot_pr(oks=0.75)
    legend = [t.get_text() for t in curves.axes[0].get_legend().get_texts()]
    assert legend[0].startswith("original: ") and any("fix miss" in t for t in legend)
    breakdown.savefig(tmp_path / "breakdown.png")
    assert (tmp_path / "breakdown.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="oks must be one of"):
        diagnosis.plot_pr(oks=0.52)


def test_keypoint_metric_plots(coco_table, predictions) -> None:
    metrics = pt.evaluate(coco_table, predictions).keypoint_metrics()
    figure = metrics.plot_reliability(kind="instance")
    assert "ECE" in figure.axes[0].get_title()
    bars = metrics.plot_per_keypoint(metric="pck_0.1", names=coco_table.schema.keypoint_names)
    assert bars.axes[0].get_xticklabels()[0].get_text() == "nose"
    with pytest.raises(ValueError, match="metric must be one of"):
        metrics.plot_per_keypoint(metric="nope")
