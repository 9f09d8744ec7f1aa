"""Rewrite an ONNX model's 1-D convolutions as 2-D ones, which ONNX Runtime runs faster on CPU.

ONNX Runtime's CPU provider computes 2-D convolutions with its blocked (NCHWc) kernels, but 1-D
ones through im2col and a matrix product. A VITS voice spends about three quarters of its time
in the 1-D convolutions of its decoder; as 2-D convolutions over a height of one, with the same
weights, they give the same audio (to about 1e-5) and Piper about 10 % more audio per CPU second
on two busy cores (`bench/engine_bench.py`).
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

log = logging.getLogger(__name__)

# Unsqueeze and Squeeze take their axes as an input from opset 13 on, as an attribute before.
_AXES_AS_INPUT_OPSET = 13
_CONV_ATTRIBUTES = {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"}
_SUFFIX = "__speaker_conv2d"


def _default_opset(model: onnx.ModelProto) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def _has_subgraphs(graph: onnx.GraphProto) -> bool:
    kinds = (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
    return any(a.type in kinds for node in graph.node for a in node.attribute)


def _conv2d_attributes(node: onnx.NodeProto, kernel: int) -> dict[str, Any] | None:
    """The node's attributes for a height of one, or None where one is not understood."""
    attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if not set(attributes) <= _CONV_ATTRIBUTES:
        return None
    pads = attributes.get("pads", [0, 0])
    kernel_shape = attributes.get("kernel_shape", [kernel])
    strides = attributes.get("strides", [1])
    dilations = attributes.get("dilations", [1])
    if not (len(pads) == 2 and len(kernel_shape) == len(strides) == len(dilations) == 1):
        return None
    converted: dict[str, Any] = {
        "kernel_shape": [1, *kernel_shape],
        "strides": [1, *strides],
        "dilations": [1, *dilations],
        "group": attributes.get("group", 1),
    }
    auto_pad = attributes.get("auto_pad", b"NOTSET")
    if auto_pad not in (b"NOTSET", "NOTSET"):
        converted["auto_pad"] = auto_pad
    else:
        converted["pads"] = [0, pads[0], 0, pads[1]]
    return converted


def conv1d_as_conv2d(model: onnx.ModelProto) -> int:
    """Turn each 1-D Conv with a constant weight into Unsqueeze, 2-D Conv, Squeeze, in place;
    returns how many were turned."""
    graph = model.graph
    if _has_subgraphs(graph):
        # A subgraph may read the weights by name from the outer scope: left as it is.
        return 0
    # A weight that is also a graph input may be fed another shape at run time: not constant.
    inputs = {value.name for value in graph.input}
    weights = {i.name: i for i in graph.initializer if len(i.dims) == 3 and i.name not in inputs}
    plans: dict[int, dict[str, Any]] = {}
    for position, node in enumerate(graph.node):
        weight = weights.get(node.input[1]) if node.op_type == "Conv" else None
        attributes = _conv2d_attributes(node, weight.dims[2]) if weight is not None else None
        if attributes is not None:
            plans[position] = attributes
    if not plans:
        return 0
    readers = Counter(name for node in graph.node for name in node.input)
    turned_readers = Counter(graph.node[position].input[1] for position in plans)
    weights2d: dict[str, str] = {}
    for name, count in turned_readers.items():
        weight = weights[name]
        if count == readers[name]:
            # [out, in, k] and [out, in, 1, k] lay the same numbers out alike: a new dimension
            # is all it takes, with no copy of the data.
            weight.dims.insert(2, 1)
            weights2d[name] = name
        else:
            array = numpy_helper.to_array(weight)[:, :, np.newaxis, :]
            weights2d[name] = f"{name}{_SUFFIX}"
            graph.initializer.append(numpy_helper.from_array(array, weights2d[name]))
    axes_as_input = _default_opset(model) >= _AXES_AS_INPUT_OPSET
    axes_name = f"axes{_SUFFIX}"
    axes: dict[str, Any] = {} if axes_as_input else {"axes": [2]}
    extra = [axes_name] if axes_as_input else []
    nodes: list[onnx.NodeProto] = []
    for position, node in enumerate(graph.node):
        attributes = plans.get(position)
        if attributes is None:
            nodes.append(node)
            continue
        wide_in, wide_out = f"{node.output[0]}{_SUFFIX}_in", f"{node.output[0]}{_SUFFIX}_out"
        weight = weights2d[node.input[1]]
        nodes += [
            helper.make_node("Unsqueeze", [node.input[0], *extra], [wide_in], **axes),
            helper.make_node(
                "Conv", [wide_in, weight, *node.input[2:]], [wide_out], name=node.name, **attributes
            ),
            helper.make_node("Squeeze", [wide_out, *extra], list(node.output), **axes),
        ]
    if axes_as_input:
        graph.initializer.append(numpy_helper.from_array(np.array([2], dtype=np.int64), axes_name))
    del graph.node[:]
    graph.node.extend(nodes)
    return len(plans)


@contextlib.contextmanager
def loadable_model(path: Path, conv2d: bool) -> Iterator[Path]:
    """The model file to hand ONNX Runtime: `path` itself, or, where `conv2d` is set and the
    rewrite applies, a temporary copy with its 1-D convolutions turned 2-D, removed on exit.

    A file rather than bytes: ONNX Runtime keeps a copy of a model given as bytes for the life
    of the session, a model's size of memory for nothing.
    """
    if not conv2d:
        yield path
        return
    with contextlib.ExitStack() as cleanup:
        try:
            folder = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="speaker-model-"))
            rewritten = Path(folder) / path.name
            model = onnx.load(str(path))
            turned = conv1d_as_conv2d(model)
            if turned:
                onnx.save(model, str(rewritten))
            del model
        except Exception:
            # A faster graph is not worth a voice that will not load (nor a missing temporary
            # directory): ONNX Runtime gets the file as shipped.
            log.warning("could not rewrite %s's convolutions; loading it as shipped", path.name)
            turned = 0
        if not turned:
            yield path
            return
        log.debug("%s: %d 1-D convolutions run as 2-D", path.name, turned)
        yield rewritten
