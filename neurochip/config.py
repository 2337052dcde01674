"""The pipeline configuration (TOML): task, network, rule, training, chip, backends, validation, cost.

Every subcommand reads the same file with ``--config FILE``; command-line options override it. The
embedded default (`DEFAULT`) is what ``neurochip demo`` runs with no files from the user: an ALIF
network trained with random e-prop on evidence accumulation, compiled to Loihi 2.

Sections and keys (units in brackets)::

    [task]     name ('evidence' | 'pattern' | 'store_recall'), seed, plus task-specific options
    [network]  n_rec, n_adaptive, p_rec (recurrent connection probability), seed, and any NeuronParams
               field: kind, dt [ms], tau_m [ms], tau_a [ms], tau_out [ms], v_th, n_ref [steps],
               gamma_pd, scaled_input, scaled_readout
    [rule]     any LearningRule field: name, lr, optimizer, reg_rate, target_rate_hz [Hz], ...
    [train]    iterations, batch_size, seed, test_trials
    [chip]     name (shipped profile or .toml path), rounding ('nearest' | 'stochastic')
    [onchip]   trials (training trials learned on chip), epochs (passes over them), batch_size (trials
               per weight application), lr (on-chip SGD rate; None = the compiled rule's), lr_decay and
               lr_decay_every (step schedule: the rate x lr_decay every lr_decay_every iterations; 1, 0.5, 0.25, ...;
               the float continuation beside it follows it too), eligibility ('per_synapse' | 'factorised';
               None = the rule's), rounding ('nearest' | 'stochastic'; None = the profile's); the draw and rounding seed is [task] seed
    [scratch]  enabled, iterations, batch_size, lr, eligibility: the main job's "learn from scratch" stage
               (`neurochip.scratch`: a one-cue evidence network learns on the chip from random weights)
    [lava]     trials (held-out trials checked bit for bit on lava), timeout_s [s]
    [validate] trials, spike_agreement (minimum, 0..1), max_accuracy_drop (fraction; default: validate's own
               default, `neurochip.tolerances.DEFAULT_TOLERANCES`): tolerances reported in the summary (the demo
               still writes its report when they fail)
    [bench]    chips (list), compare_bptt (bool), trials

`validate_config` checks the whole file before any work starts: every value's type and range, that the
chips exist, that the network fits in memory, and (for the main job) that the untrained network with its
rule compiles to the chip. `CLI_KEYS` says which options of each subcommand a config sets; the CLI applies
them (`apply_to_args`) only where the option was not given on the command line.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .tolerances import DEFAULT_TOLERANCES

DEFAULT: dict[str, dict[str, Any]] = {
    "task": {"name": "evidence", "seed": 0},
    "network": {},   # the task's reference defaults (neurochip.train.TASK_DEFAULTS) unless overridden
    "rule": {},
    # a brief float run (40 x 32 trials, Adam): the network is still learning when it goes to the chip, so the
    # chip's step has something to learn (a network at its float plateau moves by less than the held-out noise
    # in 512 trials, in float too: docs/onchip_learning.md "The demo's on-chip step")
    "train": {"iterations": 40, "batch_size": 32, "seed": 2},
    "chip": {"name": "loihi2", "rounding": "nearest"},
    # the chip continues with per-synapse e-prop, plain SGD at 0.2 (the on-chip study's rate) on 512 fresh
    # trials; lr None would be the compiled rule's setting (SGD at the float rule's Adam rate, 5e-3, which
    # does not move the network in 512 trials). Measured over train seeds 0-4: +3.5 to +14.1 points held-out, every
    # seed; float e-prop continued on the same trials is the reference printed beside it.
    "onchip": {"trials": 512, "epochs": 1, "batch_size": 16, "lr": 0.2, "eligibility": "per_synapse",
               "rounding": None, "lr_decay": 1.0, "lr_decay_every": 100},
    # the main job's "learn from scratch" stage (neurochip.scratch): an untrained one-cue network learns on the chip
    "scratch": {"enabled": True, "iterations": 40, "batch_size": 8, "lr": 0.5, "eligibility": "per_synapse"},
    "lava": {"trials": 2, "timeout_s": 300.0},
    # max_accuracy_drop: validate's own default (neurochip.tolerances, one source of truth; docs/backends.md)
    "validate": {"trials": 256, "spike_agreement": 0.5, "max_accuracy_drop": DEFAULT_TOLERANCES["accuracy_drop"]},
    "bench": {"chips": ["loihi1", "loihi2", "reckon"], "compare_bptt": True, "trials": 8},
}

# Keys each section accepts beyond those in DEFAULT (validated by the consumer, e.g. NeuronParams).
_OPEN_SECTIONS = {"task", "network", "rule", "train"}  # validated by neurochip.train.resolve_config


def merge(base: dict, override: dict, where: str = "") -> dict:
    """Deep-merge ``override`` into a copy of ``base``; unknown sections/keys raise `ConfigError`."""
    out = copy.deepcopy(base)
    for sec, vals in override.items():
        if sec not in out:
            raise ConfigError(f"{where}unknown section [{sec}]; known: {', '.join(out)}")
        if not isinstance(vals, dict):
            raise ConfigError(f"{where}[{sec}] must be a table")
        for k, v in vals.items():
            if k not in out[sec] and sec not in _OPEN_SECTIONS:
                raise ConfigError(f"{where}[{sec}] has unknown key '{k}'; known: {', '.join(out[sec])}")
            out[sec][k] = v
    return out


def load_config(path: str | Path | None) -> dict:
    """The default config, overridden by the TOML file at ``path`` (if given)."""
    if path is None:
        return copy.deepcopy(DEFAULT)
    return merge(DEFAULT, read_toml(path, "config file"), where=f"{Path(path)}: ")


def read_toml(path: str | Path, what: str = "file") -> dict:
    """The parsed TOML file at ``path``; `ConfigError` in one line when it is missing or not valid TOML."""
    import tomli
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{what} not found: {p}")
    try:
        return tomli.loads(p.read_text("utf-8"))
    except (tomli.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: not valid TOML ({e})") from None


# --- validation ------------------------------------------------------------------------------------------

def _is_int(v: Any) -> bool:
    import numpy as np
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    import math
    import numpy as np
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(float(v))


def _need(ok: bool, where: str, key: str, v: Any, what: str) -> None:
    if not ok:
        raise ConfigError(f"{where}{key} = {v!r}: must be {what}")


def _chip_decay(v: Any) -> bool:
    from .onchip import is_chip_decay        # the check OnchipPlan applies (imported late: config loads first)
    return is_chip_decay(v)


def _int(where, key, v, lo=None, hi=None) -> None:
    rng = (f" >= {lo}" if hi is None else f" in [{lo}, {hi}]") if lo is not None else ""
    _need(_is_int(v) and (lo is None or v >= lo) and (hi is None or v <= hi), where, key, v, f"an integer{rng}")


def _num(where, key, v, lo=None, hi=None, lo_open=False) -> None:
    if lo is None:
        what, ok = "a finite number", _is_num(v)
    elif hi is None:
        what = f"a finite number {'>' if lo_open else '>='} {lo}"
        ok = _is_num(v) and (v > lo if lo_open else v >= lo)
    else:
        what = f"a number in {'(' if lo_open else '['}{lo}, {hi}]"
        ok = _is_num(v) and (v > lo if lo_open else v >= lo) and v <= hi
    _need(ok, where, key, v, what)


def _choice(where, key, v, choices, none_ok=False) -> None:
    _need((none_ok and v is None) or (isinstance(v, str) and v in choices), where, key, v,
          "one of " + ", ".join(repr(c) for c in choices) + (" or absent" if none_ok else ""))


def hint_matches(v: Any, hint: Any) -> bool:
    """Does ``v`` have the type a dataclass annotation names (int, float, bool, str, Literal, X | None)?"""
    import typing
    import types
    if hint is Any:
        return True
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return v in typing.get_args(hint) and isinstance(v, str) == any(isinstance(a, str) for a in typing.get_args(hint))
    if origin in (typing.Union, types.UnionType):
        return any(hint_matches(v, h) for h in typing.get_args(hint))
    if hint is type(None):
        return v is None
    if hint is bool:
        return isinstance(v, bool)
    if hint is int:
        return _is_int(v)
    if hint is float:
        return _is_num(v)
    if hint is str:
        return isinstance(v, str)
    return True


def _typed(where: str, values: dict, cls) -> None:
    """Each key of ``values`` that is a field of dataclass ``cls`` must match the field's annotation."""
    import typing
    from dataclasses import fields
    hints = typing.get_type_hints(cls)
    for f in fields(cls):
        if f.name in values and not hint_matches(values[f.name], hints.get(f.name, Any)):
            h = hints.get(f.name)
            name = getattr(h, "__name__", None) or str(h).replace("typing.", "")
            raise ConfigError(f"{where}{f.name} = {values[f.name]!r}: must be {name}")


