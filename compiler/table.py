"""The compile report as plain-text tables (aligned columns) for the CLI."""
from __future__ import annotations


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def table(headers: list[str], rows: list[list]) -> str:
    cells = [[_fmt(c) for c in r] for r in rows]
    w = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = lambda r: "  ".join(c.rjust(w[i]) if i else c.ljust(w[i]) for i, c in enumerate(r))
    return "\n".join([line(headers), line(["-" * x for x in w])] + [line(r) for r in cells])


def plasticity_text(pl: dict) -> str:
    """The STDP-family lowering of the report (``report['plasticity']``): the engine's rule strings and the
    constants chosen (amplitudes m * 2^e in weight units, trace taus in steps, tag scale)."""
    c = pl.get("constants") or {}
    amp = ", ".join(f"{k} {v[0]}*2^{v[1]}" for k, v in c.items() if isinstance(v, list) and len(v) == 2)
    lines = [f"on-chip rule {pl.get('rule')} on W_in, lowered to the plasticity engine (sum of products, lava syntax):"]
    lines += [f"  {k} = {v}" for k, v in (pl.get("lava") or {}).items() if v]
    lines.append(f"  W_in LSB {c.get('w_lsb', float('nan')):.4g}, trace impulse {c.get('impulse')}, tau+ / tau- "
                 f"{c.get('tau_plus_steps')} / {c.get('tau_minus_steps')} steps, sign mode {c.get('sign_mode')}"
                 + (f"; {amp}" if amp else "")
                 + (f"; tag decay 2^-{c['tag_decay_k']} per step, calibrated |e|max {c['calib_emax']:.4g}"
                    if "tag_decay_k" in c else ""))
    return "\n".join(lines)


def report_text(report: dict, max_cores: int = 24) -> str:
    """Summary, quantisation per projection, per-core resources (first ``max_cores``), traffic."""
    n = report["network"]
    p = report["partition"]
    q = report["quantize"]
    r = report["route"]
    out = [f"compiled for {report['profile']}: {n['n_in']} inputs, {n['n_rec']} {n['kind']} neurons, {n['n_out']} readouts, "
           f"{sum(n['synapses'].values())} synapses -> {p['n_cores']} cores (reset '{report['check']['reset']}'"
           + (f", approximations: {', '.join(report['check']['approximations'])}" if report['check']['approximations'] else "") + ")"]
    out.append("")
    out.append(table(["projection", "synapses", "exponent", "LSB", "RMS error", "rel RMS", "max |err|", "saturated", "zeroed"],
                     [[k, v["n"], v["exp"], v["lsb"], v["rms_error"], v["rel_rms_error"], v["max_abs_error"],
                       f"{v['saturated_fraction']:.2%}", f"{v['zeroed_fraction']:.2%}"] for k, v in q["projections"].items()]))
    out.append(f"scale_v {q['scale_v']:.6g} v-units per float unit, vth {q['vth']} (<< shift = {q['vth_eff']}), "
               f"scale_out {q['scale_out']:.6g}, decays du/dv/da/dk = {q['decays']['du']}/{q['decays']['dv']}/"
               f"{q['decays']['da']}/{q['decays']['dk']}, rounding {q['rounding']}")
    out.append("")
    rl = report.get("rule") or {}
    if rl.get("status") == "lowered":
        out.append(rule_text(rl, n["kind"]))
        out.append("")
    pl = report.get("plasticity")
    if pl:
        out.append(plasticity_text(pl))
        out.append("")
    pc = p["per_core"]
    lim = p["limits"]
    k = len(pc["neurons"])
    rows = [[c, pc["neurons"][c], pc["syn_bits"][c], f"{pc['syn_bits'][c] / lim['syn_mem_bits']:.0%}", pc["fan_in"][c],
             pc["fan_out"][c], pc["learn_bits"][c]] for c in range(min(k, max_cores))]
    out.append(table(["core", f"neurons/{lim['max_neurons']}", "syn bits", "syn mem", f"fan-in/{lim['max_fan_in']}",
                      f"fan-out/{lim['max_fan_out']}", "learn bits"], rows))
    if k > max_cores:
        out.append(f"... {k - max_cores} more cores (see report.json)")
    out.append("")
    ls = r["learning_signal"]
    out.append(table(["traffic (per step, at %.3g Hz)" % p["rate_hz_mean"], "value"], [
        ["cut synapses (between cores)", p["cut_synapses"]],
        ["inter-core spike packets", p["inter_core_packets_per_step"]],
        ["spike hops", r["spike_hops_per_step"]],
        ["mean hops per inter-core packet", r["mean_hops_per_inter_core_packet"]],
        ["learning-signal messages", ls["messages_per_step"]],
        ["learning-signal hops", ls["hops_per_step"]],
        ["total hops", r["total_hops_per_step"]],
        ["learning state (bits)", report["learning_state_bits"]],
    ]))
    return "\n".join(out)


def rule_text(rl: dict, kind: str) -> str:
    """One paragraph on the lowered on-chip rule: form, rounding, rate, widths, and what the form drops."""
    w = rl.get("widths", {})
    lr = rl.get("lr", {})
    lr_s = f"lr {lr.get('float')} ({lr.get('mode')})" if isinstance(lr, dict) else f"lr {lr}"
    line = (f"on-chip rule {rl.get('rule')}: {rl.get('eligibility')} eligibility, weight rounding {rl.get('rounding')}, "
            f"trace rounding {rl.get('trace_rounding')}, {lr_s}, batch {rl.get('batch')}; widths trace {w.get('trace')}, "
            f"eligibility {w.get('elig')}, accumulator {w.get('accumulator')} ({w.get('frac')} below the weight LSB)")
    if "alif" in str(kind).lower() and not rl.get("adaptation_eligibility", True):
        why = ("the factorised (per-neuron) form has no per-synapse eps^a" if rl.get("eligibility") == "factorised"
               else "the rule does not keep it")
        line += (f"\nnote: the adaptation eligibility (eps^a) is dropped ({why}); on ALIF tasks whose memory lives in "
                 f"the adaptation this learns worse than e-prop (docs/onchip_learning.md); per_synapse keeps it")
    elif "alif" in str(kind).lower() and rl.get("eligibility") == "per_synapse" and rl.get("trace_rounding") == "trunc":
        line += ("\nnote: with truncating trace rounding the adaptation eligibility's per-step change (below one trace "
                 "LSB) is lost at narrow traces; stochastic trace rounding keeps it (docs/fixed_point.md)")
    if rl.get("trace_rounding_warning"):
        line += f"\nwarning: {rl['trace_rounding_warning']}"
    return line
