"""Refuse a trial count whose arrays cannot fit in memory, before anything is allocated.

`neurochip run | validate | bench` hold every trial of a draw at once: the task batch, the chip run's recorded
spikes and readout, and (validate) the float reference's trace. `trial_bytes` counts those arrays for one
trial - a lower bound: the arrays the command cannot avoid holding; kernel working state and Python overhead
come on top - and `check_trials_memory` raises `ConfigError` naming the option when the total exceeds the
memory available now (`neurochip.network.available_memory_bytes`), as `check_network_memory` does for
``train --n-rec``. A refusal therefore never turns away a run that could have fitted.
"""
from __future__ import annotations

from .errors import ConfigError


def trial_bytes(n_in: int, n_rec: int, n_out: int, steps: int, *, loss: str = "ce", chip_run: bool = True,
                float_reference: bool = False, history: bool = False, poisson_draw: bool = False) -> float:
    """Bytes held per trial of ``steps`` time steps (shapes of the arrays named below, per step).

    task batch: inputs x uint8 [n_in] + mask bool [1] + target int64 [1] ('ce') or float64 [n_out] ('mse');
    poisson_draw: the uniform float64 draw [n_in] the Poisson inputs are thresholded from (bench);
    chip_run: recorded spikes uint8 [n_rec] + readout float64 [n_out] (backends' default record);
    float_reference: `neurochip.simulate` - inputs as float64 [n_in], z uint8 + psi float64 [n_rec], y and
      out float64 [n_out] (validate's reference run);
    history: the float trace a BPTT / e-prop gradient keeps (simulate(record_v=True): the reference's arrays
      plus v and a float64 [n_rec]) (validate --learn, over its learning trials)."""
    per_step = float(n_in) + 1.0 + (8.0 * n_out if loss == "mse" else 8.0)
    if poisson_draw:
        per_step += 8.0 * n_in
    if chip_run:
        per_step += float(n_rec) + 8.0 * n_out
    if float_reference or history:
        per_step += 8.0 * n_in + 9.0 * n_rec + 16.0 * n_out
    if history:
        per_step += 16.0 * n_rec
    return per_step * float(steps)


def _gib(b: float) -> str:
    return f"{b / 2**30:.3g} GiB"


def check_trials_memory(parts: list[tuple[str, int, float]], hint: str = "choose fewer trials") -> float:
    """Refuse (ConfigError, one line) when the arrays of ``parts`` cannot fit in the memory available now.

    parts: (option as the user gave it, e.g. '--trials', number of trials, `trial_bytes` of one trial); the
    total is the sum of trials x bytes. Returns the estimate (bytes). Unknown available memory: no refusal."""
    from .network import available_memory_bytes
    need = sum(float(n) * float(b) for _, n, b in parts)
    have = available_memory_bytes()
    if have is not None and need > have:
        what = ", ".join(f"{opt} {n}" for opt, n, _ in parts)
        raise ConfigError(f"{what}: the trials' arrays (inputs, targets, recorded spikes and readouts) need "
                          f"~{_gib(need)}, more than the {_gib(have)} of memory available; {hint}")
    return need
