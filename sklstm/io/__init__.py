"""Files: the model format, archives, the codec, trust checks, pipelines, the
epoch cache and ONNX export.

Imports nothing above it: estimator classes register what their files hold
(:mod:`sklstm.io._registry`), and pipelines are walked by protocol.
"""

from sklstm.io._onnx import to_onnx
from sklstm.io._persist import load, save

__all__ = ["load", "save", "to_onnx"]
