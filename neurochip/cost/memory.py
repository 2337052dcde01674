"""On-chip memory (bits) held by a compiled network: weights, neuron state, learning state, feedback.

Widths come from the profile's ``[format]`` (weight_bits, membrane_bits, current_bits, trace_bits)
and ``[core]`` (syn_overhead_bits: index/delay/tag bits stored beside each weight); nothing is
hard-coded. Formulas (N = n_rec, K = n_out, S_in = N n_in, S_rec = existing recurrent synapses,
S_out = K N, b_w = weight_bits + syn_overhead_bits, b_t = trace_bits):

    weights      = (S_in + S_rec + S_out) * b_w
    neuron state = N (membrane_bits + current_bits [+ membrane_bits for ALIF's a] [+ refractory
                   counter ceil(log2(n_ref + 1)) bits when n_ref > 1]) + K membrane_bits (readout y)
    learning (e-prop, factorised, ReckOn-style per-neuron traces):
                   (n_in + N) b_t (presynaptic traces z_bar) + (n_in + N) (b_t + 5) (their kappa-filtered
                   copies, the factorised eligibility's pre factor: < tmax / (1 - kappa) + tmax, 5 more bits
                   for a readout time constant up to ~30 steps) + N b_t (psi) + N b_t (kappa-filtered spikes for
                   the readout update) [+ N b_t ALIF adaptation eligibility]
    learning (per-synapse): presynaptic traces (n_in + N) b_t + N b_t (psi) + N b_t (readout trace)
                   + (S_in + S_rec) b_t (filtered eligibility e_bar) [+ (S_in + S_rec) b_t ALIF eps]
    accumulators = (S_in + S_rec + S_out) acc_bits when the compiled rule keeps per-synapse
                   weight-change accumulators between epoch boundaries (our kernel: CompiledRule.acc_bits);
                   none for in-place updates (no compiled rule)
    feedback B   = N K weight_bits: the compiled rule's B_mant (for symmetric e-prop a copy of W_out^T);
                   without a compiled rule, 0 for symmetric e-prop (W_out read transposed, non-local).
With a compiled rule its widths (trace_bits, elig_bits, acc_bits, adapt) replace the profile's.

    learning (STDP family on a sum-of-products plasticity engine, `engine_state_bits`; the artifact's
                   ``plasticity`` lowering on W_in): 7-bit traces x1 / x2 per input neuron and y1 / y2 / y3
                   per recurrent neuron, each only if a product of the rule reads it (R-STDP's reward arrives in
                   y2 / y3), plus a 9-bit synaptic tag (8 bits + sign: tag_1 't', tag_2 'd') per input synapse for
                   each tag the rule writes or reads. Widths are lava-nc's LearningDense / Loihi 2's
                   (`kernels.stdp_fixed.FACTOR_WIDTH`); no e-prop state, no feedback matrix.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..backend_contract import io_synapses


def n_existing(mask) -> int:
    """Existing synapses in a mask (dense bool array or scipy.sparse matrix)."""
    import scipy.sparse as sp
    return int(mask.count_nonzero()) if sp.issparse(mask) else int(np.asarray(mask, dtype=bool).sum())


def neuron_state_bits(n_rec: int, n_out: int, fmt, *, kind: str = "lif", n_ref: int = 1) -> dict[str, int]:
    """Bits of recurrent and readout neuron state."""
    per = fmt.membrane_bits + fmt.current_bits
    if kind == "alif":
        per += fmt.membrane_bits  # adaptation variable a, held at membrane width
    ref_bits = math.ceil(math.log2(n_ref + 1)) if (n_ref > 1 and getattr(fmt, "refractory", True)) else 0
    return {"recurrent": n_rec * (per + ref_bits), "readout": n_out * fmt.membrane_bits,
            "bits_per_neuron": per + ref_bits}


def learning_state_bits(n_in: int, n_rec: int, n_plastic: int, fmt, *, eligibility: str = "factorised",
                        kind: str = "lif", n_out: int = 0, trace_bits: int | None = None,
                        elig_bits: int | None = None, acc_bits: int | None = None,
                        n_readout: int | None = None) -> dict[str, int]:
    """Bits of e-prop learning state (traces/eligibility); independent of the trial length T.

    trace_bits / elig_bits default to the profile's ``trace_bits``; ``acc_bits`` (per-synapse weight-change
    accumulators over input, recurrent and readout synapses, as our on-chip kernel keeps between epoch
    boundaries) defaults to None = updates applied in place (Loihi / ReckOn style, no accumulator).
    ``n_plastic`` = input + recurrent synapses; ``n_readout`` = readout synapses (default n_out n_rec)."""
    tb = fmt.trace_bits if trace_bits is None else trace_bits
    eb = tb if elig_bits is None else elig_bits
    d = {"pre_traces": (n_in + n_rec) * tb, "psi": n_rec * tb, "readout_trace": n_rec * tb}
    if eligibility == "per_synapse":
        d["eligibility"] = n_plastic * eb
        if kind == "alif":
            d["adaptation_eligibility"] = n_plastic * eb
    elif eligibility == "factorised":
        d["kappa_pre_traces"] = (n_in + n_rec) * (tb + 5)
        if kind == "alif":
            d["adaptation_eligibility"] = n_rec * tb
    else:
        raise ValueError(f"eligibility must be 'per_synapse' or 'factorised', got {eligibility!r}")
    if acc_bits:
        d["accumulators"] = (n_plastic + (n_out * n_rec if n_readout is None else n_readout)) * acc_bits
    d["total"] = sum(d.values())
    return d


def engine_state_bits(products, n_pre: int, n_post: int, n_syn: int) -> dict[str, int]:
    """Bits of a plasticity engine's state for one plastic projection of ``n_syn`` synapses between ``n_pre``
    and ``n_post`` neurons, for the sum-of-products rule ``products`` (`compiler.lower_stdp.Product` list):
    the traces its products read (x1, x2 per pre neuron; y1, y2, y3 per post neuron; 7 bits each) and the
    synaptic tags they write or read (tag_1 't', tag_2 'd'; 9 bits each per synapse)."""
    from ..kernels import stdp_fixed as sf
    read = {int(f[0]) for p in products for f in p.factors}
    written = {int(p.target) for p in products}
    d: dict[str, int] = {}
    for code, name, n in ((sf.X1, "x1", n_pre), (sf.X2, "x2", n_pre), (sf.Y1, "y1", n_post),
                          (sf.Y2, "y2", n_post), (sf.Y3, "y3", n_post)):
        if code in read:
            d[f"trace_{name}"] = n * int(sf.FACTOR_WIDTH[code])
    for code, name in ((sf.FT, "tag_1"), (sf.FD, "tag_2")):
        if code in read or sf.TARGETS.index(name) in written:     # a product's target indexes sf.TARGETS
            d[name] = n_syn * int(sf.FACTOR_WIDTH[code])
    d["total"] = sum(d.values())
    return d


def _rule_info(compiled, rule) -> tuple[str | None, str | None]:
    """(rule name, eligibility) from an explicit rule, else the compiled rule, else None."""
    r = rule if rule is not None else getattr(compiled, "rule", None)
    if r is None:
        return None, None
    name = getattr(r, "name", None) or getattr(r, "rule", None)
    elig = getattr(r, "eligibility", None)
    return (str(name) if name is not None else None), (str(elig) if elig is not None else None)


def memory(compiled, profile=None, rule=None, *, learn: bool | None = None,
           engine_products=None) -> dict[str, Any]:
    """Memory report for a `CompiledNetwork` (JSON-able). ``profile`` defaults to ``compiled.profile``;
    ``rule`` (LearningRule or CompiledRule) defaults to ``compiled.rule``; learning state is counted when
    a rule is known or ``learn`` is True (then e-prop random feedback with the profile's first
    eligibility option, or factorised). A plasticity-engine rule (``engine_products``, or the artifact's
    ``plasticity`` lowering unless ``learn`` is False or another rule is given) counts the engine's
    traces and tags instead (`engine_state_bits`)."""
    p = profile if profile is not None else compiled.profile
    fmt, core = p.format, p.core
    n_in, n_rec, n_out = int(compiled.n_in), int(compiled.n_rec), int(compiled.n_out)
    s_in, s_out = io_synapses(compiled)
    s_rec = n_existing(compiled.rec_mask)
    b_w = fmt.weight_bits + core.syn_overhead_bits
    weights = {"input": s_in * b_w, "recurrent": s_rec * b_w, "readout": s_out * b_w,
               "synapses": s_in + s_rec + s_out, "bits_per_synapse": b_w}
    weights["total"] = weights["input"] + weights["recurrent"] + weights["readout"]
    kind = str(compiled.neuron_kind)
    ns = neuron_state_bits(n_rec, n_out, fmt, kind=kind, n_ref=int(compiled.n_ref))
    ns["total"] = ns["recurrent"] + ns["readout"]
    name, elig = _rule_info(compiled, rule)
    learning = None
    feedback = 0
    plastic = getattr(compiled, "plasticity", None)
    if engine_products is None and plastic is not None and learn is not False and rule is None:
        from ..compiler.lower_stdp import lowering_from_settings
        engine_products, name = lowering_from_settings(plastic).products, str(plastic["rule"])
    if engine_products is not None:
        learning = engine_state_bits(engine_products, n_in, n_rec, s_in)
        learning["eligibility_kind"] = "plasticity engine (W_in)"
        learning["widths_from"] = "kernels.stdp_fixed (lava LearningDense)"
    elif name is not None or learn:
        if elig is None:
            elig = p.learning.eligibility[0] if p.learning.eligibility else "factorised"
        cr = rule if (rule is not None and hasattr(rule, "B_mant")) else getattr(compiled, "rule", None)
        cr = cr if hasattr(cr, "B_mant") else None           # a CompiledRule carries the on-chip widths
        adapt = kind == "alif" and (cr is None or bool(getattr(cr, "adapt", True)))
        learning = learning_state_bits(
            n_in, n_rec, s_in + s_rec, fmt, eligibility=elig, kind="alif" if adapt else "lif", n_out=n_out,
            trace_bits=getattr(cr, "trace_bits", None), elig_bits=getattr(cr, "elig_bits", None),
            acc_bits=getattr(cr, "acc_bits", None), n_readout=s_out)
        learning["eligibility_kind"] = elig
        learning["widths_from"] = "compiled rule" if cr is not None else "profile [format].trace_bits"
        name = name or "eprop_random"
        if cr is not None:
            # The compiled rule holds B on chip (for symmetric e-prop a copy of W_out^T).
            feedback = int(np.asarray(cr.B_mant).size) * int(getattr(cr, "weight_bits", fmt.weight_bits))
        else:
            feedback = 0 if name == "eprop_symmetric" else n_rec * n_out * fmt.weight_bits
    total = weights["total"] + ns["total"] + (learning["total"] if learning else 0) + feedback
    n_cores = int(compiled.n_cores)
    capacity = n_cores * core.syn_mem_bits
    out: dict[str, Any] = {
        "weights_bits": weights, "neuron_state_bits": ns, "learning_state_bits": learning,
        "feedback_bits": feedback, "rule": name, "total_bits": total, "total_kib": total / 8192.0,
        "n_cores": n_cores, "core_syn_mem_bits": core.syn_mem_bits,
        "synaptic_memory_utilisation": (weights["total"] + feedback) / capacity if capacity else None,
    }
    if core.learn_state_bits is not None and learning:
        out["learning_state_utilisation"] = learning["total"] / (n_cores * core.learn_state_bits)
    return out
