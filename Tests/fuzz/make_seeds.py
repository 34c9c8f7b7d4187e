#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz harnesses, Tests/fuzz/corpus/<harness>/ (numpy only; no
torch, no imaging package). Deterministic: running it again rewrites the same files.

checkpoint/  tiny but complete pose-HRNet checkpoints (one or two channels per branch, one
             joint, so a few KB each) in every layout the loader reads: the zip format of
             torch >= 1.6 (pickle protocols 2 and 4, 64-byte aligned entries as torch writes them,
             zip64 records), the legacy torch.save format (with a storage view), OpenMMLab keys
             ('backbone.', 'keypoint_head.', {'state_dict', 'meta'}), 'module.' prefixes and
             {'model'} wrappers; float32, float16, bfloat16 and float64 storages, tensors sharing
             a storage at offsets, non-contiguous strides, num_batches_tracked, _metadata.
image/       small PNGs (8/16-bit RGB, RGBA, gray 1/2/4/8/16-bit, gray+alpha, palette with tRNS,
             Adam7 interlaced) and JPEGs (baseline gray and colour from python/tests/jpegenc.py;
             progressive, 4:2:0/4:2:2, CMYK/YCCK, restart markers, arithmetic coding from libjpeg
             itself, through a small C program compiled here with cc -ljpeg).
json/        detections and ground-truth files: a slice of examples/samples, and edge cases.
pipeline/    inputs of the decode/NMS harness (its byte layout: Tests/fuzz/harnesses/pipeline).

It also writes hand-made hostile inputs (hostile_*: deep nesting, expansion, cycles, wrapping
offsets, zero strides, huge headers, thousands of JPEG scans) to Tests/fuzz/regressions/<harness>/,
which run.sh replays first; inputs the fuzzer finds are added there by hand and left alone here.

