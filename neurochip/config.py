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
               per weight application), lr (on-chip SGD rate), eligibility ('per_synapse' | 'factorised';
               None = the rule's), rounding ('nearest' | 'stochastic'; None = the profile's); the draw and rounding seed is [task] seed
    [lava]     trials (held-out trials checked bit for bit on lava), timeout_s [s]
    [validate] trials, spike_agreement (minimum, 0..1), max_accuracy_drop (fraction): tolerances reported
               in the summary (the demo still writes its report when they fail)
    [bench]    chips (list), compare_bptt (bool), trials
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from .errors import ConfigError

DEFAULT: dict[str, dict[str, Any]] = {
    "task": {"name": "evidence", "seed": 0},
    "network": {},   # the task's reference defaults (neurochip.train.TASK_DEFAULTS) unless overridden
    "rule": {},
    "train": {"iterations": 150, "batch_size": 32, "seed": 2},
    "chip": {"name": "loihi2", "rounding": "nearest"},
    "onchip": {"trials": 256, "epochs": 2, "batch_size": 16, "lr": 3e-5, "eligibility": "factorised",
               "rounding": None},
    "lava": {"trials": 2, "timeout_s": 300.0},
    "validate": {"trials": 256, "spike_agreement": 0.5, "max_accuracy_drop": 0.1},
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
    import tomli
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        data = tomli.loads(p.read_text("utf-8"))
    except (tomli.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: not valid TOML ({e})") from None
    return merge(DEFAULT, data, where=f"{p}: ")


def neuron_params(cfg: dict):
    """NeuronParams from the [network] section (other keys ignored here)."""
    from .network import NeuronParams
    from dataclasses import fields
    names = {f.name for f in fields(NeuronParams)}
    return NeuronParams(**{k: v for k, v in cfg["network"].items() if k in names})


def learning_rule(cfg: dict):
    from .rules import LearningRule
    return LearningRule.from_dict(dict(cfg["rule"]))
