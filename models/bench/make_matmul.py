"""Writes matmul.onnx: one float32 MatMul with dynamic sizes, for measuring the box's matmul peak.

    /usr/bin/python3 models/bench/make_matmul.py
"""
import os

import onnx
from onnx import TensorProto, helper

graph = helper.make_graph(
    [helper.make_node("MatMul", ["a", "b"], ["c"])],
    "matmul_peak",
    [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["m", "k"]),
     helper.make_tensor_value_info("b", TensorProto.FLOAT, ["k", "n"])],
    [helper.make_tensor_value_info("c", TensorProto.FLOAT, ["m", "n"])],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
onnx.checker.check_model(model)
onnx.save(model, os.path.join(os.path.dirname(os.path.abspath(__file__)), "matmul.onnx"))
