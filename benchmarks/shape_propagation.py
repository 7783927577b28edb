"""Shape propagation on ResNet-50's fx graph: the meta run with and without the same-shape shortcut, interleaved."""

import statistics
import sys
import time

sys.path.insert(0, ".")
import torch
import torchvision

import tests.conftest  # noqa: F401
from gradlint.trace import fx_trace
from gradlint.trace.copies import meta_copy, to_meta

model = torchvision.models.resnet50()
x = torch.randn(1, 3, 224, 224)
graph = fx_trace._Tracer().trace(model)
runs = {True: [], False: []}
for _ in range(3):
    for shortcut in (False, True):
        recorder = fx_trace._Recorder(meta_copy(model), graph, on_meta=shortcut)
        start = time.perf_counter()
        with torch.no_grad():
            recorder.run(*to_meta([x]))
        runs[shortcut].append(time.perf_counter() - start)
        values = recorder.values
    if _ == 0:
        base = values
n = len(list(graph.nodes))
for k, v in runs.items():
    print(
        f"shortcut={k}: median {statistics.median(v):.3f} s, {1000 * statistics.median(v) / n:.2f} ms a node ({n} nodes)"
    )