With `--check`, every checkpoint is loaded with the current loader (libhrnet through ctypes:
build with `swift build -c release` first, or point HRNET_LIBRARY at a libhrnet.so)."""

import argparse
import io
import json
import pathlib
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import types
import zlib
from collections import OrderedDict

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
CORPUS = HERE / "corpus"
REGRESSIONS = HERE / "regressions"

# ------------------------------------------------------------------------------------------------
# Pose-HRNet state dicts (the structure GraphBuilder.swift reads: stem, layer1, stages, head).


class Net:
    """Builds a state dict in the published key layout, `rng`-filled, BatchNorm after each conv."""

    def __init__(self, rng, nbt=False):
        self.rng = rng
        self.nbt = nbt
        self.sd = OrderedDict()

    def conv(self, name, cout, cin, k, bn=None, bias=False):
        self.sd[name + ".weight"] = (self.rng.standard_normal((cout, cin, k, k)) * 0.3).astype(np.float32)
        if bias:
            self.sd[name + ".bias"] = (self.rng.standard_normal(cout) * 0.1).astype(np.float32)
        if bn:
            self.sd[bn + ".weight"] = (1 + 0.1 * self.rng.standard_normal(cout)).astype(np.float32)
            self.sd[bn + ".bias"] = (0.1 * self.rng.standard_normal(cout)).astype(np.float32)
            self.sd[bn + ".running_mean"] = (0.1 * self.rng.standard_normal(cout)).astype(np.float32)
            self.sd[bn + ".running_var"] = (0.5 + self.rng.random(cout)).astype(np.float32)
            if self.nbt:
                self.sd[bn + ".num_batches_tracked"] = np.array(7, dtype=np.int64)

    def basic(self, p, cin, c):
        self.conv(p + ".conv1", c, cin, 3, p + ".bn1")
        self.conv(p + ".conv2", c, c, 3, p + ".bn2")
        if cin != c:
            self.conv(p + ".downsample.0", c, cin, 1, p + ".downsample.1")
        return c

    def bottleneck(self, p, cin, planes):
        self.conv(p + ".conv1", planes, cin, 1, p + ".bn1")
        self.conv(p + ".conv2", planes, planes, 3, p + ".bn2")
        self.conv(p + ".conv3", planes * 4, planes, 1, p + ".bn3")
        if cin != planes * 4:
            self.conv(p + ".downsample.0", planes * 4, cin, 1, p + ".downsample.1")
        return planes * 4


def hrnet(rng, stem=2, layer1=("basic", 1, 2), stages=(), joints=1, final_k=1, nbt=False, last_single=True):
    """stages: [(channels per branch, modules, blocks per branch)] for stage2, stage3, ...
    last_single: the last stage fuses into branch 0 only (the published multi_scale_output=False)."""
    n = Net(rng, nbt)
    n.conv("conv1", stem, 3, 3, "bn1")
    n.conv("conv2", stem, stem, 3, "bn2")
    kind, blocks, width = layer1
    c = stem
    for u in range(blocks):
        c = n.basic("layer1.%d" % u, c, width) if kind == "basic" else n.bottleneck("layer1.%d" % u, c, width)
    prev = [c]
    for si, (cs, modules, nblocks) in enumerate(stages):
        s = si + 2
        t = "transition%d" % (s - 1)
        for br, cb in enumerate(cs):
            if br < len(prev):
                if prev[br] != cb:
                    n.conv("%s.%d.0" % (t, br), cb, prev[br], 3, "%s.%d.1" % (t, br))
            else:
                n.conv("%s.%d.0.0" % (t, br), cb, prev[-1], 3, "%s.%d.0.1" % (t, br))
        for m in range(modules):
            p = "stage%d.%d" % (s, m)
            for br, cb in enumerate(cs):
                for k in range(nblocks):
                    n.basic("%s.branches.%d.%d" % (p, br, k), cb, cb)
            if len(cs) > 1:
                last = si == len(stages) - 1 and m == modules - 1
                outs = 1 if (last and last_single) else len(cs)
                for i in range(outs):
                    for j in range(len(cs)):
                        if j > i:
                            n.conv("%s.fuse_layers.%d.%d.0" % (p, i, j), cs[i], cs[j], 1, "%s.fuse_layers.%d.%d.1" % (p, i, j))
                        elif j < i:
                            for step in range(i - j):
                                q = "%s.fuse_layers.%d.%d.%d" % (p, i, j, step)
                                cout = cs[i] if step == i - j - 1 else cs[j]
                                n.conv(q + ".0", cout, cs[j], 3, q + ".1")
        prev = list(cs)
    n.conv("final_layer", joints, prev[0], final_k, bias=True)
    return n.sd


# ------------------------------------------------------------------------------------------------
# Pickling like torch.save, with stand-ins for torch's globals (pickle writes them by name only).


def _fake_torch():
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called")
    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    for kind in ("FloatStorage", "LongStorage", "HalfStorage", "DoubleStorage", "BFloat16Storage"):
        cls = type(kind, (), {})
        cls.__module__ = "torch"
        cls.__qualname__ = kind
        setattr(torch, kind, cls)
    torch._utils = utils
    return {"torch": torch, "torch._utils": utils}


FAKE = _fake_torch()
STORAGE = {"float32": "FloatStorage", "int64": "LongStorage", "float16": "HalfStorage",
           "float64": "DoubleStorage", "bfloat16": "BFloat16Storage"}


class Storage:
    """A flat storage: `data` holds its raw little-endian bytes, `kind` its torch storage class."""

    def __init__(self, data, kind, numel):
        self.data, self.kind, self.numel = data, kind, numel
        self.key = None
        self.view_of = None  # legacy only: (root Storage, element offset)


def as_storage(arr, dtype):
    arr = np.ascontiguousarray(arr)
    if dtype == "bfloat16":
        raw = (arr.astype(np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
    elif dtype == "int64":
        raw = arr.astype("<i8").tobytes()
    else:
        raw = arr.astype({"float32": "<f4", "float16": "<f2", "float64": "<f8"}[dtype]).tobytes()
    return Storage(raw, STORAGE[dtype], arr.size)


class Tensor:
    def __init__(self, storage, offset, shape, stride):
        self.storage, self.offset, self.shape, self.stride = storage, offset, tuple(shape), tuple(stride)

    def __reduce__(self):
        return (FAKE["torch._utils"]._rebuild_tensor_v2,
                (self.storage, self.offset, self.shape, self.stride, False, OrderedDict()))


def contiguous_stride(shape):
    stride, acc = [], 1
    for n in reversed(shape):
        stride.insert(0, acc)
        acc *= n
    return tuple(stride)


def tensors(sd, dtype="float32", share=False, transpose=False):
    """State dict of numpy arrays -> Tensor objects. share: the BatchNorm parameters of each layer
    live in one storage at offsets (as tensors sliced from a flat buffer). transpose: 4-d weights
    are stored as the transpose of their storage (non-contiguous strides)."""
    out = OrderedDict()
    groups = OrderedDict()
    for k, v in sd.items():
        dt = "int64" if v.dtype == np.int64 else dtype
        if share and dt != "int64" and v.ndim == 1 and k.rsplit(".", 1)[1] in ("weight", "bias", "running_mean", "running_var"):
            groups.setdefault(k.rsplit(".", 1)[0], []).append(k)
            continue
        if transpose and v.ndim == 4 and v.shape[0] > 1 and v.shape[1] > 1:
            st = as_storage(np.ascontiguousarray(v.transpose(1, 0, 2, 3)), dt)
            s = contiguous_stride(v.transpose(1, 0, 2, 3).shape)
            out[k] = Tensor(st, 0, v.shape, (s[1], s[0], s[2], s[3]))
            continue
        out[k] = Tensor(as_storage(v, dt), 0, v.shape, contiguous_stride(v.shape))
    for prefix, keys in groups.items():
        flat = np.concatenate([sd[k] for k in keys])
        st = as_storage(flat, dtype)
        off = 0
        for k in keys:
            out[k] = Tensor(st, off, sd[k].shape, (1,))
            off += sd[k].size
    # Keep the published key order.
    return OrderedDict((k, out[k]) for k in sd)


def dump(obj, protocol, persistent_id):
    class P(pickle.Pickler):
        def persistent_id(self, o):
            return persistent_id(o)
    buf = io.BytesIO()
    saved = {m: sys.modules.get(m) for m in FAKE}
    sys.modules.update(FAKE)
    try:
        P(buf, protocol=protocol).dump(obj)
    finally:
        for m, old in saved.items():
            if old is None:
                sys.modules.pop(m, None)
            else:
                sys.modules[m] = old
    return buf.getvalue()


def zip_bytes(entries, align=64, zip64=False, comment=b""):
    """A zip of stored entries, written by hand: torch's 64-byte data alignment (an 'FB' extra
    field of padding), and optionally zip64 central records and end-of-directory records."""
    out = bytearray()
    central = []
    for name, data in entries:
        nb = name.encode()
        off = len(out)
        extra = b""
        if align:
            pad = (-(off + 30 + len(nb) + 4)) % align
            extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad
        crc = zlib.crc32(data) & 0xFFFFFFFF
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45 if zip64 else 20, 0, 0, 0, 0, crc, len(data), len(data),
                           len(nb), len(extra)) + nb + extra + data
        central.append((nb, crc, len(data), off))
    cd = len(out)
    for nb, crc, size, off in central:
        if zip64:
            extra, s32, o32 = struct.pack("<HHQQQ", 1, 24, size, size, off), 0xFFFFFFFF, 0xFFFFFFFF
        else:
            extra, s32, o32 = b"", size, off
        out += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, crc, s32, s32,
                           len(nb), len(extra), 0, 0, 0, 0, o32) + nb + extra
    size = len(out) - cd
    n = len(central)
    if zip64:
        rec = len(out)
        out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, size, cd)
        out += struct.pack("<IIQI", 0x07064B50, 0, rec, 1)
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, len(comment)) + comment
    else:
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, size, cd, len(comment)) + comment
    return bytes(out)


def save_zip(obj, protocol=2, archive="archive", **zipopts):
    storages = []

    def pid(o):
        if isinstance(o, Storage):
            if o.key is None:
                o.key = str(len(storages))
                storages.append(o)
            return ("storage", getattr(FAKE["torch"], o.kind), o.key, "cpu", o.numel)
        return None
    pkl = dump(obj, protocol, pid)
    entries = [(archive + "/data.pkl", pkl), (archive + "/byteorder", b"little")]
    entries += [("%s/data/%s" % (archive, s.key), s.data) for s in storages]
    entries += [(archive + "/version", b"3\n"), (archive + "/.data/serialization_id", b"0123456789")]
    return zip_bytes(entries, **zipopts)


MAGIC = 0x1950A86A20F9469CFC6C


def save_legacy(obj, protocol=2, view=False):
    """Legacy torch.save: magic, protocol version, system info, the object, the storage keys,
    then each storage as an 8-byte element count and its bytes. view: the first storage is
    written as a view (offset 1) of a one-element-longer root storage, as torch < 0.4 did."""
    storages = OrderedDict()
    elem = {"FloatStorage": 4, "LongStorage": 8, "HalfStorage": 2, "DoubleStorage": 8, "BFloat16Storage": 2}

    def pid(o):
        if isinstance(o, Storage):
            if o.key is None:
                o.key = "s%d" % len(storages)
                if view and not storages and o.kind != "LongStorage":
                    root = Storage(b"\x00" * elem[o.kind] + o.data, o.kind, o.numel + 1)
                    root.key = "root"
                    storages[root.key] = root
                    o.view_of = root
                else:
                    storages[o.key] = o
            cls = getattr(FAKE["torch"], o.kind)
            if o.view_of is not None:
                return ("storage", cls, o.view_of.key, "cuda:0", o.view_of.numel, (o.key, 1, o.numel))
            return ("storage", cls, o.key, "cpu", o.numel, None)
        return None
    out = pickle.dumps(MAGIC, protocol=2)
    out += pickle.dumps(1001, protocol=2)
    out += pickle.dumps({"protocol_version": 1001, "little_endian": True,
                         "type_sizes": {"short": 2, "int": 4, "long": 4}}, protocol=2)
    out += dump(obj, protocol, pid)
    keys = sorted(storages)
    out += pickle.dumps(keys, protocol=2)
    for k in keys:
        s = storages[k]
        out += struct.pack("<q", s.numel) + s.data
    return out


def deep_transition(sd, steps):
    """Makes stage 2's new branch by `steps` stride-2 convolutions instead of one (the graph
    builder reads any number; deepest stride 4 x 2^steps)."""
    out = OrderedDict()
    for k, v in sd.items():
        if not k.startswith("transition1.1.0."):
            out[k] = v
    for step in range(steps):
        for k, v in sd.items():
            if k.startswith("transition1.1.0."):
                out[k.replace("transition1.1.0.", "transition1.1.%d." % step)] = v
    return out


def with_metadata(sd):
    """An OrderedDict carrying `_metadata`, as nn.Module.state_dict() returns (pickled via BUILD)."""
    d = OrderedDict(sd)
    d._metadata = OrderedDict([("", {"version": 1}), ("conv1", {"version": 1})])
    return d


def checkpoints():
    rng = np.random.default_rng(20240611)
    tiny = hrnet(rng)                                                     # stem + layer1 + head
    two = hrnet(rng, stages=[((2, 1), 1, 1)], nbt=True)                   # 2 branches, fused to 1
    three = hrnet(rng, stem=2, layer1=("bottleneck", 1, 1), stages=[((1, 2), 1, 1), ((1, 2, 1), 2, 1)],
                  final_k=3, last_single=False)                           # 3 branches, all outputs
    four = hrnet(rng, stem=1, layer1=("basic", 2, 1), stages=[((1, 1), 1, 1), ((1, 1, 1), 1, 1), ((1, 1, 1, 1), 1, 1)],
                 joints=2)                                                # the published depth
    five = hrnet(rng, stem=1, layer1=("basic", 1, 1), stages=[((1,) * b, 1, 1) for b in range(2, 6)])  # the most branches
    deep = deep_transition(hrnet(rng, stem=1, layer1=("basic", 1, 1), stages=[((1, 1), 1, 1)]), steps=6)
    wide = hrnet(rng, joints=40, final_k=3)
    mm = OrderedDict(("keypoint_head." + k if k.startswith("final_layer") else "backbone." + k, v) for k, v in two.items())
    seeds = {
        "zip_tiny.pth": save_zip(tensors(tiny)),
        "zip_two_branches_p4.pth": save_zip(with_metadata(tensors(two)), protocol=4),
        "zip_three_stages_f16.pth": save_zip({"state_dict": tensors(three, "float16")}, protocol=2),
        "zip_four_stages_shared.pth": save_zip(tensors(four, share=True), protocol=2, archive="coco_w1"),
        "zip_bf16_transposed.pth": save_zip(tensors(two, "bfloat16", transpose=True), protocol=4, align=0),
        "zip64_f64.pth": save_zip({"model": tensors(tiny, "float64")}, protocol=2, zip64=True, comment=b"zip64 seed"),
        "zip_mmpose.pth": save_zip({"meta": {"epoch": 210, "mmpose_version": "0.x", "CLASSES": None},
                                    "state_dict": tensors(mm)}, protocol=2),
        "zip_module_prefix.pth": save_zip(OrderedDict(("module." + k, v) for k, v in tensors(tiny).items()), protocol=2),
        "zip_five_branches_shared.pth": save_zip(tensors(five, share=True), protocol=4, align=0),
        "zip_deep_transition.pth": save_zip(tensors(deep, share=True), protocol=4, align=0),
        "zip_wide_head.pth": save_zip(tensors(wide), protocol=2),
        "legacy_tiny.pth": save_legacy(tensors(tiny)),
        "legacy_two_branches_view.pth": save_legacy(with_metadata(tensors(two)), view=True),
        "legacy_three_stages_f16_shared.pth": save_legacy({"state_dict": tensors(three, "float16", share=True)}),
        "legacy_mmpose_p4.pth": save_legacy({"state_dict": tensors(mm), "meta": {"epoch": 1}}, protocol=4),
    }
    # Not loadable, but the shapes of the loader's refusals: a truncated file, a missing key.
    truncated = seeds["zip_tiny.pth"]
    bad = OrderedDict(tiny)
    del bad["layer1.0.bn2.running_var"]
    seeds["bad_zip_truncated.pth"] = truncated[: len(truncated) * 2 // 3]
    seeds["bad_legacy_truncated.pth"] = seeds["legacy_tiny.pth"][:-40]
    seeds["bad_missing_key.pth"] = save_zip(tensors(bad))
    return seeds


# ------------------------------------------------------------------------------------------------
# Images.

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(ctype, body):
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body) & 0xFFFFFFFF)


def _pack_rows(img, bits):
    """H x W x C samples -> packed scanlines (no filter byte)."""
    h, w, c = img.shape
    if bits == 16:
        return [img[y].astype(">u2").tobytes() for y in range(h)]
    if bits == 8:
        return [img[y].astype(np.uint8).tobytes() for y in range(h)]
    assert c == 1
    rows = []
    per = 8 // bits
    for y in range(h):
        row = bytearray((w + per - 1) // per)
        for x in range(w):
            row[x // per] |= (int(img[y, x, 0]) & ((1 << bits) - 1)) << (8 - bits * (x % per + 1))
        rows.append(bytes(row))
    return rows


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png_bytes(img, bits=8, color=None, palette=None, trns=None, interlace=False, filters=(0, 1, 2, 3, 4)):
    img = np.asarray(img)
    if img.ndim == 2:
        img = img[:, :, None]
    h, w, c = img.shape
    if color is None:
        color = 3 if palette is not None else {1: 0, 2: 4, 3: 2, 4: 6}[c]
    bpp = max(1, c * bits // 8)

    def filtered(rows):
        out = b""
        prev = bytes(len(rows[0])) if rows else b""
        for i, row in enumerate(rows):
            ft = filters[i % len(filters)]
            r = np.frombuffer(row, np.uint8).astype(int)
            p = np.frombuffer(prev, np.uint8).astype(int)
            a = np.concatenate([np.zeros(bpp, int), r[:-bpp]]) if len(r) > bpp else np.zeros(len(r), int)
            if ft == 0:
                f = r
            elif ft == 1:
                f = r - a
            elif ft == 2:
                f = r - p
            elif ft == 3:
                f = r - (a + p) // 2
            else:
                cc = np.concatenate([np.zeros(bpp, int), p[:-bpp]]) if len(p) > bpp else np.zeros(len(p), int)
                pa, pb, pc = np.abs(p - cc), np.abs(a - cc), np.abs(a + p - 2 * cc)
                pred = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, p, cc))
                f = r - pred
            out += bytes([ft]) + (f % 256).astype(np.uint8).tobytes()
            prev = row
        return out

    if interlace:
        raw = b""
        for x0, y0, dx, dy in ADAM7:
            sub = img[y0::dy, x0::dx]
            if sub.size:
                raw += filtered(_pack_rows(sub, bits))
    else:
        raw = filtered(_pack_rows(img, bits))
    out = PNG_SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bits, color, 0, 0, 1 if interlace else 0))
    out += _chunk(b"gAMA", struct.pack(">I", 45455)) + _chunk(b"tEXt", b"Comment\x00fuzz seed")
    if palette is not None:
        out += _chunk(b"PLTE", np.asarray(palette, np.uint8).tobytes())
    if trns is not None:
        out += _chunk(b"tRNS", trns)
    comp = zlib.compress(raw, 9)
    half = len(comp) // 2
    out += _chunk(b"IDAT", comp[:half]) + _chunk(b"IDAT", comp[half:]) + _chunk(b"IEND", b"")
    return out


def images(tmp):
    rng = np.random.default_rng(7)
    h, w = 12, 16
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([xx * 16, yy * 20, (xx + yy) * 9], -1).astype(np.uint8)
    rgb16 = rgb.astype(np.uint16) * 257
    gray = (xx * 15).astype(np.uint8)
    pal = rng.integers(0, 256, (16, 3), dtype=np.uint8)
    seeds = {
        "rgb8.png": png_bytes(rgb),
        "rgba8.png": png_bytes(np.dstack([rgb, gray])),
        "rgb16.png": png_bytes(rgb16, bits=16),
        "rgba16_interlaced.png": png_bytes(np.dstack([rgb16, rgb16[..., :1]]), bits=16, interlace=True),
        "gray1.png": png_bytes(gray >> 7, bits=1),
        "gray2_interlaced.png": png_bytes(gray >> 6, bits=2, interlace=True),
        "gray4.png": png_bytes(gray >> 4, bits=4),
        "gray8_trns.png": png_bytes(gray, trns=struct.pack(">H", 30)),
        "gray16.png": png_bytes(gray.astype(np.uint16) * 257, bits=16),
        "graya8.png": png_bytes(np.dstack([gray, 255 - gray])),
        "palette4_trns.png": png_bytes((xx % 16).astype(np.uint8), bits=4, palette=pal, trns=bytes(range(0, 160, 20))),
        "palette8_interlaced.png": png_bytes((xx % 16).astype(np.uint8), palette=pal, interlace=True),
        "one_pixel.png": png_bytes(rgb[:1, :1]),
    }
    sys.path.insert(0, str(REPO / "python" / "tests"))
    from jpegenc import write_jpeg
    for name, img in (("baseline_rgb.jpg", rgb), ("baseline_gray.jpg", gray), ("odd_size.jpg", rgb[:5, :11])):
        p = tmp / name
        write_jpeg(p, img, q=4)
        seeds[name] = p.read_bytes()
    seeds.update(libjpeg_seeds(tmp, rgb))
    return seeds


# JPEG variants jpegenc.py does not write, made with libjpeg(-turbo) itself through a small C
# program compiled here (cc and libjpeg-dev, which the build needs anyway).
JPEG_HELPER = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
int main(int argc, char **argv) {
    int w = atoi(argv[1]), h = atoi(argv[2]);
    const char *mode = argv[3];
    unsigned char *rgb = malloc((size_t)w * h * 3);
    if (fread(rgb, 1, (size_t)w * h * 3, stdin) != (size_t)w * h * 3) return 1;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, stdout);
    int cmyk = strstr(mode, "cmyk") != NULL, gray = strstr(mode, "gray") != NULL;
    c.image_width = w;
    c.image_height = h;
    c.input_components = cmyk ? 4 : 3;
    c.in_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 80, TRUE);
    if (gray) jpeg_set_colorspace(&c, JCS_GRAYSCALE);
    if (cmyk && strstr(mode, "ycck")) jpeg_set_colorspace(&c, JCS_YCCK);
    if (strstr(mode, "444")) for (int i = 0; i < c.num_components; i++) c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
    if (strstr(mode, "422")) c.comp_info[0].v_samp_factor = 1;
    if (strstr(mode, "progressive")) jpeg_simple_progression(&c);
    if (strstr(mode, "restart")) c.restart_interval = 1;
    if (strstr(mode, "arith")) c.arith_code = TRUE;
    if (strstr(mode, "optimize")) c.optimize_coding = TRUE;
    jpeg_start_compress(&c, TRUE);
    if (strstr(mode, "adobe") == NULL && cmyk) { /* libjpeg writes the Adobe marker for CMYK/YCCK itself */ }
    unsigned char *row = malloc((size_t)w * 4);
    while (c.next_scanline < c.image_height) {
        const unsigned char *src = rgb + (size_t)c.next_scanline * w * 3;
        if (cmyk) for (int x = 0; x < w; x++) { for (int k = 0; k < 3; k++) row[4 * x + k] = 255 - src[3 * x + k]; row[4 * x + 3] = 200; }
        else memcpy(row, src, (size_t)w * 3);
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return 0;
}
"""


