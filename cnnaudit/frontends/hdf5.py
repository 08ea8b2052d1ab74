"""A bounded, pure-Python reader for the HDF5 metadata a Keras .h5 file holds.

Keras saves a model's architecture as the root group's `model_config` attribute and its
weights under `model_weights`; cnnaudit needs that attribute, a few string-array attributes
(`layer_names`, `weight_names`) and each weight dataset's shape from its dataspace message,
never a weight value. The HDF5 C library (through h5py) costs ~0.35 s to import and can
hang or allocate without bound on a hostile file, so it had to run in a child process; this
reader does the same job in-process with `struct` only, over a memory map of the file
(pages are read only where a structure is).

Nothing is trusted: every address and length is checked against the file (or window) size
before it is read, every loop is bounded by a count, every walk of a tree or chain by a
depth limit and a visited set (cycles), the bytes read by a budget, and the structures
visited by a step budget. A malformed file raises `HDF5Error` (one line, no traceback);
the only other exception this module raises is `Unsupported`.

Supported (what h5py writes for Keras 3 legacy .h5, tf.keras 2.x .h5 and `libver`
earliest..latest): superblock versions 0-3 (with a user block), object header versions 1
and 2 with continuation chunks, symbol-table groups (v1 B-tree + local heap + symbol nodes),
compact link messages and dense links (link info + fractal heap + v2 B-tree name index),
compact attributes and dense attributes (attribute info + fractal heap + v2 B-tree),
fractal heap managed, tiny and huge (unfiltered) objects, attribute messages versions 1-3,
scalar and array attributes of fixed-length strings, variable-length strings (in the
global heap) and, when empty, any type; dataspace messages versions 1-2. Checksums are
not verified: every read is bounds-checked instead, so a wrong byte gives a wrong answer
or an error, never an out-of-bounds read.

`Unsupported` is raised for valid HDF5 this reader has no reason to understand, and the
caller falls back to h5py in a child process: shared (committed) object header messages,
soft links on a path that is followed, fractal heaps with I/O filters,
variable-length sequences and non-string attribute values that are not empty, 16-byte
offsets or lengths, superblock versions after 3, and names longer than 64 KiB. A dataset's
layout, filters and data are never looked at, so chunked or compressed weights need
nothing more.

External links (to another file) are never followed: they read as absent, as h5py shows
one whose file does not exist, so a model file cannot make cnnaudit open another file.

Layouts follow the HDF5 File Format Specification version 3.0/4.0 (The HDF Group).
"""

from __future__ import annotations

import math
import struct
from typing import Any, NamedTuple

SIGNATURE = b"\x89HDF\r\n\x1a\n"
UNDEFINED = -1  # an address whose bytes are all 0xFF

# Bounds. A real Keras file is far inside every one; each stops a forged count or size.
MAX_STEPS = 1_000_000  # structures visited (messages, records, symbols, nodes): ResNet50
# takes 17,000, and cnnaudit's 10,000-layer limit about 1,000,000
MAX_BLOCK = 4 * 2**20  # one metadata structure (header chunk, local heap, B-tree node)
MAX_NAME = 64 * 2**10  # one link or attribute name
HEAP_LOOKUP = 16  # steps one fractal heap object costs: a step is about a microsecond of work
MAX_DEPTH = 64  # B-tree levels, fractal heap indirect levels, continuation chains
MAX_PATH = 64  # components of a path
MAX_ELEMENTS = 100_000  # elements of one attribute (layer_names has one per layer)
MAX_RANK = 32  # HDF5's own limit on dataspace rank

# Object header message types.
DATASPACE, LINK_INFO, DATATYPE, LINK, DATA_LAYOUT = 0x01, 0x02, 0x03, 0x06, 0x08
ATTRIBUTE, CONTINUATION, SYMBOL_TABLE, ATTRIBUTE_INFO = 0x0C, 0x10, 0x11, 0x15
NEEDED = {DATASPACE, LINK_INFO, DATATYPE, LINK, DATA_LAYOUT, ATTRIBUTE, CONTINUATION,
          SYMBOL_TABLE, ATTRIBUTE_INFO}

_U16 = struct.Struct("<H")
# object header message headers: type, size, flags (+ creation order in version 2)
_V1 = struct.Struct("<HHB3x")
_V2 = struct.Struct("<BHB")
_V2_ORDER = struct.Struct("<BHBH")
# a symbol table entry's name offset (a length), object header address and cache type
_CODES = {2: "H", 4: "I", 8: "Q"}
_ENTRY = {(o, n): struct.Struct(f"<{_CODES[n]}{_CODES[o]}I") for o in _CODES for n in _CODES}
_ALL_ONES = {n: 2 ** (8 * n) - 1 for n in _CODES}
# a variable-length element: its length, then its global heap collection and object index
_VLEN = {n: struct.Struct(f"<I{_CODES[n]}I") for n in _CODES}
_SNOD = struct.Struct("<4sB1xH")  # signature, version, symbol count
_TREE = struct.Struct("<4sBBH")  # signature, node type, level, entries used
# a global heap object's header: index, reference count, reserved, size (a length)
_GLOBAL = {n: struct.Struct(f"<HH4x{_CODES[n]}") for n in _CODES}
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


class HDF5Error(Exception):
    """The file is not well-formed HDF5 where it was read (or breaks a bound)."""