# [section] key -> check, for the sections with a fixed key set (keys added to DEFAULT later without an entry
# here are checked to have the type of their default).
_FIXED_CHECKS = {
    ("chip", "name"): lambda w, k, v: _need(isinstance(v, str) and v != "", w, k, v, "a chip name or .toml path"),
    ("chip", "rounding"): lambda w, k, v: _choice(w, k, v, ("nearest", "stochastic")),
    ("onchip", "trials"): lambda w, k, v: _int(w, k, v, 1),
    ("onchip", "epochs"): lambda w, k, v: _int(w, k, v, 1),
    ("onchip", "batch_size"): lambda w, k, v: _int(w, k, v, 1),
    ("onchip", "lr"): lambda w, k, v: v is None or _num(w, k, v, 0, lo_open=True),
    ("onchip", "eligibility"): lambda w, k, v: _choice(w, k, v, ("per_synapse", "factorised"), none_ok=True),
    ("onchip", "rounding"): lambda w, k, v: _choice(w, k, v, ("nearest", "stochastic"), none_ok=True),
    # the chip changes its rate by powers of two only (neurochip.onchip.OnchipPlan)
    ("onchip", "lr_decay"): lambda w, k, v: _need(_chip_decay(v), w, k, v, "1, 0.5, 0.25, ... (a power of two in (0, 1])"),
    ("onchip", "lr_decay_every"): lambda w, k, v: _int(w, k, v, 1),
    ("scratch", "enabled"): lambda w, k, v: _need(isinstance(v, bool), w, k, v, "true or false"),
    ("scratch", "iterations"): lambda w, k, v: _int(w, k, v, 1),
    ("scratch", "batch_size"): lambda w, k, v: _int(w, k, v, 1),
    ("scratch", "lr"): lambda w, k, v: _num(w, k, v, 0, lo_open=True),
    ("scratch", "eligibility"): lambda w, k, v: _choice(w, k, v, ("per_synapse", "factorised")),
    ("lava", "trials"): lambda w, k, v: _int(w, k, v, 0),
    ("lava", "timeout_s"): lambda w, k, v: _num(w, k, v, 0, lo_open=True),
    ("validate", "trials"): lambda w, k, v: _int(w, k, v, 1),
    ("validate", "spike_agreement"): lambda w, k, v: _num(w, k, v, 0, 1),
    ("validate", "max_accuracy_drop"): lambda w, k, v: _num(w, k, v, 0, 1),
    ("bench", "chips"): lambda w, k, v: _need(isinstance(v, list) and len(v) > 0 and all(isinstance(c, str) and c for c in v),
                                              w, k, v, "a non-empty list of chip names or .toml paths"),
    ("bench", "compare_bptt"): lambda w, k, v: _need(isinstance(v, bool), w, k, v, "true or false"),
    ("bench", "trials"): lambda w, k, v: _int(w, k, v, 1),
}

