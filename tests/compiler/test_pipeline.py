"""compile() as a driver over named passes (issue 12): order, skipping, timing, callback, warning location."""
import warnings

import pytest

from neurochip.compiler import CompiledNetwork, compile
from neurochip.compiler.bounds import FixedPointOverflowWarning
from neurochip.compiler.pipeline import PASSES
from neurochip.rules import LearningRule


def test_passes_in_order_with_and_without_rule(small_net):
    names = [p.name for p in PASSES]
    assert names == ["graph", "check", "quantize", "lower_rule", "partition", "place", "route", "emit", "lower_plasticity"]
    eprop = [n for n in names if n != "lower_plasticity"]          # an e-prop rule: no plasticity lowering
    seen = []
    cn = compile(small_net, "loihi2", LearningRule("eprop_random"), callback=lambda n, x: seen.append((n, x)))
    assert [n for n, _ in seen] == eprop
    assert set(cn.report["timing_s"]) == set(eprop) and all(t >= 0 for t in cn.report["timing_s"].values())
    assert seen[3][1] is cn.rule and seen[-1][1] is cn          # each callback gets that pass's own result
    seen.clear()
    cn = compile(small_net, "loihi2", callback=lambda n, x: seen.append((n, x)))
    assert [n for n, _ in seen] == [n for n in eprop if n != "lower_rule"]     # skipped: no result, no time
    assert "lower_rule" not in cn.report["timing_s"] and cn.rule is None and isinstance(seen[-1][1], CompiledNetwork)
    seen.clear()              # an STDP-family rule: lowered after emit, into the artifact's plasticity
    cn = compile(small_net, "loihi2", LearningRule("stdp", lr=10.0), callback=lambda n, x: seen.append((n, x)))
    assert [n for n, _ in seen] == [n for n in names if n != "lower_rule"] and seen[-1][1] is cn
    assert cn.rule is None and cn.plasticity["rule"] == "stdp"


def test_overflow_warning_points_at_the_caller(small_net):
    """The register-bound warning names the line that called compile(), not the compiler's internals."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        compile(small_net, "loihi2", LearningRule("eprop_random"))
    ours = [x for x in w if issubclass(x.category, FixedPointOverflowWarning)]
    if not ours:
        pytest.skip("this network cannot overflow a register on loihi2")
    assert ours[0].filename == __file__
