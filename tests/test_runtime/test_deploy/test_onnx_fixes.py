"""The ONNX post-pass for mmdeploy's NMS graphs on torch 2.1 (and their
boxes' shape for OpenVINO)."""
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
    assert fix_graph(path) == dict(
        where_constants=1, outputs_cast=1, nms_boxes=0)
    labels = run(path)
    assert labels.dtype == np.int64
    assert labels.tolist() == [3, -1]
    assert fix_graph(path) == dict(
        where_constants=0, outputs_cast=0, nms_boxes=0)


def nms_of_unshaped_boxes(path):
    """An NMS whose boxes have an unknown last dimension, as Cascade Mask
    R-CNN's last NMS gets them from mmdeploy (a reshape to (N, M, -1))."""
    nodes = [
        helper.make_node(
            'Constant', [], ['max_out'],
            value=helper.make_tensor('m', TensorProto.INT64, [1], [10])),
        helper.make_node(
            'Constant', [], ['iou'],
            value=helper.make_tensor('i', TensorProto.FLOAT, [1], [.5])),
        helper.make_node('NonMaxSuppression',
                         ['boxes', 'scores', 'max_out', 'iou'], ['keep']),
    ]
    graph = helper.make_graph(nodes, 'nms', [
        helper.make_tensor_value_info('boxes', TensorProto.FLOAT,
                                      ['n', 'm', 'k']),
        helper.make_tensor_value_info('scores', TensorProto.FLOAT,
                                      ['n', 'c', 'm']),
    ], [helper.make_tensor_value_info('keep', TensorProto.INT64, [None, 3])])
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid('', 11)])
    model.ir_version = 7
    onnx.save(model, path)


NMS_INPUTS = (np.array([[[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]]],
                       np.float32), np.array([[[.9, .8, .7]]], np.float32))


def run_openvino(path):
    ov = pytest.importorskip('openvino')
    compiled = ov.Core().compile_model(ov.convert_model(path), 'CPU')
    return compiled(list(NMS_INPUTS))[0]


def test_openvino_refuses_nms_boxes_of_unknown_width(tmp_path):
    path = str(tmp_path / 'raw.onnx')
    nms_of_unshaped_boxes(path)
    with pytest.raises(Exception, match='boxes'):
        run_openvino(path)


def test_nms_boxes_get_their_shape_for_openvino(tmp_path):
    path = str(tmp_path / 'fixed.onnx')
    nms_of_unshaped_boxes(path)
    assert fix_graph(path)['nms_boxes'] == 1
    assert fix_graph(path)['nms_boxes'] == 0  # already static
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    boxes, scores = NMS_INPUTS
    keep = session.run(None, dict(boxes=boxes, scores=scores))[0]
    assert keep[:, 2].tolist() == [0, 2]  # box 1 overlaps box 0
    keep = run_openvino(path)
    assert keep[:, 2].tolist()[:2] == [0, 2]