def libjpeg_seeds(tmp, rgb, modes=("progressive", "subsampled_420", "subsampled_422_restart", "cmyk_444", "ycck_cmyk",
                                     "gray_progressive", "arith", "progressive_arith", "optimize_444")):
    cc = shutil.which("cc") or shutil.which("clang")
    if not cc:
        print("note: no C compiler: the libjpeg-made JPEG seeds are kept as they are")
        return {}
    src, exe = tmp / "jpeg_helper.c", tmp / "jpeg_helper"
    if not exe.exists():
        src.write_text(JPEG_HELPER)
        subprocess.run([cc, "-O1", "-o", str(exe), str(src), "-ljpeg"], check=True)
    h, w = rgb.shape[:2]
    out = {}
    for mode in modes:
        r = subprocess.run([str(exe), str(w), str(h), mode], input=rgb.astype(np.uint8).tobytes(),
                           capture_output=True, check=True)
        out["libjpeg_%s.jpg" % mode] = r.stdout
    return out


# ------------------------------------------------------------------------------------------------
# JSON inputs.


def json_seeds():
    dets = json.loads((REPO / "examples" / "samples" / "dets.json").read_text())
    gt = json.loads((REPO / "examples" / "samples" / "gt.json").read_text())
    gt_small = {"images": gt["images"][:4], "annotations": gt.get("annotations", [])[:1],
                "categories": gt.get("categories", [])}
    s = {
        "dets_samples.json": json.dumps(dets[:12]),
        "gt_samples.json": json.dumps(gt_small),
        "dets_edge.json": json.dumps([
            {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 20]},                      # no score
            {"image_id": 1, "category_id": 2, "bbox": [1, 2, 3]},                           # other class: not checked
            {"image_id": -5, "category_id": 1, "bbox": [-10, -10, 5, 5], "score": 0},        # outside the image
            {"image_id": 2, "category_id": 1, "bbox": [1e308, 0, 1e308, 1], "score": 1e-300},
            {"image_id": 2, "category_id": 1, "bbox": [5, 5, 0, -1], "score": 0.5},          # no area
            {"image_id": 9223372036854775807, "category_id": 1, "bbox": [1.5, 2.5, 3.5, 4.5], "score": 0.25, "extra": [1, {"a": None}]},
        ]),
        "dets_bad_bbox.json": '[{"image_id": 3, "category_id": 1, "bbox": [1, 2, 3], "score": 0.9}]',
        "dets_type_mismatch.json": '[{"image_id": "3", "category_id": 1, "bbox": [1, 2, 3, 4]}]',
        "dets_null.json": '[{"image_id": 3, "category_id": null, "bbox": [1, 2, 3, 4]}]',
        "dets_not_list.json": '{"image_id": 3}',
        "dets_empty.json": "[]",
        "dets_unicode.json": '[{"image_id": 1, "category_id": 1, "bbox": [1E2, 2e-1, 3.0, 4], "score": 1, "\\u00e9\\ud83d\\ude00": "\\n"}]',
        "gt_names.json": json.dumps({"images": [{"id": 42, "file_name": "a/b/000042.png"},
                                                {"id": 7, "file_name": ""},
                                                {"id": 8, "file_name": "dir/"},
                                                {"id": 9, "file_name": "x.y.z.jpg"},
                                                {"id": 10, "file_name": "٣.png"}]}),
        "gt_missing_key.json": '{"images": [{"id": 1}]}',
        "not_json.json": "[{,]",
    }
    return {k: v.encode() for k, v in s.items()}