_TRAIN_CHECKS = {
    "iterations": lambda w, k, v: _int(w, k, v, 1),
    "batch_size": lambda w, k, v: _int(w, k, v, 1),
    "seed": lambda w, k, v: _int(w, k, v, 0),
    "early_stop": lambda w, k, v: v is None or _num(w, k, v, 0, lo_open=True),
    "eval_every": lambda w, k, v: _int(w, k, v, 1),
    "val_batches": lambda w, k, v: _int(w, k, v, 1),
    "confirm_batches": lambda w, k, v: _int(w, k, v, 0),
    "eval_batches": lambda w, k, v: _int(w, k, v, 1),
    "progress": lambda w, k, v: _need(isinstance(v, bool), w, k, v, "true or false"),
    "lr_decay": lambda w, k, v: v is None or _num(w, k, v, 0, 1, lo_open=True),
    "lr_decay_every": lambda w, k, v: v is None or _int(w, k, v, 1),
}

_NET_INIT_CHECKS = {
    "n_rec": lambda w, k, v: _int(w, k, v, 1),
    "n_adaptive": lambda w, k, v: v is None or _int(w, k, v, 0),
    "adaptive_fraction": lambda w, k, v: v is None or _num(w, k, v, 0, 1),
    "beta": lambda w, k, v: v is None or _num(w, k, v, 0),
    "p_rec": lambda w, k, v: _num(w, k, v, 0, 1, lo_open=True),
    "feedback_scale": lambda w, k, v: _choice(w, k, v, ("unit", "sqrt_n")),
    "w_out_init": lambda w, k, v: _choice(w, k, v, ("glorot", "normal")),
    "seed": lambda w, k, v: _int(w, k, v, 0),
}


