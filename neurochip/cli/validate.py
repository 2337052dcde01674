"""``neurochip validate ARTIFACT --reference float``: fidelity of a chip run against the float network.

Writes OUTDIR/validate.json (every metric, per-neuron spike agreement, tolerances, failures) and
OUTDIR/validate.png (rasters, readout traces, weight scatter); prints a summary. Exits 4
(`ValidationFailed`) when a tolerance fails - the defaults (accuracy drop; per-matrix on-chip update
cosine and norm ratio with --learn) or a ``--tolerance`` - after writing the outputs, so it gates CI.
Backends are chosen by their declared capabilities (fixed-point for the chip side, float and taking a
Network for a backend reference), not by name.
"""
from __future__ import annotations

from pathlib import Path

from ..tasks import TASKS


def add_parser(sub) -> None:
    from ..validate import DEFAULT_LEARNING_TOLERANCES, DEFAULT_TOLERANCES, TOLERANCE_KINDS

    p = sub.add_parser(
        "validate", help="compare a compiled network on a chip backend with its float reference",
        description="Run the compiled network on a chip backend and its float network on the same held-out inputs; "
                    "write OUTDIR/validate.json and validate.png; exit 4 when a tolerance fails (defaults below, or "
                    "--tolerance). Spike agreement is the coincidence factor (+-window steps), "
                    "readout error the RMS of the output difference, learning fidelity the cosine of the on-chip "
                    "weight update with the float e-prop update and with the BPTT gradient.")
    p.add_argument("artifact", help="compiled artifact: <stem> of <stem>.npz/.json, or a 'neurochip compile' "
                                    "output directory (uses its compiled.npz)")
    p.add_argument("--reference", default="float",
                   help="float side: 'float' = neurochip.simulate (default), or a backend declaring float arithmetic "
                        "that takes a Network (brian2)")
    p.add_argument("--backend", default="native",
                   help="chip backend to validate: one declaring fixed-point arithmetic (native, default; lava costs "
                        "~1 s start-up per trial plus ~1-10 ms per step, and learns only part of the rule)")
    p.add_argument("--learn", action="store_true",
                   help="also run one on-chip weight application and compare it with float e-prop and BPTT "
                        "(needs an artifact compiled with --rule and a --task)")
    p.add_argument("--learn-trials", type=int, default=None,
                   help="with --learn: trials of the task's 'train' split the on-chip rule learns on (as 'neurochip "
                        "run --learn --trials'; the demo's [onchip] trials); default: learn on the --trials held-out "
                        "trials themselves")
    p.add_argument("--epochs", type=int, default=1,
                   help="with --learn: passes of on-chip learning over the learning trials (default 1)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="with --learn: trials per weight application (default: the compiled rule's batch, at most "
                        "the learning trials)")
    p.add_argument("--tolerance", default="",
                   help="comma list name=value (or name=off to drop a default); fails (exit 4) when exceeded. Names: "
                   + ", ".join(f"{k} ({'min' if v == 'min' else 'max'})" for k, v in TOLERANCE_KINDS.items())
                   + ". Defaults: " + ", ".join(f"{k}={v:g}" for k, v in DEFAULT_TOLERANCES.items())
                   + " (with a classification --task); with --learn, per trained matrix: "
                   + ", ".join(f"{k}={v:g}" for k, v in DEFAULT_LEARNING_TOLERANCES.items())
                   + ". Example: spike_agreement=0.95,readout_nrmse=0.2")
    p.add_argument("--task", choices=list(TASKS), default=None,
                   help="held-out inputs and targets from this task's test split (default: Poisson inputs)")
    p.add_argument("--trials", type=int, default=8, help="number of held-out trials (default 8)")
    p.add_argument("--steps", type=int, default=500, help="steps per trial for Poisson inputs (time steps of dt ms)")
    p.add_argument("--rate", type=float, default=20.0, help="Poisson input rate, Hz (without --task; default 20)")
    p.add_argument("--window", type=int, default=2, help="coincidence window, +- steps (default 2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the held-out inputs and of stochastic rounding")
    p.add_argument("-o", "--out", required=True, help="output directory (created; refused if non-empty unless --force)")
    p.add_argument("--force", action="store_true", help="replace a non-empty output directory whole")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..io import staged_output_dir, write_json
    from ..backends import require
    from ..errors import ConfigError
    from ..validate import make_inputs, parse_tolerances, plot_validation, raise_if_failed, validate

    tol = parse_tolerances(args.tolerance)
    if args.window < 0:
        raise ConfigError(f"--window must be >= 0 steps, got {args.window}")
    for name in ("trials", "steps", "learn_trials", "epochs", "batch_size"):   # one line each, before any work
        v = getattr(args, name)
        if v is not None and v < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be an integer >= 1, got {v}")
    # capabilities checked before anything runs (one line naming the backends that can)
    require(args.backend, arithmetic="fixed", learns=args.learn, purpose="as the chip side of a validation")
    if args.reference != "float":
        require(args.reference, arithmetic="float", accepts_network=True, purpose="as the float reference")
    if args.learn and not args.task:
        raise ConfigError("--learn needs targets: pass --task")
    from ..compiler.artifact import CompiledNetwork
    cn = CompiledNetwork.load(args.artifact)         # stem, .npz, .json or a compile output directory
    task = None
    if args.task:
        from ..tasks import get_task
        task = get_task(args.task, seed=args.seed)
    check_memory(cn, args, task)                     # impossible trial counts refused before any allocation
    inputs = make_inputs(cn, task=args.task, trials=args.trials, steps=args.steps, rate_hz=args.rate, seed=args.seed)
    learn_batch = None
    if args.learn and args.learn_trials is not None:
        # a training draw as the demo's validate stage takes it (task.batch(onchip trials, 'train', 0))
        learn_batch = task.batch(int(args.learn_trials), "train", 0)
    report, plot = validate(cn, backend=args.backend, reference=args.reference, learn=args.learn, inputs=inputs,
                            window=args.window, tolerances=tol, seed=args.seed, learn_batch=learn_batch,
                            learn_epochs=args.epochs, learn_batch_size=args.batch_size)
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
    for n, d in (m.get("learning_per_projection") or {}).items():
        vs_bptt = f", vs BPTT {d['cosine_bptt']:.3f}" if "cosine_bptt" in d else ""   # plasticity rules: no BPTT
        if "cosine_rule_amplitudes" in d:     # plasticity rules: also against the rule's own (unquantised) amplitudes
            vs_bptt += f" (at the rule's own amplitudes {d['cosine_rule_amplitudes']:.3f})"
        lines.append(f"  on-chip update {n}: cosine vs float {d['float_rule']} {d['cosine']:.3f}{vs_bptt}, "
                     f"norm ratio {d['norm_ratio']:.3g}, synapses moved {100 * d['moved_fraction']:.2g} %")
    lines += one_update_lines(m.get("learning_one_update") or {})
    lines.append(f"  {'PASSED' if report['passed'] else 'FAILED: ' + '; '.join(report['failures'])}"
                 f"  -> {Path(args.out) / 'validate.json'}, {Path(args.out) / 'validate.png'}")
    print("\n".join(lines))
    raise_if_failed(report)
    return 0


def one_update_lines(one: dict) -> list[str]:
    """The report's lines for `learning_one_update` (per trained matrix: cosine with the float rule's step on
    the float pass and on the chip's own pass), and a note when a matrix misses 0.9 on the float pass only:
    then the learning arithmetic follows the float rule and the gap is the forward pass's trial-level noise,
    which shrinks with more trials per update (docs/onchip_learning.md, "One accumulated update by batch
    size": on the demo network 1,024 trials meet 0.9 on every matrix)."""
    lines, pass_gap = [], []
    for n, d in one.items():
        if isinstance(d, dict):
            lines.append(f"  one update ({one['trials']} trials) {n}: cosine vs the float rule on the float pass "
                         f"{d['cosine_float_pass']:.3f}, on the chip's own pass {d['cosine_chip_pass']:.3f}")
            if d["cosine_float_pass"] < 0.9 <= d["cosine_chip_pass"]:
                pass_gap.append(n)
    if pass_gap:
        lines.append(f"  note: on the chip's own forward pass the update of {', '.join(pass_gap)} follows the float "
                     f"rule; the float-pass gap is spikes the fixed-point pass flips, noise that shrinks with more "
                     f"trials per update (--batch-size; docs/onchip_learning.md, 'One accumulated update by batch size')")
    return lines


def check_memory(cn, args, task) -> float:
    """`ConfigError` (one line) when the held-out trials (chip run + float reference) and, with --learn, the
    learning trials (chip learning run + the float trace of the e-prop / BPTT comparison) cannot fit in the
    memory available (`neurochip.trial_memory`); returns the estimate in bytes."""
    from ..trial_memory import check_trials_memory, trial_bytes
    steps = task.n_steps if task is not None else args.steps
    loss = getattr(task, "loss", "ce")
    held = trial_bytes(cn.n_in, cn.n_rec, cn.n_out, steps, loss=loss, float_reference=True)
    parts = [("--trials", args.trials, held)]
    if args.learn:
        learn = trial_bytes(cn.n_in, cn.n_rec, cn.n_out, steps, loss=loss, history=True)
        if args.learn_trials is None:     # learning on the held-out trials: their float history on top
            parts = [("--trials", args.trials, held + learn)]
        else:
            parts.append(("--learn-trials", args.learn_trials, learn))
    return check_trials_memory(parts)