# ------------------------------------------------------------------------------------------------
# Inputs of the decode/NMS harness (see its Input struct: mode byte first, then fields).


def pipeline_seeds():
    def peak(h, w, cy, cx, scale):
        # Heatmap values as the harness reads them: a byte t < 240 is (t - 120) / 16.
        y, x = np.mgrid[0:h, 0:w]
        v = np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / 4.0) * scale
        return bytes(np.clip(np.round(v * 16 + 120), 0, 239).astype(np.uint8).ravel())

    s = {}
    # decode: mode 0, n-1, joints-1, hh-1, hw-1, method+1, input mode, boxes?, [boxes], heatmaps...
    s["decode_standard.bin"] = bytes([0, 0, 1, 7, 5, 1, 0, 0]) + peak(8, 6, 3, 2, 5) + peak(8, 6, 5, 4, 3)
    s["decode_dark_boxes.bin"] = bytes([1, 1, 0, 11, 11, 2, 1, 1]) + bytes([130, 140, 200, 220, 136] * 2) + peak(12, 12, 6, 5, 6)
    s["decode_input_size.bin"] = bytes([2, 0, 2, 5, 5, 1, 2, 10, 12, 0]) + peak(6, 6, 1, 4, 2) * 3 + bytes([3])
    s["decode_nonfinite.bin"] = bytes([0, 0, 0, 3, 3, 1, 0, 0]) + bytes([120] * 5) + b"\xf0" + struct.pack("<f", float("nan")) + bytes([121] * 10)
    # decode, huge sizes: mode 3, n (8 bytes) and its shift, joints/hh/hw (4 bytes + shift each), ...
    s["decode_huge.bin"] = bytes([3]) + struct.pack("<Q", (1 << 62) + 5) + bytes([0]) + struct.pack("<i", 17) + bytes([0]) \
        + struct.pack("<i", 64) + bytes([0]) + struct.pack("<i", 48) + bytes([0, 0, 0, 0, 10, 1, 1, 0])
    s["decode_huge_small.bin"] = bytes([3]) + struct.pack("<Q", 2) + bytes([0]) + struct.pack("<i", 2) + bytes([0]) \
        + struct.pack("<i", 3) + bytes([0]) + struct.pack("<i", 4) + bytes([0, 1]) + struct.pack("<i", 12) + bytes([1]) \
        + struct.pack("<i", 16) + bytes([0, 64, 1, 1, 1])
    # nms: mode 4, n, coco?, [joints], sigma mode, threshold mode, [sigmas], keypoints, dup?, scores, areas
    kp = bytes((np.arange(3 * 17 * 3) * 37 % 200).astype(np.uint8))
    s["nms_coco.bin"] = bytes([4, 3, 0, 0, 2, 90]) + kp + bytes([0, 0, 1]) + bytes([200, 180, 190]) + bytes([1, 50, 1, 60, 1, 70])
    s["nms_custom_sigmas.bin"] = bytes([5, 4, 1, 4, 1, 1, 50]) + bytes([125, 126, 127, 128, 129]) + bytes(range(100, 160)) + bytes([1, 0, 2]) + bytes([130] * 4) + bytes([1, 30] * 4)
    s["nms_huge.bin"] = bytes([6]) + struct.pack("<Q", 1 << 40) + bytes([0]) + struct.pack("<i", 17) + bytes([0])
    s["nms_zero.bin"] = bytes([6]) + struct.pack("<Q", 0) + bytes([0]) + struct.pack("<i", 3) + bytes([0])
    s["box_area.bin"] = bytes([7, 120, 130, 200, 210, 136]) + struct.pack("<i", 256) + bytes([0]) + struct.pack("<i", 192) + bytes([0])
    return s


