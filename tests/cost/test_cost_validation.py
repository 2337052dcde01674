"""The energy model reproduces TrueNorth's published all-in energy per synaptic event within the stated factor."""
from __future__ import annotations

import pytest

from neurochip.cost import validation


def test_truenorth_per_event_model_within_factor():
    v = validation.validate_truenorth()
    assert v["model_complete"]
    assert 1 / validation.FACTOR <= v["ratio"] <= validation.FACTOR, v
    # The published figure itself: 26 pJ x 2.68e9 events/s ~ 70 mW (the paper's 63-72 mW).
    assert 60 <= v["published_power_mw"] <= 75


def test_all_in_profile_reproduces_exactly():
    v = validation.validate_truenorth()
    assert v["all_in_model_pj_per_sop"] == pytest.approx(validation.PUBLISHED_PJ_PER_SOP)
