"""``neurochip validate ARTIFACT --reference float``: fidelity of a chip run against the float network.

Writes OUTDIR/validate.json (every metric, per-neuron spike agreement, tolerances, failures) and
OUTDIR/validate.png (rasters, readout traces, weight scatter); prints a summary. Exits 4
(`ValidationFailed`) when a ``--tolerance`` is exceeded, after writing the outputs, so it can gate CI.
"""
from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    from ..validate import TOLERANCE_KINDS

    p = sub.add_parser(
        "validate", help="compare a compiled network on a chip backend with its float reference",
        description="Run the compiled network on a chip backend and its float network on the same held-out inputs; "
                    "write OUTDIR/validate.json and validate.png; exit 4 when a --tolerance is exceeded. Spike agreement is the coincidence factor (+-window steps), "
                    "readout error the RMS of the output difference, learning fidelity the cosine of the on-chip "
                    "weight update with the float e-prop update and with the BPTT gradient.")
    p.add_argument("artifact", help="compiled artifact: <stem> of <stem>.npz/.json, or a 'neurochip compile' "
                                    "output directory (uses its compiled.npz)")
    p.add_argument("--reference", choices=["float", "brian2"], default="float",
                   help="float side: 'float' = neurochip.simulate (default), 'brian2' = the brian2 backend")
    p.add_argument("--backend", choices=["native", "lava"], default="native",
                   help="chip backend to validate (default native; lava costs ~1 s start-up per trial plus ~1-10 ms per step)")
    p.add_argument("--learn", action="store_true",
                   help="also run one on-chip weight application and compare it with float e-prop and BPTT "
                        "(needs an artifact compiled with --rule and a --task)")
    p.add_argument("--tolerance", default="",
                   help="comma list name=value; fails (exit 4) when exceeded. Names: " + ", ".join(
                       f"{k} ({'min' if v == 'min' else 'max'})" for k, v in TOLERANCE_KINDS.items())
                   + ". Example: spike_agreement=0.95,readout_nrmse=0.2")
    p.add_argument("--task", choices=["evidence", "pattern", "store_recall"], default=None,
                   help="held-out inputs and targets from this task's test split (default: Poisson inputs)")
    p.add_argument("--trials", type=int, default=8, help="number of held-out trials (default 8)")
    p.add_argument("--steps", type=int, default=500, help="steps per trial for Poisson inputs (time steps of dt ms)")
    p.add_argument("--rate", type=float, default=20.0, help="Poisson input rate, Hz (without --task; default 20)")
    p.add_argument("--window", type=int, default=2, help="coincidence window, +- steps (default 2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the held-out inputs and of stochastic rounding")
    p.add_argument("-o", "--out", required=True, help="output directory (created; refused if non-empty unless --force)")
    p.add_argument("--force", action="store_true", help="replace a non-empty output directory whole")
    p.set_defaults(func=run)


def _load(artifact: str):
    from ..compiler.artifact import CompiledNetwork

    a = Path(artifact)
    if a.is_dir():
        a = a / "compiled"
    return CompiledNetwork.load(a)


def run(args) -> int:
    from ..io import staged_output_dir, write_json
    from ..validate import make_inputs, parse_tolerances, plot_validation, raise_if_failed, validate

    tol = parse_tolerances(args.tolerance)
    if args.window < 0:
        from ..errors import ConfigError
        raise ConfigError(f"--window must be >= 0 steps, got {args.window}")
    cn = _load(args.artifact)
    inputs = make_inputs(cn, task=args.task, trials=args.trials, steps=args.steps, rate_hz=args.rate, seed=args.seed)
    report, plot = validate(cn, backend=args.backend, reference=args.reference, learn=args.learn, inputs=inputs,
                            window=args.window, tolerances=tol, seed=args.seed)
    report["artifact"] = str(args.artifact)
    with staged_output_dir(args.out, force=args.force) as d:
        write_json(d / "validate.json", report)
        plot_validation(plot, d / "validate.png",
                        f"{args.backend} vs {args.reference} - {cn.profile_name} - {inputs.source}")
    m = report["metrics"]
    lines = [f"validate {args.artifact}: {args.backend} vs {args.reference} reference, {inputs.source}",
             f"  spike agreement {m['spike_agreement']:.4f} (+-{args.window} steps; exact {m['spike_agreement_exact']:.4f}), "
             f"van Rossum {m['van_rossum']:.4f}, rates chip {m['rate_chip_hz']:.2f} Hz / float {m['rate_ref_hz']:.2f} Hz",
             f"  readout RMS error {m['readout_rms']:.4g} (normalised {m['readout_nrmse']:.4g}), "
             f"weight quantisation drift {m['weight_drift']:.4g}"]
    if "accuracy_chip" in m:
        lines.append(f"  accuracy chip {m['accuracy_chip']:.4f} / float {m['accuracy_ref']:.4f} (drop {m['accuracy_drop']:+.4f})")
    if "loss_delta" in m:
        lines.append(f"  loss delta {m['loss_delta']:+.4g}")
    if "cosine_eprop" in m:
        lines.append(f"  on-chip update: cosine vs float e-prop {m['cosine_eprop']:.4f}, vs BPTT {m['cosine_bptt']:.4f}, "
                     f"norm ratio {m['update_norm_ratio']:.3g}, learned-weight drift {m['learned_weight_drift']:.3g}")
    lines.append(f"  {'PASSED' if report['passed'] else 'FAILED: ' + '; '.join(report['failures'])}"
                 f"  -> {Path(args.out) / 'validate.json'}, {Path(args.out) / 'validate.png'}")
    print("\n".join(lines))
    raise_if_failed(report)
    return 0