# ------------------------------------------------------------------------------------------------
# Hand-made hostile inputs for Tests/fuzz/regressions/<harness>/ (run.sh replays them before
# fuzzing; each must be refused cleanly). Named hostile_*; inputs the fuzzer finds are added
# there by hand, under other names, and are never touched by this script.


def legacy_with_pickle(pkl):
    """A legacy torch.save file whose main pickle is `pkl` (no storages follow)."""
    return (pickle.dumps(MAGIC, protocol=2) + pickle.dumps(1001, protocol=2)
            + pickle.dumps({"protocol_version": 1001}, protocol=2) + pkl + pickle.dumps([], protocol=2))


def hostile_checkpoints():
    out = {}
    # Lists nested 30000 deep: walking or freeing them recursively overflows the stack.
    deep = b"\x80\x02" + b"]" * 30000 + b"a" * 29999 + b"."
    out["hostile_deep_nesting_legacy.pth"] = legacy_with_pickle(deep)
    out["hostile_deep_nesting_zip.pth"] = zip_bytes([("archive/data.pkl", deep)])
    # 40 levels of lists of 32 references to the level below (32^40 elements if expanded), as a
    # state dict's value.
    laughs = b"\x80\x02]q\x000"
    for level in range(40):
        laughs += b"(" + (b"h" + bytes([level])) * 32 + b"lq" + bytes([level + 1]) + b"0"
    laughs += b"}X\x0a\x00\x00\x00state_dicth\x28s."
    out["hostile_expansion.pth"] = zip_bytes([("archive/data.pkl", laughs)])
    # A dict that contains itself (a cycle: freeing or walking it never ends).
    cyc = b"\x80\x02}q\x00X\x04\x00\x00\x00selfh\x00s."
    out["hostile_cycle.pth"] = zip_bytes([("archive/data.pkl", cyc)])
    # A tensor of 65536 x 65536 x 3 x 3 floats with zero strides over a one-element storage.
    t = Tensor(as_storage(np.zeros(1, np.float32), "float32"), 0, (65536, 65536, 3, 3), (0, 0, 0, 0))
    out["hostile_zero_stride.pth"] = save_zip(OrderedDict([("conv1.weight", t)]))
    # Offsets and sizes that wrap when added: storage offset 2^62, stride 2^62.
    t = Tensor(as_storage(np.zeros(4, np.float32), "float32"), 1 << 62, (2, 2), (1 << 62, 1))
    out["hostile_wrapping_offset.pth"] = save_zip(OrderedDict([("conv1.weight", t)]))
    # zip64 end record pointing at a directory 2^64 - 2 bytes in.
    z = bytearray(save_zip(OrderedDict([("a", Tensor(as_storage(np.zeros(1, np.float32), "float32"), 0, (1,), (1,)))]), zip64=True))
    eocd = z.rfind(b"PK\x05\x06")
    rec = z.rfind(b"PK\x06\x06")
    z[rec + 48:rec + 56] = struct.pack("<Q", (1 << 64) - 2)
    out["hostile_zip64_offset.pth"] = bytes(z)
    # A legacy storage claiming 2^62 elements.
    body = bytearray(save_legacy(OrderedDict([("a", Tensor(as_storage(np.zeros(2, np.float32), "float32"), 0, (2,), (1,)))])))
    body[-16:-8] = struct.pack("<q", 1 << 62)
    out["hostile_legacy_huge_storage.pth"] = bytes(body)
    return out


