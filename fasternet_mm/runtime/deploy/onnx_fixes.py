"""Fixes to the ONNX graphs mmdeploy 1.3.1 writes on torch >= 2.1.

mmdeploy's NMS (``_select_nms_index``) pads the labels with
``labels.new_ones(1) * -1``. The NonMaxSuppression output it indexes is
untyped in torch's tracer, so torch 2.1 exports that constant as float: the
graph has a ``Where`` over an int64 and a float branch, which ONNX Runtime
refuses to load ("Type parameter (T) of Optype (Where) bound to different
types"), and casts the labels to float (mmdeploy issues #2869, #2774,
#2756; every detector with NMS). :func:`fix_graph` retypes such constants
and gives each output the dtype mmdeploy documents.

Cascade Mask R-CNN's last NMS takes boxes that mmdeploy's
``CascadeRoIHead.predict_bbox`` rewriter reshapes to ``(batch, num, -1)``:
their last dimension (4) is unknown to OpenVINO, whose CPU plugin refuses
to compile the graph ("NonMaxSuppression node ... has unsupported 'boxes'
input 3rd dimension size"). :func:`fix_graph` states the shape the ONNX
spec gives NMS boxes, ``(batch, num, 4)``, with a Reshape before each NMS
whose boxes' last dimension is not known to be 4.
"""
from typing import Dict

import onnx
from onnx import TensorProto, helper, numpy_helper

# What mmdeploy's SDK and its backend models expect of each output.
OUTPUT_DTYPES = {'labels': TensorProto.INT64}


def _elem_types(model: onnx.ModelProto) -> Dict[str, int]:
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    g = inferred.graph
    types = {
        v.name: v.type.tensor_type.elem_type
        for v in [*g.value_info, *g.input, *g.output]
    }
    types.update({i.name: i.data_type for i in g.initializer})
    return types


def retype_where_constants(model: onnx.ModelProto) -> int:
    """Cast the constant branch of every mixed-type ``Where`` to the other
    branch's type; returns how many were fixed."""
    types = _elem_types(model)
    producers = {o: n for n in model.graph.node for o in n.output}
    fixed = 0
    for node in model.graph.node:
        if node.op_type != 'Where':
            continue
        a, b = node.input[1], node.input[2]
        if not types.get(a) or not types.get(b) or types[a] == types[b]:
            continue
        for const, other in ((b, types[a]), (a, types[b])):
            producer = producers.get(const)
            if producer is not None and producer.op_type == 'Constant':
                value = producer.attribute[0].t
                array = numpy_helper.to_array(value).astype(
                    helper.tensor_dtype_to_np_dtype(other))
                value.CopyFrom(numpy_helper.from_array(array, value.name))
                fixed += 1
                break
    return fixed


def cast_outputs(model: onnx.ModelProto,
                 dtypes: Dict[str, int] = OUTPUT_DTYPES) -> int:
    """Cast each output named in ``dtypes`` to its dtype where it differs;
    returns how many were cast."""
    g = model.graph
    cast = 0
    for output in g.output:
        want = dtypes.get(output.name)
        tensor_type = output.type.tensor_type
        if want is None or tensor_type.elem_type == want:
            continue
        raw = f'{output.name}_uncast'
        for node in g.node:
            node.output[:] = [
                raw if o == output.name else o for o in node.output
            ]
            node.input[:] = [
                raw if i == output.name else i for i in node.input
            ]
        g.node.append(
            helper.make_node(
                'Cast', [raw], [output.name],
                to=want,
                name=f'fasternet_mm_cast_{output.name}'))
        tensor_type.elem_type = want
        cast += 1
    return cast


def static_nms_boxes(model: onnx.ModelProto) -> int:
    """Reshape the boxes of each ``NonMaxSuppression`` whose last dimension
    is not a static 4 to ``(0, -1, 4)`` (batch kept); returns how many."""
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    g = inferred.graph
    shapes = {
        v.name: v.type.tensor_type.shape.dim
        for v in [*g.value_info, *g.input]
    }
    nodes, fixed = [], 0
    for node in model.graph.node:
        dims = shapes.get(node.input[0]) if node.op_type == \
            'NonMaxSuppression' else None
        if node.op_type == 'NonMaxSuppression' and not (
                dims is not None and len(dims) == 3
                and dims[2].HasField('dim_value') and dims[2].dim_value == 4):
            name = f'fasternet_mm_nms_boxes_{fixed}'
            model.graph.initializer.append(
                helper.make_tensor(f'{name}_shape', TensorProto.INT64, [3],
                                   [0, -1, 4]))
            nodes.append(
                helper.make_node(
                    'Reshape', [node.input[0], f'{name}_shape'], [name],
                    name=name))
            node.input[0] = name
            fixed += 1
        nodes.append(node)
    if fixed:
        del model.graph.node[:]
        model.graph.node.extend(nodes)
    return fixed


def fix_graph(path: str) -> Dict[str, int]:
    """Apply the fixes to the ONNX file at ``path`` in place."""
    model = onnx.load(path)
    report = dict(
        where_constants=retype_where_constants(model),
        outputs_cast=cast_outputs(model),
        nms_boxes=static_nms_boxes(model))
    if any(report.values()):
        onnx.save(model, path)
    return report
