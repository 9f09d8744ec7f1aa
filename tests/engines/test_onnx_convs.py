"""1-D convolutions turned 2-D: the same numbers out, on small graphs and on the shipped voice."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from speaker.engines.onnx_convs import conv1d_as_conv2d, loadable_model
from speaker.engines.piper import builtin_voice, inference_session

RNG = np.random.default_rng(7)


def _weight(name: str, *shape: int) -> onnx.TensorProto:
    return numpy_helper.from_array(RNG.standard_normal(shape).astype(np.float32), name)


def _model(nodes: list[onnx.NodeProto], weights: list[onnx.TensorProto], opset: int = 15):
    graph = helper.make_graph(
        nodes,
        "convs",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, "t"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=weights,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    result: np.ndarray = session.run(None, {"x": x})[0]
    return result


def _one_d_convs(model: onnx.ModelProto) -> int:
    weights = {i.name: len(i.dims) for i in model.graph.initializer}
    return sum(1 for n in model.graph.node if n.op_type == "Conv" and weights.get(n.input[1]) == 3)


def _decoder_like(opset: int = 15) -> onnx.ModelProto:
    """Dilated, strided, grouped, unevenly and auto-padded convolutions, an activation between."""
    return _model(
        [
            helper.make_node("Conv", ["x", "w1", "b1"], ["h1"], dilations=[2], pads=[2, 2]),
            helper.make_node("LeakyRelu", ["h1"], ["a1"], alpha=0.1),
            helper.make_node("Conv", ["a1", "w2"], ["h2"], group=2, strides=[2], pads=[1, 0]),
            helper.make_node("Conv", ["h2", "w3"], ["y"], kernel_shape=[5], auto_pad="SAME_UPPER"),
        ],
        [_weight("w1", 6, 4, 3), _weight("b1", 6), _weight("w2", 6, 3, 1), _weight("w3", 2, 6, 5)],
        opset,
    )


@pytest.mark.parametrize("opset", [11, 15])
def test_every_one_d_conv_turns_and_the_output_stays_the_same(opset: int) -> None:
    model = _decoder_like(opset)
    x = RNG.standard_normal((1, 4, 37)).astype(np.float32)
    before = _run(model, x)
    assert conv1d_as_conv2d(model) == 3
    assert _one_d_convs(model) == 0
    after = _run(model, x)
    assert after.shape == before.shape
    np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-5)


def test_a_weight_read_elsewhere_too_is_copied_not_reshaped() -> None:
    model = _model(
        [
            helper.make_node("Conv", ["x", "w"], ["h"], pads=[1, 1]),
            helper.make_node("Conv", ["h", "w"], ["c"], pads=[1, 1]),
            helper.make_node("ReduceSum", ["w"], ["s"], keepdims=0),
            helper.make_node("Add", ["c", "s"], ["y"]),
        ],
        [_weight("w", 4, 4, 3)],
    )
    x = RNG.standard_normal((1, 4, 20)).astype(np.float32)
    before = _run(model, x)
    assert conv1d_as_conv2d(model) == 2
    shapes = {i.name: list(i.dims) for i in model.graph.initializer}
    assert shapes["w"] == [4, 4, 3]
    assert [4, 4, 1, 3] in shapes.values()
    np.testing.assert_allclose(_run(model, x), before, rtol=1e-5, atol=1e-5)


def test_a_weight_that_is_also_a_graph_input_is_left_alone() -> None:
    model = _decoder_like()
    model.graph.input.append(helper.make_tensor_value_info("w2", TensorProto.FLOAT, [6, 3, 1]))
    assert conv1d_as_conv2d(model) == 2
    assert _one_d_convs(model) == 1


def test_a_graph_with_subgraphs_is_left_alone() -> None:
    model = _decoder_like()
    branch = helper.make_graph(
        [helper.make_node("Identity", ["w1"], ["out"])],
        "branch",
        [],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)],
    )
    model.graph.node.append(
        helper.make_node("If", ["cond"], ["z"], then_branch=branch, else_branch=branch)
    )
    assert conv1d_as_conv2d(model) == 0
    assert _one_d_convs(model) == 3


def test_the_rewritten_copy_exists_only_while_it_is_loaded(tmp_path: Path) -> None:
    path = tmp_path / "voice.onnx"
    onnx.save(_decoder_like(), str(path))
    with loadable_model(path, conv2d=False) as model:
        assert model == path
    with loadable_model(path, conv2d=True) as model:
        assert model != path
        assert _one_d_convs(onnx.load(str(model))) == 0
    assert not model.exists()
    assert _one_d_convs(onnx.load(str(path))) == 3


def test_a_model_that_cannot_be_rewritten_loads_as_shipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"not a protobuf at all")
    with caplog.at_level(logging.WARNING), loadable_model(path, conv2d=True) as model:
        assert model == path
    assert "loading it as shipped" in caplog.text


def test_no_temporary_directory_means_the_model_loads_as_shipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "voice.onnx"
    onnx.save(_decoder_like(), str(path))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "read-only-root" / "tmp"))
    with caplog.at_level(logging.WARNING), loadable_model(path, conv2d=True) as model:
        assert model == path
    assert "loading it as shipped" in caplog.text


def _voice_audio(session: onnxruntime.InferenceSession, ids: list[int]) -> np.ndarray:
    feeds = {
        "input": np.array([ids], dtype=np.int64),
        "input_lengths": np.array([len(ids)], dtype=np.int64),
        # No noise: the model is deterministic, so two graphs can be compared sample by sample.
        "scales": np.array([0.0, 1.0, 0.0], dtype=np.float32),
    }
    audio: np.ndarray = session.run(None, feeds)[0].reshape(-1)
    return audio


def test_the_shipped_voice_says_the_same_with_two_d_convolutions() -> None:
    files = builtin_voice()
    decoder = onnx.load(str(files.model_path))
    assert conv1d_as_conv2d(decoder) > 100
    shipped = inference_session(files.model_path, threads=1, conv2d=False)
    rewritten = inference_session(files.model_path, threads=1, conv2d=True)
    ids = [1, 0, 20, 0, 35, 0, 14, 0, 41, 0, 3, 0, 26, 0, 59, 0, 120, 0, 24, 0, 2]
    expected = _voice_audio(shipped, ids)
    audio = _voice_audio(rewritten, ids)
    assert expected.size > 5_000
    assert audio.shape == expected.shape
    assert float(np.max(np.abs(audio - expected))) < 1e-3