def hostile_pipeline():
    out = {}
    # hrnet_oks_nms with n x joints x 3 past Int.max (n = 2^62, 7 joints): must be refused.
    out["hostile_nms_overflow.bin"] = bytes([6]) + struct.pack("<Q", 1 << 62) + bytes([0]) + struct.pack("<i", 7) + bytes([0])
    # hrnet_decode_heatmaps with n = 2^64 - 1 (negative as a signed size) and a tiny capacity.
    out["hostile_decode_n_max.bin"] = bytes([3]) + struct.pack("<Q", (1 << 64) - 1) + bytes([0]) + struct.pack("<i", 17) + bytes([0]) \
        + struct.pack("<i", 64) + bytes([0]) + struct.pack("<i", 48) + bytes([0, 0, 0, 0, 4, 1, 1, 0])
    return out


def hostile_images(tmp):
    out = {}
    # A 60-byte PNG claiming 65536 x 65536 pixels (12 GiB of RGB).
    out["hostile_png_huge_header.png"] = PNG_SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", 65536, 65536, 8, 2, 0, 0, 0)) \
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _chunk(b"IEND", b"")
    # A JPEG header claiming 65500 x 65500 with no data after it.
    jpg = libjpeg_seeds(tmp, np.zeros((8, 8, 3), np.uint8), modes=("progressive",))["libjpeg_progressive.jpg"]
    sof = jpg.find(b"\xff\xc2")
    j = bytearray(jpg)
    j[sof + 5:sof + 9] = struct.pack(">HH", 65500, 65500)
    sos = jpg.find(b"\xff\xda")
    out["hostile_jpeg_huge_header.jpg"] = bytes(j[: sos + 2 + struct.unpack(">H", jpg[sos + 2:sos + 4])[0] + 16]) + b"\xff\xd9"
    # A progressive JPEG whose last scan is repeated 2000 times (each scan is a pass over the
    # whole image: without a cap, a small file decodes for minutes at a large size).
    last = jpg.rfind(b"\xff\xda")
    end = jpg.rfind(b"\xff\xd9")
    big = bytearray(jpg[:last] + jpg[last:end] * 2000 + b"\xff\xd9")
    sof = big.find(b"\xff\xc2")
    big[sof + 5:sof + 9] = struct.pack(">HH", 500, 500)
    out["hostile_jpeg_many_scans.jpg"] = bytes(big)
    return out


