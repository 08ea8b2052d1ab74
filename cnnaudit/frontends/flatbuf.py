"""A bounded reader for FlatBuffers: tables, vtables, scalars, vectors, strings, unions.

Only what cnnaudit's .tflite frontend needs, over any object with the buffer protocol (an
mmap, bytes). Nothing is trusted: every offset, vtable size and vector length is checked
against the buffer's size before it is followed, and the only exception this module
raises is `FlatbufferError` (never an IndexError or struct.error). These are the bounds
rules of the FlatBuffers C++ `Verifier` (flatbuffers/verifier.h): a vtable of an even
size inside the buffer, every field, vector (with its length) and string inside the
buffer. Alignment is not checked, and a string need not end in its NUL. Reading costs nothing up
front: a table or vector is located when it is asked for, and a vector of scalars is
unpacked in one call once its whole extent is known to lie inside the buffer.

The wire format (https://flatbuffers.dev/internals/): all values little-endian; the buffer
starts with a uint32 offset to the root table; a table starts with an int32 soffset back to
its vtable (vtable = table - soffset); a vtable is uint16 vtable size, uint16 table size,
then one uint16 per field slot: the field's offset from the table start, 0 when the field
is absent (so it has its schema default); an offset field (table, vector, string, union
value) holds a uint32 added to its own position; a vector or string starts with a uint32
element count (a string is followed by a NUL that is not counted).
"""

from __future__ import annotations

import struct
from typing import Any, NamedTuple

_U16 = struct.Struct("<H")
_I32 = struct.Struct("<i")
_U32 = struct.Struct("<I")


class FlatbufferError(Exception):
    """The buffer is not a well-formed flatbuffer where it was read."""


class Scalar(NamedTuple):
    """A scalar field of a table: its slot (declaration order, a union taking two), its
    struct format character, and the schema default returned when the field is absent."""

    slot: int
    fmt: str
    default: Any


_STRUCTS: dict[str, struct.Struct] = {}


def _struct(fmt: str) -> struct.Struct:
    s = _STRUCTS.get(fmt)
    if s is None:
        if fmt not in ("b", "B", "h", "H", "i", "I", "q", "Q", "f", "d", "?"):
            raise ValueError(f"not a flatbuffer scalar format: {fmt!r}")
        s = _STRUCTS[fmt] = struct.Struct("<" + fmt)
    return s


class Buffer:
    """The bytes being read, and the size every position is checked against."""

    __slots__ = ("data", "size")

    def __init__(self, data: Any, size: int | None = None) -> None:
        self.data = data
        self.size = len(data) if size is None else min(size, len(data))

    def check(self, pos: int, length: int, what: str) -> None:
        if pos < 0 or length < 0 or pos + length > self.size:
            raise FlatbufferError(f"{what} at byte {pos} ({length:,} bytes) is outside the "
                                  f"{self.size:,}-byte buffer")

    def read(self, s: struct.Struct, pos: int, what: str) -> Any:
        self.check(pos, s.size, what)
        return s.unpack_from(self.data, pos)[0]

    def root(self) -> Table:
        """The root table: the buffer's first uint32 is its offset."""
        return Table(self, self.read(_U32, 0, "the root offset"))

    def indirect(self, pos: int, what: str) -> int:
        """The position a uint32 offset field at `pos` points to."""
        return pos + self.read(_U32, pos, what)


class Table:
    """A table whose vtable has been checked to lie inside the buffer."""

    __slots__ = ("buf", "pos", "vsize", "vtable")

    def __init__(self, buf: Buffer, pos: int) -> None:
        self.buf = buf
        self.pos = pos
        vtable = pos - buf.read(_I32, pos, "a table")
        vsize = buf.read(_U16, vtable, "a vtable")
        if vsize % 2:  # the FlatBuffers verifier's rule: a vtable is whole uint16 entries
            raise FlatbufferError(f"the vtable at byte {vtable} claims {vsize} bytes")
        buf.check(vtable, vsize, "a vtable")
        self.vtable = vtable
        self.vsize = vsize

    def field(self, slot: int) -> int:
        """Where the field in `slot` starts, or 0 when the table does not store it."""
        entry = 4 + 2 * slot
        if entry + 2 > self.vsize:
            return 0
        offset = _U16.unpack_from(self.buf.data, self.vtable + entry)[0]  # inside the vtable
        return self.pos + offset if offset else 0

    def scalar(self, field: Scalar) -> Any:
        pos = self.field(field.slot)
        if not pos:
            return field.default
        return self.buf.read(_struct(field.fmt), pos, f"field {field.slot}")

    def table(self, slot: int) -> Table | None:
        """A table field, or a union's value (its type is the scalar in the slot before)."""
        pos = self.field(slot)
        if not pos:
            return None
        return Table(self.buf, self.buf.indirect(pos, f"field {slot}"))

    def union(self, type_field: Scalar, slot: int) -> tuple[int, Table | None]:
        """A union: its type (0 is NONE) and its value table."""
        kind = self.scalar(type_field)
        return kind, (self.table(slot) if kind else None)

    def vector(self, slot: int) -> Vector:
        """A vector field; an absent one is empty. Its length is read, not yet checked
        against the buffer: the elements are, when they are read."""
        pos = self.field(slot)
        if not pos:
            return Vector(self.buf, 0, 0)
        start = self.buf.indirect(pos, f"field {slot}")
        length = self.buf.read(_U32, start, f"the length of vector field {slot}")
        return Vector(self.buf, start + 4, length)

    def string(self, slot: int) -> bytes | None:
        """A string field's bytes (undecoded), or None when absent."""
        pos = self.field(slot)
        if not pos:
            return None
        start = self.buf.indirect(pos, f"field {slot}")
        length = self.buf.read(_U32, start, f"the length of string field {slot}")
        self.buf.check(start + 4, length, f"string field {slot}")
        return bytes(self.buf.data[start + 4:start + 4 + length])


class Vector:
    """A vector's first element and element count."""

    __slots__ = ("buf", "length", "start")

    def __init__(self, buf: Buffer, start: int, length: int) -> None:
        self.buf = buf
        self.start = start
        self.length = length

    def __len__(self) -> int:
        return self.length

    def check(self, item_bytes: int) -> None:
        """Check that all the vector's elements lie inside the buffer."""
        self.buf.check(self.start, self.length * item_bytes,
                       f"a vector of {self.length:,} {item_bytes}-byte elements")

    def scalars(self, fmt: str) -> list[Any]:
        """Every element, as the scalar type `fmt` (a struct format character)."""
        s = _struct(fmt)
        self.check(s.size)
        if not self.length:
            return []
        return list(struct.unpack_from(f"<{self.length}{fmt}", self.buf.data, self.start))

    def table(self, i: int) -> Table:
        """Element `i` of a vector of tables."""
        if not 0 <= i < self.length:
            raise FlatbufferError(f"element {i} of a vector of {self.length:,}")
        return Table(self.buf, self.buf.indirect(self.start + 4 * i, "a vector element"))
