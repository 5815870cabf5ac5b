"""Read and validate a GGUF file's header in Python, without loading its weights.

llama.cpp trusts the header it reads: a truncated file or a hostile tensor count can crash the
process inside C code. Everything llama.cpp will rely on is checked here first, with every read
bounded by the file's size, so a bad file gets a one-line message naming the file and the field.

The type tables come from ggml's own `gguf` package (value types, quantisation block sizes, key
names). Its `GGUFReader` is not used for validation because it builds numpy views of the whole
tensor table and raises assorted low-level errors on hostile files; this reader walks the same
layout with explicit bounds and only keeps the metadata the workstation shows.
"""

from __future__ import annotations

import mmap
import struct
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, GGUFValueType, LlamaFileType

from workstation.errors import ModelFileError

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32
MAX_DIMS = 4  # GGML_MAX_DIMS
MAX_STRING_BYTES = 64 * 1024 * 1024  # a chat template or token is far smaller than this
MAX_KEPT_ARRAY = 64  # arrays longer than this are summarised, not kept

_SCALARS: dict[GGUFValueType, str] = {
    GGUFValueType.UINT8: "<B",
    GGUFValueType.INT8: "<b",
    GGUFValueType.UINT16: "<H",
    GGUFValueType.INT16: "<h",
    GGUFValueType.UINT32: "<I",
    GGUFValueType.INT32: "<i",
    GGUFValueType.FLOAT32: "<f",
    GGUFValueType.BOOL: "<?",
    GGUFValueType.UINT64: "<Q",
    GGUFValueType.INT64: "<q",
    GGUFValueType.FLOAT64: "<d",
}


@dataclass(frozen=True)
class ArraySummary:
    """A long metadata array (such as the tokenizer's vocabulary), kept as its type and length."""

    item_type: str
    length: int


#: A metadata value as read: a number or flag, text, a short array of values, or a long array's
#: summary.
MetadataValue = int | float | bool | str | list["MetadataValue"] | ArraySummary