def hostile_json():
    return {
        "hostile_deep_nesting.json": b"[" * 20000 + b"]" * 20000,
        "hostile_deep_object.json": b'{"images":' * 3000 + b"1" + b"}" * 3000,
        "hostile_huge_numbers.json": b'[{"image_id": 1e999, "category_id": 1, "bbox": [1e999, -1e999, 1, 1]}]',
        "hostile_int_overflow.json": b'[{"image_id": 92233720368547758070, "category_id": 1, "bbox": [0, 0, 1, 1]}]',
        "hostile_bad_utf8.json": b'[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "\xff\xfe": "\xc0\x80"}]',
    }


# ------------------------------------------------------------------------------------------------


def write(harness, seeds, root=None):
    d = (root or CORPUS) / harness
    d.mkdir(parents=True, exist_ok=True)
    for name, data in seeds.items():
        (d / name).write_bytes(data)
    return d


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="load every checkpoint seed with the Python binding")
    args = ap.parse_args()
    ck = checkpoints()
    write("checkpoint", ck)
    with tempfile.TemporaryDirectory() as tmp:
        write("image", images(pathlib.Path(tmp)))
        write("image", hostile_images(pathlib.Path(tmp)), root=REGRESSIONS)
    write("json", json_seeds())
    write("pipeline", pipeline_seeds())
    write("checkpoint", hostile_checkpoints(), root=REGRESSIONS)
    write("pipeline", hostile_pipeline(), root=REGRESSIONS)
    write("json", hostile_json(), root=REGRESSIONS)
    for h in ("checkpoint", "image", "json", "pipeline"):
        files = sorted((CORPUS / h).iterdir())
        print("%-10s %2d files, largest %6d bytes" % (h, len(files), max(f.stat().st_size for f in files)))
    if args.check:
        check(ck)