class Unsupported(Exception):
    """Valid HDF5 that this reader does not read: the caller may use h5py instead."""


class _RawAttribute(NamedTuple):
    """An attribute message's parts, kept undecoded until its value is asked for."""

    dtype: bytes
    space: bytes
    data: bytes


class _Cursor:
    """Little-endian fields from one structure's bytes; reading past its end is an
    HDF5Error naming the structure, never an IndexError or struct.error."""

    __slots__ = ("data", "end", "lengths", "offsets", "pos", "what")

    def __init__(self, data: bytes, what: str, offsets: int, lengths: int, pos: int = 0,
                 end: int | None = None) -> None:
        self.data, self.what, self.pos = data, what, pos
        self.end = len(data) if end is None else min(end, len(data))
        self.offsets, self.lengths = offsets, lengths

    def need(self, n: int) -> int:
        pos = self.pos
        if n < 0 or pos + n > self.end:
            raise HDF5Error(f"{self.what} is cut short (needs {n} more bytes at {pos})")
        self.pos = pos + n
        return pos

    def take(self, n: int) -> bytes:
        pos = self.need(n)
        return self.data[pos:pos + n]

    def u8(self) -> int:
        return self.data[self.need(1)]

    def u16(self) -> int:
        return _U16.unpack_from(self.data, self.need(2))[0]

    def u32(self) -> int:
        return _U32.unpack_from(self.data, self.need(4))[0]

    def uint(self, n: int) -> int:
        return int.from_bytes(self.data[self.need(n):self.pos], "little")

    def address(self) -> int:
        raw = self.data[self.need(self.offsets):self.pos]
        return UNDEFINED if raw == b"\xff" * self.offsets else int.from_bytes(raw, "little")

    def length(self) -> int:
        return self.uint(self.lengths)

    def left(self) -> int:
        return self.end - self.pos


def _log2(n: int) -> int:
    """floor(log2(n)) for n >= 1, as HDF5's H5VM_log2_gen."""
    return n.bit_length() - 1


def _enc_size(n: int) -> int:
    """Bytes HDF5 uses to store a count up to n (H5VM_limit_enc_size)."""
    return _log2(max(n, 1)) // 8 + 1


