"""Edge networks for the register-limit cross-checks (issue 15): hypothesis strategies that drive every
neuron register kind to and past its limit, a block-diagonal packer (many small networks in ONE lava run),
and the two properties every run must satisfy against the compiler's bounds.

Registers driven: the current u (large exponents, fan-in in the thousands, bursts of simultaneous input:
int32 sums past 2^31 and lava's 24-bit wrap), the membrane v (no leak, large bias, tiny thresholds), the
readout (short time constants, many neurons spiking in one step, large e_out: its input register wraps,
y saturates). Parameters stay inside what lava-nc's models take (mantissas [-256, 255], 12-bit decays,
17-bit thresholds, 13-bit bias) and the loihi2 profile accepts (exponents -8..7, fan-in <= 4096).
"""
from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import scipy.sparse as sp
from hypothesis import strategies as st

from neurochip.compiler.artifact import CompiledNetwork

KINDS = ("current", "membrane", "readout")


@st.composite
def shared_params(draw, lava_lif: bool = True):
    """Scalars one lava run shares (decays, threshold, exponents, reset, ...), biased to the extremes."""
    ext = st.sampled_from
    p = dict(
        e_in=draw(st.one_of(ext([-8, 0, 5, 6, 7]), st.integers(-8, 7))),
        e_rec=draw(st.one_of(ext([-8, 0, 6, 7]), st.integers(-8, 7))),
        e_out=draw(st.one_of(ext([-8, 0, 6, 7]), st.integers(-8, 7))),
        du=draw(ext([0, 1, 2048, 4094, 4095])), dv=draw(ext([0, 1, 37, 4095])),
        dk=draw(ext([0, 1, 300, 4095])), vth=draw(ext([0, 1, 100, 5000, (1 << 17) - 1])),
        bias_exp=draw(st.integers(-2, 7)),
    )
    if lava_lif:
        p.update(reset="zero", n_ref=1, kind="lif")
    else:
        kind = draw(ext(["lif", "alif"]))
        p.update(reset=draw(ext(["zero", "subtract"])), n_ref=draw(st.integers(1, 4)), kind=kind)
        if kind == "alif":
            p.update(da=draw(ext([0, 1, 200])), a_inc=draw(ext([1, 300])), beta_shift=draw(st.integers(0, 6)))
    return p


WIDE_IN = (1100, 2500, 4096)       # fan-in in the thousands: input sums past int32 with exponents >= 6
WIDE_OUT = (1100, 2100)            # neurons spiking together into one readout: its input past int32


@st.composite
def sub_network(draw, shape: str | None = None):
    """One small network's own arrays (shapes, weight style, bias, input pattern). ``shape``: 'small',
    'wide_in' (fan-in in the thousands), 'wide_out' (a thousand-plus neurons into the readout, no
    recurrence), or None = drawn (1 in 5 wide_in, 1 in 10 wide_out)."""
    if shape is None:
        k = draw(st.integers(0, 9))
        shape = "wide_in" if k < 2 else ("wide_out" if k == 2 else "small")
    n_in = draw(st.sampled_from(WIDE_IN)) if shape == "wide_in" else draw(st.integers(1, 8))
    n_rec = draw(st.sampled_from(WIDE_OUT)) if shape == "wide_out" else draw(st.integers(1, 8))
    return dict(
        n_in=n_in, n_rec=n_rec, n_out=draw(st.integers(1, 3)),
        style=draw(st.sampled_from(["max_pos", "max_neg", "max_mixed", "uniform", "small"])),
        p_rec=0.0 if shape == "wide_out" else draw(st.sampled_from([0.0, 0.5, 1.0])),
        bias=draw(st.sampled_from([0, 100, 4095])),
        beta=draw(st.sampled_from([0, 50, 4000])),
        pattern=draw(st.sampled_from(["burst", "all", "random", "sparse"])),
        seed=draw(st.integers(0, 2**31 - 1)),
    )


def _weights(rng, shape, style):
    if style == "max_pos":
        return np.full(shape, 255, np.int64)
    if style == "max_neg":
        return np.full(shape, -256, np.int64)
    if style == "max_mixed":
        return np.where(rng.random(shape) < 0.5, 255, -256)
    if style == "small":
        return rng.integers(-3, 4, shape)
    return rng.integers(-256, 256, shape)


def build_sub(sh: dict, sub: dict, T: int):
    """-> (arrays dict, x [T, n_in] uint8) for one sub-network."""
    rng = np.random.default_rng(sub["seed"])
    n_in, n_rec, n_out = sub["n_in"], sub["n_rec"], sub["n_out"]
    w_in = _weights(rng, (n_rec, n_in), sub["style"])
    mask = rng.random((n_rec, n_rec)) < sub["p_rec"]
    np.fill_diagonal(mask, False)
    w_rec = _weights(rng, (n_rec, n_rec), sub["style"]) * mask
    w_out = _weights(rng, (n_out, n_rec), sub["style"] if sub["style"] != "small" else "uniform")
    bias = rng.integers(-sub["bias"], sub["bias"] + 1, n_rec) if sub["bias"] else np.zeros(n_rec, np.int64)
    if n_rec in WIDE_OUT:          # identical neurons spike in the same steps: the readout's worst case
        w_in = np.full((n_rec, n_in), 255, np.int64)
        bias = np.full(n_rec, sub["bias"], np.int64)
        w_out = np.full((n_out, n_rec), 255 if sub["seed"] % 2 else -256, np.int64)
    beta = rng.integers(0, sub["beta"] + 1, n_rec) if (sub["beta"] and sh.get("kind") == "alif") else np.zeros(n_rec, np.int64)
    pat = sub["pattern"]
    if pat == "all":
        x = np.ones((T, n_in), np.uint8)
    elif pat == "burst":
        x = np.zeros((T, n_in), np.uint8)
        x[rng.random(T) < 0.3] = 1                                        # every input at once, some steps
    elif pat == "random":
        x = (rng.random((T, n_in)) < 0.5).astype(np.uint8)
    else:
        x = (rng.random((T, n_in)) < 0.05).astype(np.uint8)
    return dict(w_in=w_in, w_rec=w_rec, w_out=w_out, mask=mask, bias=bias, beta=beta), x


