"""One on-chip update (16 trials, one weight application) of the demo's compiled network against float e-prop SGD
from the same dequantised weights, per matrix, at three settings (issue 13's cosine target, session 10):

    python tools/demo_update_cosine.py     # reads out/demo/compiled (run `make demo` first)
"""
import warnings
warnings.simplefilter("ignore")
from neurochip.compiler.artifact import CompiledNetwork
from neurochip.onchip import prepare_rule
from neurochip.validate import validate, Inputs
from neurochip.train import build
from neurochip.config import DEFAULT, merge
cfg = merge(DEFAULT, {})
task = build({k: cfg[k] for k in ("task", "network", "rule", "train")})[0]
cn0 = CompiledNetwork.load("out/demo/compiled")
test = task.batch(32, "test", 0)
for lr, rnd in ((0.2, None), (0.005, None), (0.2, "nearest")):
    cn = prepare_rule(cn0, lr=lr, rounding=rnd, batch_size=16)
    rep, _ = validate(cn, backend="native", reference="float", learn=True, inputs=Inputs(test.x, test, "t"), seed=0,
                      learn_batch=task.batch(16, "train", 0), learn_epochs=1, learn_batch_size=16)
    lp = rep["metrics"]["learning_per_projection"]
    print(lr, rnd, {k: (round(v["cosine"], 3), round(v["norm_ratio"], 2)) for k, v in lp.items()}, flush=True)
