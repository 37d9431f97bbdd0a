"""benchmarks/gpu.py runs end to end in its --quick smoke mode (on the CPU when there is no GPU)."""

import json
import os
import sys

import pytest

BENCHMARKS = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks")


@pytest.fixture
def gpu_benchmark():
    sys.path.insert(0, BENCHMARKS)
    try:
        import gpu
        yield gpu
    finally:
        sys.path.remove(BENCHMARKS)


def test_quick_run_reports_both_runners_for_each_precision(tmp_path, gpu_benchmark, capsys):
    out = tmp_path / "results.json"
    results = gpu_benchmark.main(["--quick", "--device", "cpu", "--models", "seed_cnn",
                                  "--precisions", "fp32,bf16", "--cache-dir", str(tmp_path),
                                  "--json", str(out)])
    rows = results["rows"]
    assert [(r["precision"], r["runner"]) for r in rows] == [
        ("fp32", "estimator"), ("fp32", "hand loop"), ("bf16", "estimator"),
        ("bf16", "hand loop")]
    for row in rows:
        assert row["steps/s"] > 0 and row["images/s"] == pytest.approx(4 * row["steps/s"])
        assert row["wait ms/step"] >= 0 and row["gpu %"] is None  # no GPU: n/a
    assert json.loads(out.read_text())["rows"] == rows
    assert "estimator / hand loop" in capsys.readouterr().out


def test_resnet18_has_resnet18s_parameter_count(gpu_benchmark):
    net = gpu_benchmark.ResNet18(num_classes=1000)
    assert sum(p.numel() for p in net.parameters()) == 11_689_512  # torchvision's resnet18