def compiled_from(sh: dict, parts: list[dict], profile=None) -> CompiledNetwork:
    """One CompiledNetwork holding the given sub-networks as independent diagonal blocks (no synapse
    between blocks: each block computes exactly what it computes alone)."""
    w_in = sp.block_diag([p["w_in"] for p in parts]).toarray().astype(np.int32)
    w_rec = sp.block_diag([p["w_rec"] for p in parts]).toarray().astype(np.int32)
    mask = sp.block_diag([p["mask"].astype(np.int8) for p in parts]).toarray().astype(bool)
    w_out = sp.block_diag([p["w_out"] for p in parts]).toarray().astype(np.int32)
    n_out, n_rec = w_out.shape
    n_in = w_in.shape[1]
    n_cores = 2
    core_of = (np.arange(n_rec + n_out) * n_cores // (n_rec + n_out)).astype(np.int32)
    xy = np.stack([np.arange(n_cores), np.zeros(n_cores, int)], axis=1).astype(np.int32)
    return CompiledNetwork(
        profile_name="loihi2-edge", profile=profile, neuron_kind=sh.get("kind", "lif"), reset=sh["reset"],
        n_in=n_in, n_rec=n_rec, n_out=n_out, w_in=w_in, w_rec=w_rec, w_out=w_out, rec_mask=mask,
        e_in=sh["e_in"], e_rec=sh["e_rec"], e_out=sh["e_out"], du=sh["du"], dv=sh["dv"], da=sh.get("da", 0),
        dk=sh["dk"], vth=sh["vth"], bias_mant=np.concatenate([p["bias"] for p in parts]).astype(np.int32),
        bias_exp=sh["bias_exp"], beta_mant=np.concatenate([p["beta"] for p in parts]).astype(np.int32),
        beta_shift=sh.get("beta_shift", 0), a_inc=sh.get("a_inc", 0), n_ref=sh["n_ref"],
        scale_v=6400.0, scale_out=6400.0, b_out=np.zeros(n_out), float_params={},
        core_of=core_of, core_xy=xy, hops=np.abs(xy[:, None, 0] - xy[None, :, 0]).astype(np.int32),
        ls_hops=np.zeros(n_cores, np.int32))


def blocks(parts: list[dict]) -> list[tuple[slice, slice, slice]]:
    """(inputs, recurrent neurons, readouts) slices of each block in the packed network."""
    out, a, b, c = [], 0, 0, 0
    for p in parts:
        n_rec, n_in = p["w_in"].shape
        n_out = p["w_out"].shape[0]
        out.append((slice(a, a + n_in), slice(b, b + n_rec), slice(c, c + n_out)))
        a, b, c = a + n_in, b + n_rec, c + n_out
    return out


def run_native_checked(native, c, x):
    """Native run of ``c`` on ``x`` [B, T, n_in]; asserts the never-silent properties against the compiler's
    bounds and returns (RunResult, bounds):
    - a register kind the bounds call safe has zero overflow events (the bound is sound);
    - 'cannot overflow' => every count is zero; any event => a FixedPointOverflowWarning was issued."""
    from neurochip.compiler.check import FixedPointOverflowWarning, register_bounds

    b = register_bounds(c)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        r = native.run(c, x, record=("spikes", "outputs", "v"))
    ov = r.counts.overflows()
    for k in KINDS:
        if not b["registers"][k]["can_overflow"]:
            assert ov[k] == 0, f"bounds say {k} cannot overflow, the run counted {ov[k]} events: {b['registers'][k]}"
    if not b["can_overflow"]:
        assert not any(ov.values())
    warned = any(issubclass(w.category, FixedPointOverflowWarning) for w in rec)
    assert warned == any(ov.values()), (ov, [str(w.message) for w in rec])
    assert r.counts.saturations == sum(ov.values())
    return r, b


def with_semantics(c, overflow: str):
    """``c`` with a stand-in profile of lava's widths and the given overflow semantics."""
    from types import SimpleNamespace
    f = SimpleNamespace(threshold_shift=6, decay_bits=12, membrane_bits=24, current_bits=24, weight_bits=9,
                        w_min=-256, w_max=255, overflow=overflow)
    return replace(c, profile=SimpleNamespace(format=f, name=f"edge-{overflow}"))


# A hand-written edge case every property test runs first (hypothesis @example): 1,100 identical neurons
# spike together into a readout with e_out = 7 (its input, 1100 x 255 x 2^7 x 2^6, leaves int32), next to
# a 4,096-input block with e_in = 7 (its input sum leaves int32) and a small one.
EXAMPLE_SHARED = dict(e_in=7, e_rec=0, e_out=7, du=0, dv=0, dk=1, vth=100, bias_exp=0, reset="zero", n_ref=1,
                      kind="lif")
EXAMPLE_SUBS = [dict(n_in=3, n_rec=1100, n_out=1, style="max_pos", p_rec=0.0, bias=0, beta=0, pattern="all", seed=1),
                dict(n_in=4096, n_rec=3, n_out=2, style="max_pos", p_rec=0.5, bias=0, beta=0, pattern="burst", seed=2),
                dict(n_in=5, n_rec=6, n_out=2, style="uniform", p_rec=1.0, bias=4095, beta=0, pattern="random", seed=3)]