def validate_training(cfg: dict, where: str = "") -> dict:
    """Check [task] [network] [rule] [train] (types, ranges, memory) without building or training anything.
    Returns the resolved training config (`neurochip.train.resolve_config`)."""
    from dataclasses import fields
    from .errors import NeurochipError
    from .network import NeuronParams, check_network_memory
    from .rules import LearningRule
    from .tasks import TASKS, get_task
    from .train import resolve_config
    tcfg = {k: cfg.get(k, {}) for k in ("task", "network", "rule", "train")}
    for sec, vals in tcfg.items():
        if not isinstance(vals, dict):
            raise ConfigError(f"{where}[{sec}] must be a table")
    name = tcfg["task"].get("name", "evidence")
    _need(isinstance(name, str) and name in TASKS, where, "[task] name", name, "one of " + ", ".join(TASKS))
    try:
        c = resolve_config(tcfg)
    except NeurochipError as e:
        raise ConfigError(f"{where}{e}") from None
    task_opts = {k: v for k, v in c["task"].items() if k != "name"}
    _typed(f"{where}[task] ", task_opts, TASKS[name])
    for k, chk in _TRAIN_CHECKS.items():
        if k in c["train"]:
            chk(f"{where}[train] ", k, c["train"][k])
    net = c["network"]
    _typed(f"{where}[network] ", net, NeuronParams)
    for k, chk in _NET_INIT_CHECKS.items():
        if k in net:
            chk(f"{where}[network] ", k, net[k])
    _typed(f"{where}[rule] ", c["rule"], LearningRule)
    try:
        task = get_task(name, **task_opts)
        NeuronParams(**{k: v for k, v in net.items() if k in {f.name for f in fields(NeuronParams)}})
        LearningRule.from_dict(c["rule"])
        n_ad = net.get("n_adaptive")
        if n_ad is not None and n_ad > net["n_rec"]:
            raise ConfigError(f"[network] n_adaptive = {n_ad} exceeds n_rec = {net['n_rec']}")
        check_network_memory(task.n_in, int(net["n_rec"]), task.n_out)
    except ConfigError as e:
        raise ConfigError(f"{where}{e}") from None
    except NeurochipError as e:
        raise ConfigError(f"{where}{e}") from None
    except (TypeError, ValueError) as e:  # a value the constructors did not foresee
        raise ConfigError(f"{where}invalid [task]/[network]/[rule] value ({e})") from None
    return c


