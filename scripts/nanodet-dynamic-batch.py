"""Gives the converted NanoDet-m model a dynamic batch dimension.

tf2onnx keeps the tfjs graph's batch of 1: the input is [1, 3, 416, 416],
and the six head Reshapes, [1, C, H, W] -> [1, C, H*W] (C = 80 class
scores or 44 box distances), take a shape computed at run time as
[1, C, -1]. This gives those Reshapes the constant shape [0, 0, -1] (0:
that dimension of their input, so [N, C, H*W]), names the input's and
outputs' first dimension N, and drops the nodes that computed the old
shapes. A frame's outputs do not depend on the other frames of its batch
(the server's tests check it on the real runtime). tf2onnx's node names
vary from one conversion to the next: the Reshapes are found by what they
do, checked with ONNX's shape inference.

usage: nanodet-dynamic-batch.py IN.onnx OUT.onnx
"""

import sys

import numpy as np
import onnx
from onnx import numpy_helper

src, dst = sys.argv[1], sys.argv[2]
model = onnx.load(src)
graph = model.graph

inferred = onnx.shape_inference.infer_shapes(model).graph
ranks = {
    v.name: [d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim]
    for v in list(inferred.value_info) + list(inferred.input)
}
SHAPE = "batch_reshape"
graph.initializer.append(numpy_helper.from_array(np.array([0, 0, -1], np.int64), SHAPE))
rewritten = 0
for node in graph.node:
    if node.op_type != "Reshape":
        continue
    dims = ranks.get(node.input[0])
    if dims is None or len(dims) != 4 or dims[0] != 1 or dims[1] not in (80, 44):
        sys.exit(f"nanodet-dynamic-batch: unexpected Reshape {node.name} of input {dims}")
    node.input[1] = SHAPE
    rewritten += 1
if rewritten != 6:
    sys.exit(f"nanodet-dynamic-batch: expected 6 head Reshapes, found {rewritten}")

for value in list(graph.input) + list(graph.output):
    value.type.tensor_type.shape.dim[0].dim_param = "N"

# Keep only the nodes the outputs depend on, and the initializers they read.
needed = {o.name for o in graph.output}
kept = []
for node in reversed(graph.node):
    if any(o in needed for o in node.output):
        kept.append(node)
        needed.update(i for i in node.input if i)
graph.ClearField("node")
graph.node.extend(reversed(kept))
initializers = [i for i in graph.initializer if i.name in needed]
graph.ClearField("initializer")
graph.initializer.extend(initializers)

onnx.checker.check_model(model)
onnx.save(model, dst)
