"""``neurochip chips``: list the shipped chip profiles with their key limits."""
from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser("chips", help="list chip profiles and their key limits",
                       description="List the shipped chip profiles (or the given .toml files) with cores, neurons "
                                   "per core, synaptic memory per core (KiB), fan-in, weight bits, membrane bits, "
                                   "learning support and how many per-event costs are published.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("profiles", nargs="*", help="profile names or .toml paths (default: every shipped profile)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..chips.profile import builtin_profiles, load_profile
    from ..compiler.table import table
    names = args.profiles or builtin_profiles()
    rows = []
    for n in names:
        p = load_profile(n)
        f, c, lc = p.format, p.core, p.learning
        learn = (",".join(lc.eligibility) + ("+3rd" if lc.third_factor else "")) if lc.supported else "no"
        costs = ",".join(f"{k}:{v.grade}" for k, v in p.costs.items()) or "none published"
        rows.append([p.name, p.mesh.cores, c.max_neurons, c.syn_mem_bits / 8192, c.max_fan_in, c.max_fan_out,
                     f"{f.weight_bits}b e[{f.weight_exp_min},{f.weight_exp_max}]", f.membrane_bits, f.trace_bits,
                     "/".join(f.resets), "yes" if f.adaptation else "no", learn, costs])
    print(table(["chip", "cores", "neurons/core", "syn KiB/core", "fan-in", "fan-out", "weights", "membrane b",
                 "trace b", "resets", "ALIF", "learning", "costs (grade)"], rows))
    return 0