def validate_config(cfg: dict, *, where: str = "", main_job: bool = False, trial_compile: bool = True) -> None:
    """Check a merged config (`load_config`) before any work starts; raises `ConfigError` naming the key.

    Every section: value types and ranges; [chip] name and [bench] chips must load; the network must fit in
    memory. With ``main_job`` (``neurochip demo``) also: the rule must have an on-chip form, [onchip]
    eligibility / rounding must be ones the chip supports, and the untrained network with its rule must
    compile to the chip (every chip-constraint violation is reported now, not after training;
    ``trial_compile=False`` leaves that last step to a separate `check_compiles` call)."""
    from .chips.profile import load_profile
    from .errors import NeurochipError
    for sec, vals in cfg.items():
        if sec in _OPEN_SECTIONS:
            continue
        if not isinstance(vals, dict):
            raise ConfigError(f"{where}[{sec}] must be a table")
        for k, v in vals.items():
            chk = _FIXED_CHECKS.get((sec, k))
            if chk is not None:
                chk(f"{where}[{sec}] ", k, v)
            else:
                d = DEFAULT.get(sec, {}).get(k)
                if d is not None and not (type(v) is type(d) or (isinstance(d, float) and _is_num(v))):
                    raise ConfigError(f"{where}[{sec}] {k} = {v!r}: must be a {type(d).__name__} like the default {d!r}")
    c = validate_training(cfg, where)
    try:
        profile = load_profile(cfg["chip"]["name"])
        for chip in cfg["bench"]["chips"]:
            load_profile(chip)
    except NeurochipError as e:
        raise ConfigError(f"{where}{e}") from None
    if not main_job:
        return
    from .rules import ONCHIP_RULES
    rule_name = c["rule"].get("name")
    if rule_name not in ONCHIP_RULES:
        raise ConfigError(f"{where}[rule] name = {rule_name!r} has no on-chip form; the main job learns on chip "
                          f"with one of {', '.join(ONCHIP_RULES)}")
    lc = profile.learning
    if not lc.supported:
        raise ConfigError(f"{where}[chip] name = {cfg['chip']['name']!r}: chip '{profile.name}' has no on-chip learning")
    oc = cfg["onchip"]
    for key, allowed in (("eligibility", lc.eligibility), ("rounding", lc.rounding)):
        if oc.get(key) is not None and oc[key] not in allowed:
            raise ConfigError(f"{where}[onchip] {key} = {oc[key]!r}: chip '{profile.name}' supports {list(allowed)}")
    if trial_compile:
        check_compiles(cfg, where)


def check_compiles(cfg: dict, where: str = "") -> None:
    """Compile the untrained network of ``cfg`` to its chip with its rule. The untrained network compiles
    exactly as the trained one will (same shapes, rule and options), so every constraint a chip imposes is
    reported here, before training (well under a second at demo size once Numba's cache is warm)."""
    from .chips.profile import load_profile
    profile = load_profile(cfg["chip"]["name"])
    from .compiler import compile as compile_net
    from .compiler.pipeline import CompileOptions
    from .train import build
    import warnings
    try:
        _, net, rule, _, _ = build({k: cfg[k] for k in ("task", "network", "rule", "train")})
        with warnings.catch_warnings():  # overflow warnings belong to the real compile, after training
            warnings.simplefilter("ignore")
            compile_net(net, profile, rule, options=CompileOptions.make(rounding=cfg["chip"]["rounding"]))
    except ConfigError as e:
        raise ConfigError(f"{where}{e}") from None


# --- the config on the command line ----------------------------------------------------------------------
# For each subcommand: option dest -> where its value comes from in the (merged) config. A step reads only
# the keys it has an option for; options given on the command line win. `demo` and `train` read the whole
# config themselves (demo: every section; train: [task] [network] [rule] [train]).