@dataclass(frozen=True)
class GGUFInfo:
    """What the model picker and the engine need to know about a GGUF file."""

    path: Path
    file_size: int
    version: int
    name: str
    architecture: str
    size_label: str
    parameter_count: int
    quantization: str
    context_length: int | None
    block_count: int | None
    vocab_size: int | None
    chat_template: str | None
    tensor_count: int
    metadata: dict[str, MetadataValue] = field(repr=False, default_factory=dict)

    @property
    def has_chat_template(self) -> bool:
        """Whether the file carries a chat template (instruction-tuned models do)."""
        return bool(self.chat_template)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready summary (without the raw metadata and template text)."""
        data = asdict(self)
        data.pop("metadata")
        data.pop("chat_template")
        data["path"] = str(self.path)
        data["has_chat_template"] = self.has_chat_template
        return data


class _Cursor:
    """Bounded little-endian reads over a memory map; every overrun names the field."""

    def __init__(self, buffer: mmap.mmap, path: Path) -> None:
        self.buffer = buffer
        self.size = len(buffer)
        self.pos = 0
        self.path = path

    def fail(self, what: str) -> ModelFileError:
        return ModelFileError(f"{self.path}: not a usable GGUF model file: {what}")

    def need(self, count: int, what: str) -> None:
        if count < 0 or self.pos + count > self.size:
            raise self.fail(f"the file ends inside {what} (truncated at byte {self.size:,})")

    def scalar(self, fmt: str, what: str) -> int | float | bool:
        width = struct.calcsize(fmt)
        self.need(width, what)
        value: int | float | bool = struct.unpack_from(fmt, self.buffer, self.pos)[0]
        self.pos += width
        return value

    def unsigned(self, fmt: str, what: str) -> int:
        width = struct.calcsize(fmt)
        self.need(width, what)
        value: int = struct.unpack_from(fmt, self.buffer, self.pos)[0]
        self.pos += width
        return value

    def u32(self, what: str) -> int:
        return self.unsigned("<I", what)

    def u64(self, what: str) -> int:
        return self.unsigned("<Q", what)

    def string(self, what: str) -> str:
        length = self.u64(f"the length of {what}")
        if length > MAX_STRING_BYTES:
            raise self.fail(f"{what} declares {length:,} bytes (limit {MAX_STRING_BYTES:,})")
        self.need(length, what)
        raw = bytes(self.buffer[self.pos : self.pos + length])
        self.pos += length
        return raw.decode("utf-8", errors="replace")

    def skip_string(self, what: str) -> None:
        length = self.u64(f"the length of {what}")
        self.need(length, what)
        self.pos += length

    def value_type(self, what: str) -> GGUFValueType:
        raw = self.u32(f"the type of {what}")
        try:
            return GGUFValueType(raw)
        except ValueError:
            raise self.fail(f"{what} has unknown value type {raw}") from None

    def value(self, vtype: GGUFValueType, what: str) -> MetadataValue:
        if vtype in _SCALARS:
            return self.scalar(_SCALARS[vtype], what)
        if vtype == GGUFValueType.STRING:
            return self.string(what)
        return self.array(what)

    def array(self, what: str) -> list[MetadataValue] | ArraySummary:
        item_type = self.value_type(f"the items of {what}")
        length = self.u64(f"the length of {what}")
        if item_type == GGUFValueType.ARRAY:
            raise self.fail(f"{what} is an array of arrays, which GGUF models do not use")
        # Each item takes at least this many bytes, so a huge declared length is caught at once.
        least = struct.calcsize(_SCALARS[item_type]) if item_type in _SCALARS else 8
        if length * least > self.size - self.pos:
            raise self.fail(f"{what} declares {length:,} items, more than the file can hold")
        if length <= MAX_KEPT_ARRAY:
            return [self.value(item_type, f"item {i} of {what}") for i in range(length)]
        if item_type == GGUFValueType.STRING:
            for i in range(length):
                self.skip_string(f"item {i} of {what}")
        else:
            self.pos += length * least
        return ArraySummary(item_type.name.lower(), length)


def _quantization_label(metadata: dict[str, MetadataValue], tensor_types: Counter[int]) -> str:
    file_type = metadata.get("general.file_type")
    if isinstance(file_type, int):
        try:
            name = LlamaFileType(file_type).name
        except ValueError:
            name = ""
        if name:
            return name.removeprefix("MOSTLY_").removeprefix("ALL_")
    if tensor_types:
        most_common = tensor_types.most_common(1)[0][0]
        return GGMLQuantizationType(most_common).name
    return "unknown"


def _size_label(count: int) -> str:
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if count >= scale:
            value = count / scale
            return f"{value:.0f}{unit}" if value >= 10 else f"{value:.1f}{unit}"
    return str(count)


def read_gguf_info(path: str | Path) -> GGUFInfo:
    """Validate a GGUF file's whole header and tensor table and return its metadata.

    Raises ModelFileError (one line naming the file and the problem) for a missing path, a
    directory, a pipe or device, an unreadable or empty file, a wrong magic or version, any
    truncation, and declared counts or tensor extents that the file cannot hold.
    """
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: no such model file; check the path or run `workstation models`")
    if path.is_dir():
        raise ModelFileError(f"{path}: is a folder, not a GGUF model file; name a .gguf file inside it")
    if not path.is_file():
        # A named pipe or a device: opening a pipe would wait for a writer forever.
        raise ModelFileError(f"{path}: not a regular file (a pipe or a device), so not a GGUF model file")
    try:
        with path.open("rb") as handle:
            size = path.stat().st_size
            if size < 24:
                raise ModelFileError(
                    f"{path}: not a GGUF model file: {size} bytes is too short for a GGUF header"
                )
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buffer:
                return _parse(_Cursor(buffer, path), path, size)
    except PermissionError:
        raise ModelFileError(f"{path}: permission denied; make the file readable") from None
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read the model file: {exc.strerror or exc}") from None


def _parse(cur: _Cursor, path: Path, size: int) -> GGUFInfo:
    magic = bytes(cur.buffer[0:4])
    if magic != MAGIC:
        raise cur.fail(f"it starts with {magic!r}, not the GGUF magic {MAGIC!r}")
    cur.pos = 4
    version = cur.u32("the version")
    if version not in SUPPORTED_VERSIONS:
        raise cur.fail(f"GGUF version {version} is not supported (supported: 2 and 3)")
    tensor_count = cur.u64("the tensor count")
    kv_count = cur.u64("the metadata count")
    # A key-value pair takes at least 13 bytes and a tensor description at least 32.
    if kv_count * 13 > size or tensor_count * 32 > size:
        raise cur.fail(
            f"it declares {tensor_count:,} tensors and {kv_count:,} metadata entries, "
            f"more than {size:,} bytes can hold"
        )

    metadata: dict[str, MetadataValue] = {}
    for index in range(kv_count):
        key = cur.string(f"metadata key {index}")
        vtype = cur.value_type(f"metadata '{key}'")
        metadata[key] = cur.value(vtype, f"metadata '{key}'")

    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise cur.fail(f"general.alignment is {alignment!r}, not a power of two")

    tensors: list[tuple[str, int, int, int]] = []  # name, elements, type, offset
    tensor_types: Counter[int] = Counter()
    parameters = 0
    for index in range(tensor_count):
        name = cur.string(f"the name of tensor {index}")
        n_dims = cur.u32(f"the dimensions of tensor '{name}'")
        if not 1 <= n_dims <= MAX_DIMS:
            raise cur.fail(f"tensor '{name}' has {n_dims} dimensions (1 to {MAX_DIMS} allowed)")
        dims = [cur.u64(f"the shape of tensor '{name}'") for _ in range(n_dims)]
        raw_type = cur.u32(f"the type of tensor '{name}'")
        offset = cur.u64(f"the offset of tensor '{name}'")
        if raw_type not in GGML_QUANT_SIZES:
            raise cur.fail(f"tensor '{name}' has unknown type {raw_type}")
        elements = 1
        for dim in dims:
            elements *= dim  # checked against the file size below
        tensors.append((name, elements, raw_type, offset))
        parameters += elements
        if n_dims >= 2:
            tensor_types[raw_type] += 1

    data_start = -(-cur.pos // alignment) * alignment
    for name, elements, raw_type, offset in tensors:
        block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(raw_type)]
        if elements % block:
            raise cur.fail(f"tensor '{name}' has {elements} elements, not a multiple of {block}")
        end = data_start + offset + elements // block * type_size
        if offset % alignment:
            raise cur.fail(f"tensor '{name}' starts at offset {offset:,}, not a multiple of the alignment {alignment}")
        if end > size:
            raise cur.fail(
                f"tensor '{name}' lies outside the file (ends at byte {end:,} of {size:,}); "
                "the file is truncated or damaged, download it again"
            )

    architecture = metadata.get("general.architecture")
    if not isinstance(architecture, str) or not architecture:
        raise cur.fail("it has no general.architecture, so it is not a language model file")

    def meta_int(key: str) -> int | None:
        value = metadata.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    tokens = metadata.get("tokenizer.ggml.tokens")
    vocab = tokens.length if isinstance(tokens, ArraySummary) else (len(tokens) if isinstance(tokens, list) and tokens else None)
    template = metadata.get("tokenizer.chat_template")
    model_name = metadata.get("general.name") or path.stem
    size_label = metadata.get("general.size_label") or _size_label(parameters)
    return GGUFInfo(
        path=path,
        file_size=size,
        version=version,
        name=str(model_name),
        architecture=architecture,
        size_label=str(size_label),
        parameter_count=parameters,
        quantization=_quantization_label(metadata, tensor_types),
        context_length=meta_int(f"{architecture}.context_length"),
        block_count=meta_int(f"{architecture}.block_count"),
        vocab_size=vocab,
        chat_template=template if isinstance(template, str) and template else None,
        tensor_count=tensor_count,
        metadata=metadata,
    )