class Reader:
    """The file (or a window of it) and the budgets every read is charged to."""

    def __init__(self, data: Any, start: int = 0, size: int | None = None,
                 max_string: int = 64 * 2**20) -> None:
        self.data = data  # bytes or an mmap: anything that slices
        self.start = start
        available = max(len(data) - start, 0)
        self.size = available if size is None else max(min(size, available), 0)
        self.max_string = max_string
        self.budget = max_string + 32 * 2**20  # bytes this reader may read (or copy) in all
        self.steps = MAX_STEPS
        self.base = 0
        self.offsets = self.lengths = 8
        self._headers: dict[int, list[tuple[int, int, bytes]]] = {}
        self._links: dict[int, dict[bytes, tuple[str, Any]]] = {}
        self._heaps: dict[int, bytes] = {}
        self._collections: dict[int, dict[int, tuple[int, int]]] = {}
        self._fheaps: dict[int, _FractalHeap] = {}
        self._attributes: dict[int, dict[bytes, _RawAttribute]] = {}
        self.kinds: dict[int, set[int]] = {}  # the message types of each object header
        # (group, path) -> (object header address, name): plain data, so that no reference
        # cycle keeps the caches alive after the file is read
        self.resolved: dict[tuple[int, str], tuple[int, str] | None] = {}

    # -- raw access -----------------------------------------------------------------
    def step(self, n: int = 1) -> None:
        self.steps -= n
        if self.steps < 0:
            raise HDF5Error(f"more than {MAX_STEPS:,} HDF5 structures: not a model file")

    def charge(self, n: int) -> None:
        self.budget -= n
        if self.budget < 0:
            raise HDF5Error("reading this file needs more bytes than any model file's "
                            "metadata would")

    def read(self, addr: int, n: int, what: str) -> bytes:
        """n bytes at file address addr (relative to the superblock's base)."""
        if addr == UNDEFINED:
            raise HDF5Error(f"{what} has an undefined address")
        pos = self.base + addr
        if addr < 0 or n < 0 or pos + n > self.size:
            raise HDF5Error(f"{what} at byte {pos:,} ({n:,} bytes) is outside the "
                            f"{self.size:,}-byte file")
        self.charge(n)
        return self.data[self.start + pos:self.start + pos + n]

    def cursor(self, addr: int, n: int, what: str) -> _Cursor:
        return _Cursor(self.read(addr, n, what), what, self.offsets, self.lengths)

    def block(self, addr: int, n: int, what: str) -> _Cursor:
        """A metadata structure of a size the file gives: bounded by MAX_BLOCK."""
        if n > MAX_BLOCK:
            raise HDF5Error(f"{what} claims {n:,} bytes; refusing more than {MAX_BLOCK:,}")
        return self.cursor(addr, n, what)

    def signature(self, c: _Cursor, sig: bytes) -> None:
        if c.take(len(sig)) != sig:
            raise HDF5Error(f"{c.what} has no {sig.decode()} signature")

    # -- superblock ---------------------------------------------------------------------
    def open(self) -> int:
        """Find and read the superblock; return the root group's object header address."""
        where = 0
        while True:  # at 0, 512, 1024, 2048, ... (a user block may come first)
            if where + 8 > self.size:
                raise HDF5Error("not an HDF5 file (no HDF5 signature)")
            if self.data[self.start + where:self.start + where + 8] == SIGNATURE:
                break
            where = 512 if where == 0 else where * 2
        self.base = where
        head = self.cursor(8, min(self.size - where - 8, 96), "the superblock")
        version = head.u8()
        if version in (0, 1):
            head.need(4)  # free-space, root symbol table, reserved, shared header versions
            offsets, lengths = head.u8(), head.u8()
            self._sizes(offsets, lengths)
            head.need(1 + 2 + 2 + 4 + (4 if version == 1 else 0))
            head.offsets, head.lengths = offsets, lengths
            head.address()  # base address: the library uses the signature's position
            head.address()  # free-space info
            eof = head.address()
            head.address()  # driver info
            head.address()  # root: link name offset
            root = head.address()
        elif version in (2, 3):
            offsets, lengths = head.u8(), head.u8()
            self._sizes(offsets, lengths)
            head.offsets, head.lengths = offsets, lengths
            head.u8()  # file consistency flags
            head.address()  # base address
            head.address()  # superblock extension (file space settings; nothing we need)
            eof = head.address()
            root = head.address()
        else:
            raise Unsupported(f"HDF5 superblock version {version}")
        # (the end-of-file address counts the user block, as h5py writes it)
        if eof != UNDEFINED and eof > self.size:
            raise HDF5Error(f"the file is truncated: HDF5 says it ends at byte {eof:,} but it "
                            f"has {self.size:,}")
        return root

    def _sizes(self, offsets: int, lengths: int) -> None:
        if offsets not in (2, 4, 8) or lengths not in (2, 4, 8):
            if offsets in (16,) or lengths in (16,):
                raise Unsupported(f"HDF5 offsets of {offsets} and lengths of {lengths} bytes")
            raise HDF5Error(f"the superblock gives offsets of {offsets} and lengths of "
                            f"{lengths} bytes")
        self.offsets, self.lengths = offsets, lengths

    # -- object headers ---------------------------------------------------------------
    def messages(self, addr: int) -> list[tuple[int, int, bytes]]:
        """The (type, flags, body) of every message an object header holds that this
        reader uses, continuation chunks followed; cached per header."""
        cached = self._headers.get(addr)
        if cached is not None:
            return cached
        self.step()
        c = self.cursor(addr, min(34, self.size - self.base - addr), "an object header")
        out: list[tuple[int, int, bytes]] = []
        if c.take(4) == b"OHDR":
            if c.u8() != 2:
                raise HDF5Error("object header version is not 2")
            flags = c.u8()
            if flags & 0x20:
                c.need(16)  # access, modification, change, birth times
            if flags & 0x10:
                c.need(4)  # attribute storage phase change values
            size = c.uint(1 << (flags & 3))
            self._chunks([(addr + c.pos, size)], out, _V2_ORDER if flags & 0x04 else _V2)
        elif c.data[0] == 1:
            c.pos = 2
            count = c.u16()
            c.need(4)  # reference count
            size = c.u32()
            self._chunks([(addr + 16, size)], out, _V1, count)
        else:
            raise HDF5Error(f"no object header at address {addr:,}")
        self._headers[addr] = out
        return out

    def _chunks(self, chunks: list[tuple[int, int]], out: list[tuple[int, int, bytes]],
                head: struct.Struct, count: int = MAX_STEPS) -> None:
        """Read the messages of the chunks, appending the continuation chunks it meets.
        `head` is the message header's layout (the version 1 one, or version 2's)."""
        v2 = head is not _V1
        seen: set[int] = set()
        i = 0
        while i < len(chunks):
            addr, size = chunks[i]
            if addr in seen:
                raise HDF5Error("an object header's continuation chunks form a cycle")
            seen.add(addr)
            if len(seen) > 4 * MAX_DEPTH:
                raise HDF5Error("an object header has too many continuation chunks")
            c = self.block(addr, size, "an object header chunk")
            data, pos, end = c.data, 0, len(c.data)
            if v2 and i > 0:  # a continuation chunk: signature, messages, checksum
                self.signature(c, b"OCHK")
                pos, end = 4, end - 4
            self.step((end - pos) // head.size)
            while pos + head.size <= end:
                kind, length, flags = head.unpack_from(data, pos)[:3]
                pos += head.size
                if pos + length > end:
                    raise HDF5Error("an object header message runs past its chunk")
                if kind == CONTINUATION:
                    cc = _Cursor(data, "a continuation message", self.offsets, self.lengths,
                                 pos=pos, end=pos + length)
                    chunks.append((cc.address(), cc.length()))
                elif kind in NEEDED:
                    out.append((kind, flags, data[pos:pos + length]))
                pos += length
                count -= 1
                if count <= 0:
                    return
            i += 1

    def body(self, msg: tuple[int, int, bytes], what: str) -> _Cursor:
        _, flags, data = msg
        if flags & 0x02:
            raise Unsupported(f"a shared (committed) {what} message")
        return _Cursor(data, f"a {what} message", self.offsets, self.lengths)

    # -- groups ------------------------------------------------------------------------
    def links(self, addr: int) -> dict[bytes, tuple[str, Any]]:
        """A group's members: name -> ("hard", object header address) or ("soft"|
        "external", None); cached per group."""
        cached = self._links.get(addr)
        if cached is not None:
            return cached
        out: dict[bytes, tuple[str, Any]] = {}
        for msg in self.messages(addr):
            if msg[0] == SYMBOL_TABLE:
                c = self.body(msg, "symbol table")
                tree, heap = c.address(), c.address()
                self._symbol_table(tree, heap, out)
            elif msg[0] == LINK:
                name, link = self._link(self.body(msg, "link"))
                out[name] = link
            elif msg[0] == LINK_INFO:
                heap, names = self._dense_storage(msg, "link info", 8)
                if heap != UNDEFINED:
                    fheap = self.fractal_heap(heap)
                    for record in self.btree2(names, 5, 4 + fheap.id_len):
                        name, link = self._link(_Cursor(
                            fheap.get(self, record[4:]), "a link message", self.offsets,
                            self.lengths))
                        out[name] = link
        self._links[addr] = out
        return out

    def _dense_storage(self, msg: tuple[int, int, bytes], what: str,
                       index_bytes: int) -> tuple[int, int]:
        """The fractal heap and name index of a link or attribute info message (dense
        storage); the heap is UNDEFINED when there is none. `index_bytes`: the size of
        the largest creation index, present when flag 0 says it is tracked."""
        c = self.body(msg, what)
        if c.u8() != 0:
            raise HDF5Error(f"{what} message version is not 0")
        if c.u8() & 1:
            c.need(index_bytes)
        return c.address(), c.address()

    def _link(self, c: _Cursor) -> tuple[bytes, tuple[str, Any]]:
        if c.u8() != 1:
            raise HDF5Error("link message version is not 1")
        flags = c.u8()
        kind = c.u8() if flags & 0x08 else 0
        if flags & 0x04:
            c.need(8)  # creation order
        if flags & 0x10:
            c.need(1)  # character set
        name = c.take(c.uint(1 << (flags & 3)))
        if kind == 0:
            return name, ("hard", c.address())
        return name, ("soft" if kind == 1 else "external", None)

    def _symbol_table(self, tree: int, heap: int, out: dict[bytes, tuple[str, Any]]) -> None:
        names = self.local_heap(heap)
        entry = 2 * self.offsets + 24
        for node in self._btree1(tree):
            sig, version, count = _SNOD.unpack(self.read(node, 8, "a symbol table node"))
            if sig != b"SNOD" or version != 1:
                raise HDF5Error("a symbol table node has no SNOD signature (version 1)")
            data = self.read(node + 8, count * entry, "a symbol table node")
            self.step(count)
            fmt = _ENTRY[self.offsets, self.lengths]
            for i in range(count):
                offset, obj, cache = fmt.unpack_from(data, i * entry)
                if offset >= len(names):
                    raise HDF5Error("a symbol's name is outside its local heap")
                end = names.find(b"\0", offset, offset + MAX_NAME)
                if end < 0:
                    raise (Unsupported if len(names) - offset > MAX_NAME else HDF5Error)(
                        "a symbol's name does not end in its local heap")
                self.charge(end - offset)
                # cache type 2: a soft link, whose target is in the scratch pad
                out[names[offset:end]] = ("soft", None) if cache == 2 else (
                    "hard", UNDEFINED if obj == _ALL_ONES[self.offsets] else obj)

    def _btree1(self, root: int) -> list[int]:
        """The symbol table nodes of a group's v1 B-tree, left to right."""
        leaves: list[int] = []
        seen: set[int] = set()
        stack = [(root, None)]
        while stack:
            addr, level = stack.pop()
            if addr in seen:
                raise HDF5Error("a group's B-tree has a cycle")
            seen.add(addr)
            self.step()
            head = 8 + 2 * self.offsets  # then the siblings' addresses, not needed
            sig, kind, node_level, entries = _TREE.unpack(
                self.read(addr, head, "a group B-tree node")[:8])
            if sig != b"TREE" or kind != 0:
                raise HDF5Error("a group's B-tree node is not a group node (TREE, type 0)")
            if level is not None and node_level != level:
                raise HDF5Error("a group's B-tree levels are inconsistent")
            if node_level > MAX_DEPTH:
                raise HDF5Error(f"a group's B-tree is {node_level} levels deep")
            self.step(entries)
            pair = _CODES[self.lengths] + _CODES[self.offsets]  # key (a heap offset), child
            keys = self.read(addr + head, entries * (self.offsets + self.lengths),
                             "a group B-tree node")
            children = list(struct.unpack(f"<{pair * entries}", keys)[1::2])
            if node_level == 0:
                leaves.extend(children)
            else:
                stack.extend((child, node_level - 1) for child in reversed(children))
        return leaves

    def local_heap(self, addr: int) -> bytes:
        cached = self._heaps.get(addr)
        if cached is not None:
            return cached
        self.step(2)
        c = self.cursor(addr, 8 + 2 * self.lengths + self.offsets, "a local heap")
        if c.take(5) != b"HEAP\0":
            raise HDF5Error("a local heap has no HEAP signature (version 0)")
        c.need(3)
        size = c.length()
        c.length()  # free list
        data = self.block(c.address(), size, "a local heap's data").data
        self._heaps[addr] = data
        return data

    # -- v2 B-trees and fractal heaps ----------------------------------------------------
    def btree2(self, addr: int, kind: int, size: int) -> list[bytes]:
        """Every record (of `size` bytes) of a version 2 B-tree of the given type."""
        c = self.block(addr, 4 + 2 + 4 + 2 + 2 + 2 + self.offsets + 2 + self.lengths,
                       "a v2 B-tree header")
        self.signature(c, b"BTHD")
        if c.u8() != 0 or c.u8() != kind:
            raise HDF5Error(f"the v2 B-tree at {addr:,} is not of type {kind}")
        node_size, record, depth = c.u32(), c.u16(), c.u16()
        c.need(2)
        root, count, total = c.address(), c.u16(), c.length()
        if not 16 <= node_size <= MAX_BLOCK or record != size or depth > MAX_DEPTH:
            raise HDF5Error("a v2 B-tree header has impossible sizes")
        if total > MAX_STEPS:
            raise HDF5Error(f"a v2 B-tree claims {total:,} records")
        # Sizes of the child pointers' record counts, as the library computes them.
        max_records = [(node_size - 10) // record]
        cumulative = [max_records[0]]
        count_size = _enc_size(max_records[0])
        cum_sizes = [0]
        for d in range(1, depth + 1):
            pointer = self.offsets + count_size + (cum_sizes[d - 1] if d > 1 else 0)
            n = (node_size - (10 + pointer)) // (record + pointer)
            if n <= 0:
                raise HDF5Error("a v2 B-tree's nodes are too small for its depth")
            max_records.append(n)
            cumulative.append((n + 1) * cumulative[d - 1] + n)
            cum_sizes.append(_enc_size(cumulative[d]))
        records: list[bytes] = []
        if root == UNDEFINED or count == 0:
            return records
        seen: set[int] = set()
        stack = [(root, count, depth)]
        while stack:
            node, n, d = stack.pop()
            if node in seen:
                raise HDF5Error("a v2 B-tree has a cycle")
            seen.add(node)
            self.step()
            if n > max_records[d]:
                raise HDF5Error("a v2 B-tree node claims more records than it can hold")
            c = self.block(node, node_size, "a v2 B-tree node")
            self.signature(c, b"BTLF" if d == 0 else b"BTIN")
            if c.u8() != 0 or c.u8() != kind:
                raise HDF5Error("a v2 B-tree node is of the wrong type")
            mine = [c.take(record) for _ in range(n)]
            if d == 0:
                records.extend(mine)
            else:
                for _ in range(n + 1):
                    child, below = c.address(), c.uint(count_size)
                    if d > 1:
                        c.uint(cum_sizes[d - 1])
                    stack.append((child, below, d - 1))
                records.extend(mine)  # the order of records does not matter here
            self.step(n)
            if len(records) > total:
                raise HDF5Error("a v2 B-tree holds more records than its header says")
        return records

    def fractal_heap(self, addr: int) -> _FractalHeap:
        heap = self._fheaps.get(addr)
        if heap is None:
            heap = self._fheaps[addr] = _FractalHeap(self, addr)
        return heap

    # -- the global heap -----------------------------------------------------------------
    def global_object(self, addr: int, index: int, length: int, what: str) -> bytes:
        """The first `length` bytes of object `index` in the global heap collection at
        `addr`: where HDF5 keeps variable-length strings."""
        if length > self.max_string:
            raise HDF5Error(f"{what} holds {length:,} bytes, more than the limit of "
                            f"{self.max_string / 2**20:g} MB")
        objects = self._collections.get(addr)
        if objects is None:
            objects = self._collections[addr] = self._collection(addr)
        where = objects.get(index)
        if where is None:
            raise HDF5Error(f"{what} points to a global heap object that does not exist")
        start, size = where
        if length > size:
            raise HDF5Error(f"{what} is longer than its global heap object")
        return self.read(start, length, what)

    def _collection(self, addr: int) -> dict[int, tuple[int, int]]:
        c = self.cursor(addr, 8 + self.lengths, "a global heap collection")
        self.signature(c, b"GCOL")
        if c.u8() != 1:
            raise HDF5Error("global heap collection version is not 1")
        c.need(3)
        size = c.length()
        if size < 8 + self.lengths or addr + size > self.size - self.base:
            raise HDF5Error(f"a global heap collection of {size:,} bytes does not fit in "
                            "the file")
        objects: dict[int, tuple[int, int]] = {}
        pos, end = addr + c.pos, addr + size
        head = _GLOBAL[self.lengths]
        while pos + head.size <= end:  # object headers only: the strings stay unread
            self.step()
            index, _, length = head.unpack_from(self.data, self.start + self.base + pos)
            if index == 0:  # free space: the rest of the collection
                break
            if length > end - pos - head.size:
                raise HDF5Error("a global heap object runs past its collection")
            objects[index] = (pos + head.size, length)
            pos += head.size + (length + 7) // 8 * 8
        return objects

    # -- attributes and dataspaces --------------------------------------------------------
    def attributes(self, addr: int) -> dict[bytes, _RawAttribute]:
        """An object's attributes by name, undecoded; cached per object."""
        cached = self._attributes.get(addr)
        if cached is not None:
            return cached
        out: dict[bytes, _RawAttribute] = {}
        for msg in self.messages(addr):
            if msg[0] == ATTRIBUTE:
                name, c = self._attribute(self.body(msg, "attribute"))
                out[name] = c
            elif msg[0] == ATTRIBUTE_INFO:
                heap, names = self._dense_storage(msg, "attribute info", 2)
                if heap == UNDEFINED:
                    continue
                fheap = self.fractal_heap(heap)
                for record in self.btree2(names, 8, 17):
                    if record[8] & 0x02:
                        raise Unsupported("a shared attribute message in dense storage")
                    body = fheap.get(self, record[:8])
                    name, c = self._attribute(_Cursor(body, "an attribute message",
                                                      self.offsets, self.lengths))
                    out[name] = c
        self._attributes[addr] = out
        return out

    def _attribute(self, c: _Cursor) -> tuple[bytes, _RawAttribute]:
        version = c.u8()
        if version not in (1, 2, 3):
            raise HDF5Error(f"attribute message version {version}")
        flags = c.u8()
        if flags & 0x03:
            raise Unsupported("an attribute with a shared datatype or dataspace")
        name_size, type_size, space_size = c.u16(), c.u16(), c.u16()
        if version == 3:
            c.u8()  # name character set
        # version 1 pads the name, datatype and dataspace to multiples of 8 bytes
        pad = (lambda n: (n + 7) // 8 * 8) if version == 1 else (lambda n: n)
        name = c.take(pad(name_size))[:name_size].rstrip(b"\0")
        dtype = c.take(pad(type_size))[:type_size]
        space = c.take(pad(space_size))[:space_size]
        return name, _RawAttribute(dtype, space, c.data[c.pos:c.end])

    def attribute_value(self, raw: _RawAttribute, name: str) -> Any:
        """Decode an attribute: a str/bytes (scalar) or a list of them (array); an empty
        array of any type is []. Variable-length strings come back as str, fixed-length
        ones as bytes (as h5py gives them)."""
        shape = self.dataspace(_Cursor(raw.space, f"attribute {name!r}'s dataspace",
                                       self.offsets, self.lengths))
        count = 0 if shape is None else math.prod(shape)
        if count > MAX_ELEMENTS:
            raise HDF5Error(f"attribute {name!r} claims {count:,} elements")
        dtype = _Cursor(raw.dtype, f"attribute {name!r}'s datatype", self.offsets,
                        self.lengths)
        value = _Cursor(raw.data, f"attribute {name!r}", self.offsets, self.lengths)
        head = dtype.u32()
        cls, version, bits = head & 0x0F, (head >> 4) & 0x0F, head >> 8
        size = dtype.u32()
        if version not in (1, 2, 3, 4, 5):
            raise HDF5Error(f"attribute {name!r} has datatype version {version}")
        if count == 0:
            items: list[Any] = []
        elif cls == 3:  # fixed-length strings
            if size == 0 or size * count > value.left():
                raise HDF5Error(f"attribute {name!r} is shorter than its strings")
            self._check_size(size * count, name)
            self.step(count)
            items = []
            for _ in range(count):
                text = value.take(size)
                # null-terminated and null-padded strings end at the first NUL, as numpy
                # reads them; space-padded ones lose their padding
                if bits & 0x0F == 2:
                    text = text.rstrip(b" ")
                cut = text.find(b"\0")
                items.append(text[:cut] if cut >= 0 else text)
        elif cls == 9:  # variable-length
            if bits & 0x0F != 1:
                raise Unsupported(f"attribute {name!r} is a variable-length sequence")
            if (8 + self.offsets) * count > value.left():
                raise HDF5Error(f"attribute {name!r} is shorter than its strings")
            items = []
            self.step(count)
            element = _VLEN[self.offsets]
            for i in range(count):
                length, collection, index = element.unpack_from(value.data, i * element.size)
                text = b"" if length == 0 else self.global_object(
                    collection, index, length, f"attribute {name!r}")
                items.append(text.decode("utf-8", errors="replace"))  # ASCII or UTF-8
        else:
            raise Unsupported(f"attribute {name!r} is of HDF5 type class {cls}")
        return items[0] if shape == () else items

    def _check_size(self, n: int, name: str) -> None:
        if n > self.max_string:
            raise HDF5Error(f"attribute {name!r} holds {n:,} bytes, more than the limit of "
                            f"{self.max_string / 2**20:g} MB")

    def dataspace(self, c: _Cursor) -> tuple[int, ...] | None:
        """A dataspace's dimensions: () for a scalar, None for a null dataspace."""
        version, rank = c.u8(), c.u8()
        c.u8()  # flags: maximum dimensions (and a v1 permutation) follow, not needed
        if version == 1:
            c.need(5)
            kind = 1 if rank else 0
        elif version == 2:
            kind = c.u8()
        else:
            raise HDF5Error(f"dataspace message version {version}")
        if rank > MAX_RANK or kind > 2:
            raise HDF5Error(f"a dataspace of rank {rank} (type {kind})")
        if kind == 2:
            return None
        pos = c.need(rank * self.lengths)
        dims = struct.unpack_from(f"<{rank}{_CODES[self.lengths]}", c.data, pos)
        if any(d > 2**62 for d in dims):
            raise HDF5Error(f"a dataspace of dimensions {dims}")
        return dims


class _FractalHeap:
    """A fractal heap's header: where link and attribute messages live in dense storage."""

    def __init__(self, r: Reader, addr: int) -> None:
        r.step(HEAP_LOOKUP)
        c = r.block(addr, 22 + 12 * r.lengths + 3 * r.offsets, "a fractal heap header")
        r.signature(c, b"FRHP")
        if c.u8() != 0:
            raise HDF5Error("fractal heap version is not 0")
        self.id_len, self.filters, self.flags = c.u16(), c.u16(), c.u8()
        self.max_managed = c.u32()
        c.length()  # next huge object id
        self.huge_tree = c.address()
        c.length()  # free space in managed blocks
        c.address()  # free-space manager
        c.length(), c.length(), c.length()  # managed space, allocated, iterator offset
        c.length(), c.length(), c.length(), c.length(), c.length()  # object counts, sizes
        self.width, self.start_block = c.u16(), c.length()
        self.max_direct, self.max_heap_bits = c.length(), c.u16()
        c.u16()  # starting rows of the root indirect block
        self.root, self.root_rows = c.address(), c.u16()
        pow2 = lambda n: n > 0 and n & (n - 1) == 0  # noqa: E731
        if not (pow2(self.width) and pow2(self.start_block) and pow2(self.max_direct)
                and self.start_block <= self.max_direct <= MAX_BLOCK
                and 0 < self.max_heap_bits <= 64 and self.root_rows <= 64):
            raise HDF5Error("a fractal heap header has impossible sizes")
        self.offset_size = (self.max_heap_bits + 7) // 8
        self.length_size = min((_log2(self.max_direct) + 7) // 8, _enc_size(self.max_managed))
        self.first_row_bits = _log2(self.start_block) + _log2(self.width)
        self.direct_rows = _log2(self.max_direct) - _log2(self.start_block) + 2
        self.addr = addr
        self.indirect_seen: set[int] = set()

    def get(self, r: Reader, heap_id: bytes) -> bytes:
        """An object's bytes from its heap ID (the reader is passed in, not kept: no
        reference cycle keeps a file's caches alive after it is read)."""
        r.step(HEAP_LOOKUP)
        c = _Cursor(heap_id, "a fractal heap ID", r.offsets, r.lengths)
        first = c.u8()
        if first >> 6 != 0:
            raise HDF5Error("a fractal heap ID of an unknown version")
        kind = (first >> 4) & 3
        if kind == 0:
            if self.filters:
                raise Unsupported("a fractal heap with I/O filters")
            return self._managed(r, c.uint(self.offset_size), c.uint(self.length_size))
        if kind == 2:
            # tiny: the object is inside the ID; a long ID spends a second byte on its size
            short = self.id_len - 1 <= 17
            n = (first & 0x0F) + 1 if short else (((first & 0x0F) << 8) | c.u8()) + 1
            return c.take(n)
        if kind == 1:
            if self.filters:
                raise Unsupported("a fractal heap with I/O filters")
            if r.offsets + r.lengths <= self.id_len - 1:
                addr, size = c.address(), c.length()
            else:
                wanted = c.uint(min(self.id_len - 1, 8))
                for record in r.btree2(self.huge_tree, 1, r.offsets + 2 * r.lengths):
                    rc = _Cursor(record, "a huge object record", r.offsets, r.lengths)
                    addr, size, ident = rc.address(), rc.length(), rc.length()
                    if ident == wanted:
                        break
                else:
                    raise HDF5Error("a fractal heap ID names a huge object that is not there")
            if size > r.max_string:
                raise HDF5Error(f"a heap object of {size:,} bytes is larger than the limit")
            return r.read(addr, size, "a huge heap object")
        raise HDF5Error("a fractal heap ID of an unknown type")

    def _managed(self, r: Reader, offset: int, length: int) -> bytes:
        if length == 0 or length > self.max_managed:
            raise HDF5Error("a fractal heap ID gives an impossible object length")
        block, rows = self.root, self.root_rows
        if rows == 0:  # the root is one direct block
            return self._direct(r, block, 0, self.start_block, offset, length)
        base = 0
        for _ in range(MAX_DEPTH):
            r.step()
            if offset < self.start_block * self.width:
                row, col = 0, offset // self.start_block
            else:
                row = _log2(offset) - self.first_row_bits + 1
                col = (offset - self._row_offset(row)) // self._row_size(row)
            if row >= rows:
                raise HDF5Error("a fractal heap object lies beyond its indirect block")
            direct = min(rows, self.direct_rows)
            entry = 4 + 1 + r.offsets + self.offset_size
            if row < self.direct_rows:
                entry += (row * self.width + col) * r.offsets
            else:
                entry += direct * self.width * r.offsets + (
                    (row - direct) * self.width + col) * r.offsets
            if block not in self.indirect_seen:  # its signature checked once
                r.signature(r.block(block, 4, "a fractal heap indirect block"), b"FHIB")
                self.indirect_seen.add(block)
            child = r.cursor(block + entry, r.offsets, "a fractal heap indirect block").address()
            if child == UNDEFINED:
                raise HDF5Error("a fractal heap object lies in a block that was never written")
            start = self._row_offset(row) + col * self._row_size(row)
            if row < self.direct_rows:
                return self._direct(r, child, base + start, self._row_size(row),
                                    offset - start, length)
            rows = _log2(self._row_size(row)) - self.first_row_bits + 1
            block, offset, base = child, offset - start, base + start
        raise HDF5Error("a fractal heap is nested too deeply")

    def _row_size(self, row: int) -> int:
        return self.start_block if row == 0 else self.start_block << (row - 1)

    def _row_offset(self, row: int) -> int:
        return 0 if row == 0 else (self.start_block * self.width) << (row - 1)

    def _direct(self, r: Reader, addr: int, block_offset: int, size: int, offset: int,
                length: int) -> bytes:
        head = 4 + 1 + r.offsets + self.offset_size + (4 if self.flags & 2 else 0)
        c = r.block(addr, head, "a fractal heap direct block")
        r.signature(c, b"FHDB")
        if c.u8() != 0:
            raise HDF5Error("fractal heap direct block version is not 0")
        c.address()  # the heap header
        if c.uint(self.offset_size) != block_offset:
            raise HDF5Error("a fractal heap direct block is not where its heap says")
        if offset < head or offset + length > size:
            raise HDF5Error("a fractal heap object runs outside its direct block")
        return r.read(addr + offset, length, "a fractal heap object")


# -- an h5py-like view: enough for keras_file._stored_from_h5 --------------------------------
class Attributes:
    """An object's attributes: `get(name, default)` and `in`, as h5py's AttributeManager."""

    def __init__(self, reader: Reader, addr: int) -> None:
        self._reader = reader
        self._addr = addr
        self._all: dict[bytes, _RawAttribute] | None = None

    def _items(self) -> dict[bytes, _RawAttribute]:
        if self._all is None:
            self._all = self._reader.attributes(self._addr)
        return self._all

    def __contains__(self, name: str) -> bool:
        return name.encode() in self._items()

    def get(self, name: str, default: Any = None) -> Any:
        raw = self._items().get(name.encode())
        return default if raw is None else self._reader.attribute_value(raw, name)


class Node:
    """An object in the file, found by its path."""

    def __init__(self, reader: Reader, addr: int, name: str) -> None:
        self._reader = reader
        self._addr = addr
        self.name = name

    @property
    def attrs(self) -> Attributes:
        return Attributes(self._reader, self._addr)


class Dataset(Node):
    """A dataset: its shape from the dataspace message; its data is never read."""

    @property
    def shape(self) -> tuple[int, ...] | None:
        for msg in self._reader.messages(self._addr):
            if msg[0] == DATASPACE:
                return self._reader.dataspace(self._reader.body(msg, "dataspace"))
        raise HDF5Error(f"dataset {self.name!r} has no dataspace")


class Group(Node):
    """A group: `get`, `in`, `[]` and `values()` by path, as h5py's Group."""

    def _resolve(self, path: str) -> Node | None:
        key = (self._addr, path)
        if key in self._reader.resolved:
            found = self._reader.resolved[key]
            return None if found is None else _node(self._reader, *found)
        node = self._walk(path)
        self._reader.resolved[key] = None if node is None else (node._addr, node.name)
        return node

    def _walk(self, path: str) -> Node | None:
        parts = [p for p in path.split("/") if p and p != "."]
        if len(parts) > MAX_PATH:
            raise HDF5Error(f"a path of {len(parts)} parts")
        node: Node = self
        for part in parts:
            if not isinstance(node, Group):
                return None
            link = self._reader.links(node._addr).get(part.encode())
            if link is None or link[0] == "external":
                return None  # never followed: a model file names no other file to read
            if link[0] != "hard":
                raise Unsupported(f"a {link[0]} link ({part!r})")
            node = _node(self._reader, link[1], f"{node.name.rstrip('/')}/{part}")
        return node

    def get(self, path: str, default: Any = None) -> Any:
        node = self._resolve(path)
        return default if node is None else node

    def __contains__(self, path: str) -> bool:
        return self._resolve(path) is not None

    def __getitem__(self, path: str) -> Node:
        node = self._resolve(path)
        if node is None:
            raise KeyError(path)
        return node

    def values(self) -> list[Node]:
        out = []
        for name, link in self._reader.links(self._addr).items():
            if link[0] == "external":
                continue  # never followed
            if link[0] != "hard":
                raise Unsupported(f"a {link[0]} link")
            text = name.decode("utf-8", errors="replace")
            out.append(_node(self._reader, link[1], f"{self.name.rstrip('/')}/{text}"))
        return out


def datasets(group: Group) -> list[Dataset]:
    """Every dataset under `group`, each once (hard links may form cycles)."""
    found: list[Dataset] = []
    seen = {group._addr}
    stack = [group]
    while stack:
        for node in stack.pop().values():
            if node._addr in seen:
                continue
            seen.add(node._addr)
            if isinstance(node, Dataset):
                found.append(node)
            elif isinstance(node, Group):
                stack.append(node)
    return found


def _node(reader: Reader, addr: int, name: str) -> Node:
    kinds = reader.kinds.get(addr)
    if kinds is None:
        kinds = reader.kinds[addr] = {msg[0] for msg in reader.messages(addr)}
    if kinds & {SYMBOL_TABLE, LINK, LINK_INFO}:
        return Group(reader, addr, name)
    if DATASPACE in kinds and (DATA_LAYOUT in kinds or DATATYPE in kinds):
        return Dataset(reader, addr, name)
    # an empty new-style group has only a link info message... or no messages we keep:
    # call anything else a group with no members, as h5py would show it
    return Group(reader, addr, name)


def open_root(data: Any, start: int = 0, size: int | None = None,
              max_string: int = 64 * 2**20) -> Group:
    """The root group of the HDF5 file in `data` (bytes or an mmap of the file; or the
    window [start, start + size) of it, as a member stored in a zip)."""
    reader = Reader(data, start, size, max_string)
    return Group(reader, reader.open(), "/")