def _resolved_rule_name(cfg: dict) -> str:
    from .train import resolve_config
    return resolve_config({k: cfg[k] for k in ("task", "network", "rule", "train")})["rule"]["name"]


CLI_KEYS: dict[str, dict[str, Any]] = {
    "compile": {"chip": lambda c: c["chip"]["name"], "rounding": lambda c: c["chip"]["rounding"],
                "rule": _resolved_rule_name, "eligibility": lambda c: c["onchip"]["eligibility"],
                "learn_rounding": lambda c: c["onchip"]["rounding"], "seed": lambda c: c["train"].get("seed", 0),
                "lr": lambda c: c["onchip"]["lr"]},
    "run": {"task": lambda c: c["task"]["name"], "seed": lambda c: c["task"].get("seed", 0),
            "trials": lambda c: c["onchip"]["trials"], "test_trials": lambda c: c["validate"]["trials"],
            "epochs": lambda c: c["onchip"]["epochs"], "batch_size": lambda c: c["onchip"]["batch_size"],
            "lr": lambda c: c["onchip"]["lr"], "rounding": lambda c: c["onchip"]["rounding"],
            "lr_decay": lambda c: c["onchip"]["lr_decay"], "lr_decay_every": lambda c: c["onchip"]["lr_decay_every"]},
    "validate": {"task": lambda c: c["task"]["name"], "seed": lambda c: c["task"].get("seed", 0),
                 "trials": lambda c: c["validate"]["trials"],
                 # --learn compares over the on-chip stage's amount of learning, as the demo's validate stage does
                 "learn_trials": lambda c: c["onchip"]["trials"], "epochs": lambda c: c["onchip"]["epochs"],
                 "batch_size": lambda c: c["onchip"]["batch_size"],
                 "tolerance": lambda c: (f"spike_agreement={c['validate']['spike_agreement']},"
                                         f"accuracy_drop={c['validate']['max_accuracy_drop']}")},
    "bench": {"chip": lambda c: ",".join(c["bench"]["chips"]), "trials": lambda c: c["bench"]["trials"],
              "compare": lambda c: "bptt" if c["bench"]["compare_bptt"] else None,
              "task": lambda c: c["task"]["name"], "seed": lambda c: c["task"].get("seed", 0)},
    "analyse": {"task": lambda c: c["task"]["name"], "task_seed": lambda c: c["task"].get("seed", 0)},
}


def apply_to_args(command: str, cfg: dict, args, given: set[str]) -> list[str]:
    """Set each option of ``command`` that `CLI_KEYS` maps and the user did not give from ``cfg``; returns
    the dests set. A mapped value of None leaves the option's own default."""
    done = []
    for dest, get in CLI_KEYS.get(command, {}).items():
        if dest in given or not hasattr(args, dest):
            continue
        v = get(cfg)
        if v is not None:
            setattr(args, dest, v)
            done.append(dest)
    return done


def config_help(command: str) -> str:
    """The --config help text of ``command``: which options the file sets."""
    m = CLI_KEYS.get(command)
    sets = ""
    if m:
        sets = "; sets " + ", ".join("--" + d.replace("_", "-") for d in m) + " unless given"
    return ("pipeline config TOML (the embedded default overridden by this file; sections task, network, rule, "
            "train, chip, onchip, lava, validate, bench: see neurochip/config.py), validated whole before any "
            "work starts" + sets)


def neuron_params(cfg: dict):
    """NeuronParams from the [network] section (other keys ignored here)."""
    from .network import NeuronParams
    from dataclasses import fields
    names = {f.name for f in fields(NeuronParams)}
    return NeuronParams(**{k: v for k, v in cfg["network"].items() if k in names})


def learning_rule(cfg: dict):
    from .rules import LearningRule
    return LearningRule.from_dict(dict(cfg["rule"]))