def check(ck):
    """Loads each checkpoint seed with hrnet_model_load through ctypes (not the binding, so the
    check works with any build of the library): seeds named bad_* must be refused, others load.
    (The checkpoint harness shows the same with HRNET_FUZZ_VERBOSE=1, and runs each once too.)"""
    import ctypes
    import os
    lib_path = os.environ.get("HRNET_LIBRARY", str(REPO / ".build" / "release" / "libhrnet.so"))
    lib = ctypes.CDLL(lib_path)
    lib.hrnet_model_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.hrnet_model_load.restype = ctypes.c_int
    lib.hrnet_model_release.argtypes = [ctypes.c_void_p]
    lib.hrnet_last_error.argtypes = [ctypes.c_void_p]
    lib.hrnet_last_error.restype = ctypes.c_char_p
    failed = 0
    for name in sorted(ck):
        model = ctypes.c_void_p()
        status = lib.hrnet_model_load(str(CORPUS / "checkpoint" / name).encode(), ctypes.byref(model))
        msg = "loads" if status == 0 else lib.hrnet_last_error(None).decode(errors="replace")[:150]
        if status == 0:
            lib.hrnet_model_release(model)
        good = (status == 0) == (not name.startswith("bad_"))
        failed += not good
        print("%s %-36s %s" % ("ok  " if good else "FAIL", name, msg))
    if failed:
        sys.exit("%d checkpoint seed(s) did not load as expected (library: %s)" % (failed, lib_path))

if __name__ == "__main__":
    main()
