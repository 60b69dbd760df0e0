"""The ONNX post-pass for mmdeploy's NMS graphs on torch 2.1."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from fasternet_mm.runtime.deploy.onnx_fixes import fix_graph


def nms_padding_graph(path):
    """What torch 2.1 makes of mmdeploy's ``labels.where(keep,
    labels.new_ones(1) * -1)`` and the concat after it: a Where over int64
    labels and a float -1 constant, then a cast of the labels to float."""
    nodes = [
        helper.make_node(
            'Constant', [], ['minus_one'],
            value=helper.make_tensor('v', TensorProto.FLOAT, [1], [-1.])),
        helper.make_node('Where', ['keep', 'cls', 'minus_one'], ['padded']),
        helper.make_node('Cast', ['padded'], ['labels'], to=TensorProto.FLOAT),
    ]
    graph = helper.make_graph(nodes, 'nms_padding', [
        helper.make_tensor_value_info('keep', TensorProto.BOOL, [None]),
        helper.make_tensor_value_info('cls', TensorProto.INT64, [None]),
    ], [helper.make_tensor_value_info('labels', TensorProto.FLOAT, [None])])
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid('', 11)])
    model.ir_version = 7
    onnx.save(model, path)


def run(path):
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    return session.run(
        None, dict(keep=np.array([True, False]), cls=np.array([3, 2])))[0]


def test_onnx_runtime_refuses_the_graph_mmdeploy_writes(tmp_path):
    path = str(tmp_path / 'raw.onnx')
    nms_padding_graph(path)
    with pytest.raises(Exception, match='Where'):
        run(path)


def test_fixed_graph_loads_and_gives_int64_labels(tmp_path):
    path = str(tmp_path / 'fixed.onnx')
    nms_padding_graph(path)
    assert fix_graph(path) == dict(where_constants=1, outputs_cast=1)
    labels = run(path)
    assert labels.dtype == np.int64
    assert labels.tolist() == [3, -1]
    assert fix_graph(path) == dict(where_constants=0, outputs_cast=0)
