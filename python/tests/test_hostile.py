"""Hostile checkpoints: files made by hand, byte by byte, to break a reader that trusts them.

Each one must be refused with HRNET_ERR_FORMAT or HRNET_ERR_MODEL and a short message, within a
second, through both the path loader (hrnet_model_load) and the memory loader
(hrnet_model_load_memory), and the process must survive. Before the loader checked its arithmetic
these crashed the host, read outside the file, allocated without bound or hung."""

import struct
import time
import zlib

import numpy as np
import pytest

import hrnet

S = hrnet.Status
MAX_SECONDS = 1.0
MAX_MESSAGE = 400


# ---- pickle opcodes, written by hand (protocol 2) ------------------------------------------

def _u(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def _int(v):
    """LONG1 with 8 bytes: any 64-bit value."""
    return b"\x8a\x08" + struct.pack("<q", v)


def _tuple(items):
    return b"(" + b"".join(items) + b"t"


def _tensor(storage_key, numel, offset, shape, stride, storage_type="FloatStorage"):
    pid = _tuple([_u("storage"), b"ctorch\n" + storage_type.encode() + b"\n", _u(storage_key), _u("cpu"), _int(numel)])
    args = _tuple([pid + b"Q", _int(offset), _tuple([_int(v) for v in shape]), _tuple([_int(v) for v in stride]),
                   b"\x89", b"ccollections\nOrderedDict\n)R"])
    return b"ctorch._utils\n_rebuild_tensor_v2\n" + args + b"R"


def _state_dict(entries):
    """A pickle of {key: value-bytes}."""
    body = b"".join(_u(k) + v + b"s" for k, v in entries)
    return b"\x80\x02}" + body + b"."


# ---- zip archives, written by hand --------------------------------------------------------

def _zip(files, zip64_locator_offset=None, local_offset_override=None):
    """A stored (uncompressed) zip of (name, bytes). Optionally a zip64 end-of-directory locator
    pointing at `zip64_locator_offset`, or a central entry whose local-header offset is
    0xFFFFFFFF with a zip64 extra field giving `local_offset_override`."""
    out, central = bytearray(), bytearray()
    for i, (name, data) in enumerate(files):
        n = name.encode()
        crc = zlib.crc32(data)
        local = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0, crc, len(data), len(data), len(n), 0) + n + data
        extra = b""
        off = local
        if local_offset_override is not None and i == 0:
            extra = struct.pack("<HHQ", 1, 8, local_offset_override)
            off = 0xFFFFFFFF
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0, crc, len(data), len(data),
                               len(n), len(extra), 0, 0, 0, 0, off) + n + extra
    cd_offset = len(out)
    out += central
    if zip64_locator_offset is not None:
        out += struct.pack("<IIQI", 0x07064B50, 0, zip64_locator_offset, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(files), len(files), len(central), cd_offset, 0)
    return bytes(out)


def _torch_zip(pickle_bytes, storages):
    files = [("archive/data.pkl", pickle_bytes)] + [("archive/data/" + k, v) for k, v in storages.items()]
    return _zip(files)


LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e"


def _refused(tmp_path, data, *statuses):
    """Loads `data` from a file and from memory; both must fail fast with a short message."""
    statuses = statuses or (S.ERR_FORMAT, S.ERR_MODEL)
    path = tmp_path / "hostile.pth"
    path.write_bytes(data)
    messages = []
    for load in (lambda: hrnet.Model(str(path)), lambda: hrnet.Model.from_bytes(data)):
        t0 = time.perf_counter()
        with pytest.raises(hrnet.HRNetError) as e:
            load()
        elapsed = time.perf_counter() - t0
        assert e.value.status in statuses, (e.value.status_name, e.value.message)
        assert len(e.value.message) <= MAX_MESSAGE, e.value.message[:1000]
        assert elapsed < MAX_SECONDS, "took %.2f s: %s" % (elapsed, e.value.message)
        messages.append(e.value.message)
    return messages


ONE_FLOAT = {"0": struct.pack("<f", 1.0)}


def test_a_tensor_record_that_is_sound_loads_its_values_and_fails_only_as_a_model(tmp_path):
    # The control case: the same hand-made file with sane numbers reaches the model check.
    data = _torch_zip(_state_dict([("conv1.weight", _tensor("0", 1, 0, [1], [1]))]), ONE_FLOAT)
    _refused(tmp_path, data, S.ERR_MODEL)


def test_storage_offset_whose_byte_offset_wraps_around(tmp_path):
    # offset * 4 == 2**64 == 0 in 64-bit arithmetic: a reader that multiplies unchecked reads
    # element 0 and reports success.
    data = _torch_zip(_state_dict([("conv1.weight", _tensor("0", 1, 2 ** 62, [1], [1]))]), ONE_FLOAT)
    msgs = _refused(tmp_path, data, S.ERR_FORMAT)
    assert "conv1.weight" in msgs[0]


def test_stride_whose_extent_wraps_around(tmp_path):
    # (size - 1) * stride == 2**62; the last byte offset (2**62 + 1) * 4 wraps to 4.
    data = _torch_zip(_state_dict([("conv1.weight", _tensor("0", 1, 0, [2], [2 ** 62]))]), ONE_FLOAT)
    _refused(tmp_path, data, S.ERR_FORMAT)


def test_negative_offsets_sizes_and_strides(tmp_path):
    for offset, shape, stride in ((-1, [1], [1]), (0, [-1], [1]), (0, [2], [-1]), (2 ** 63 - 1, [2], [1])):
        data = _torch_zip(_state_dict([("w", _tensor("0", 1, offset, shape, stride))]), ONE_FLOAT)
        _refused(tmp_path, data, S.ERR_FORMAT)


def test_zero_strides_asking_for_terabytes_over_one_float(tmp_path):
    # 2**20 x 2**20 elements (4 TiB as floats) over a 1-element storage through zero strides.
    data = _torch_zip(_state_dict([("conv1.weight", _tensor("0", 1, 0, [2 ** 20, 2 ** 20], [0, 0]))]), ONE_FLOAT)
    msgs = _refused(tmp_path, data, S.ERR_FORMAT)
    assert "stride 0" in msgs[0]


def test_overlapping_strides_asking_for_more_elements_than_the_storage(tmp_path):
    # Strides of 1 in every dimension: every element lies in the 2**16-float storage, but the
    # tensor has 2**48 of them.
    storage = {"0": bytes(4 * 2 ** 16)}
    data = _torch_zip(_state_dict([("w", _tensor("0", 2 ** 16, 0, [2 ** 12] * 4, [1] * 4))]), storage)
    _refused(tmp_path, data, S.ERR_FORMAT)


def test_a_hundred_thousand_dimensions(tmp_path):
    data = _torch_zip(_state_dict([("w", _tensor("0", 1, 0, [1] * 100000, [1] * 100000))]), ONE_FLOAT)
    _refused(tmp_path, data, S.ERR_FORMAT)


def test_zip64_locator_pointing_near_2_to_the_63(tmp_path):
    base = _torch_zip(_state_dict([]), {})
    for target in (2 ** 63 - 10, 2 ** 64 - 40, 2 ** 63 - 56):
        data = _zip([("archive/data.pkl", _state_dict([]))], zip64_locator_offset=target)
        _refused(tmp_path, data, S.ERR_FORMAT)
    assert base  # the same archive without the locator is a well-formed zip (checked below)
    _refused(tmp_path, base, S.ERR_MODEL)


def test_local_header_offset_near_2_to_the_63(tmp_path):
    for target in (2 ** 63 - 1, 2 ** 63 - 20, 2 ** 64 - 1):
        data = _zip([("archive/data.pkl", _state_dict([]))], local_offset_override=target)
        _refused(tmp_path, data, S.ERR_FORMAT)


def test_pickle_nested_a_hundred_thousand_levels(tmp_path):
    deep_tuples = b"\x80\x02N" + b"\x85" * 100000 + b"."          # ((((None,),),),...)
    deep_lists = b"\x80\x02" + b"(" * 100000 + b"l" * 100000 + b"."  # [[[[...]]]]
    deep_dicts = b"\x80\x02" + b"}X\x01\x00\x00\x00k" * 100000 + b"N" + b"s" * 100000 + b"."
    for p in (deep_tuples, deep_lists, deep_dicts):
        msgs = _refused(tmp_path, _torch_zip(p, {}), S.ERR_FORMAT)
        assert "nested deeper" in msgs[0], msgs[0]
        _refused(tmp_path, LEGACY_MAGIC + b"\x80\x02M\xe9\x03." + b"\x80\x02}." + p, S.ERR_FORMAT)


def test_pickle_whose_dup_tuple_graph_expands_to_2_to_the_48_leaves(tmp_path):
    bomb = b"N" + b"2\x86" * 48   # t = (t, t), 48 times: 2**48 leaves, 150 bytes
    # As the legacy protocol version and as a storage's element type: both are named in error
    # messages, which must summarise, not print, the value.
    legacy = LEGACY_MAGIC + b"\x80\x02" + bomb + b"."
    msgs = _refused(tmp_path, legacy, S.ERR_FORMAT)
    assert "protocol" in msgs[0]
    pid = _tuple([_u("storage"), bomb, _u("0"), _u("cpu"), _int(1)])
    rec = b"ctorch._utils\n_rebuild_tensor_v2\n" + _tuple([pid + b"Q", _int(0), _tuple([_int(1)]), _tuple([_int(1)])]) + b"R"
    data = _torch_zip(b"\x80\x02}" + _u("w") + rec + b"s.", ONE_FLOAT)
    msgs = _refused(tmp_path, data, S.ERR_MODEL)
    assert "element type" in msgs[0]


def test_pickle_with_a_list_that_contains_itself(tmp_path):
    for p in (b"\x80\x02]2a.", b"\x80\x02}2X\x01\x00\x00\x00ks.", b"\x80\x02](2e."):
        _refused(tmp_path, _torch_zip(p, {}), S.ERR_FORMAT)


def test_pickle_that_changes_a_list_after_putting_it_in_a_tuple(tmp_path):
    # list L; t = (L,); then L is appended to: whatever holds L would change under it (and with
    # t appended, L would contain itself through t).
    p = b"\x80\x02]q\x00\x85h\x00" + b"\x8c\x01x" + b"a" + b"."
    _refused(tmp_path, _torch_zip(p, {}), S.ERR_FORMAT)


def test_pickle_that_calls_ordereddict_on_a_big_list_over_and_over(tmp_path):
    # A 100,000-item list, then 30,000 x OrderedDict(list): 3e9 steps for a 1 MB file unless the
    # reader bounds its work by the file's size.
    p = b"\x80\x02(" + b"N" * 100000 + b"lq\x00" + b"0"
    p += (b"ccollections\nOrderedDict\nh\x00\x85R0") * 30000
    p += b"}."
    msgs = _refused(tmp_path, _torch_zip(p, {}), S.ERR_FORMAT)
    assert "too complex" in msgs[0]


def test_huge_text_fields_are_not_echoed(tmp_path):
    big = b"9" * 1000000
    for p in (b"\x80\x02I" + big + b"x\n.", b"\x80\x02F" + big + b"x\n.", b"\x80\x02c" + big + b"\n" + big + b"\n)\x81."):
        _refused(tmp_path, _torch_zip(p, {}), S.ERR_FORMAT, S.ERR_MODEL)


def test_huge_key_is_not_echoed(tmp_path):
    key = "k" * 1000000
    data = _torch_zip(_state_dict([(key, _tensor("missing", 1, 0, [1], [1]))]), ONE_FLOAT)
    _refused(tmp_path, data, S.ERR_FORMAT)


def test_legacy_storage_view_offset_that_wraps(tmp_path):
    # Legacy persistent ids may name a view (root key, element offset): offset * size must not wrap.
    view = _tuple([_u("v0"), _int(2 ** 62), _int(1)])
    pid = _tuple([_u("storage"), b"ctorch\nFloatStorage\n", _u("0"), _u("cpu"), _int(1), view])
    rec = b"ctorch._utils\n_rebuild_tensor_v2\n" + _tuple([pid + b"Q", _int(0), _tuple([_int(1)]), _tuple([_int(1)])]) + b"R"
    main = b"\x80\x02}" + _u("conv1.weight") + rec + b"s."
    keys = b"\x80\x02" + _tuple([_u("0")]) + b"."
    data = LEGACY_MAGIC + b"\x80\x02M\xe9\x03." + b"\x80\x02}." + main + keys + struct.pack("<q", 1) + struct.pack("<f", 1.0)
    _refused(tmp_path, data, S.ERR_FORMAT)


def test_legacy_storage_count_that_overflows(tmp_path):
    pid = _tuple([_u("storage"), b"ctorch\nFloatStorage\n", _u("0"), _u("cpu"), _int(1)])
    rec = b"ctorch._utils\n_rebuild_tensor_v2\n" + _tuple([pid + b"Q", _int(0), _tuple([_int(1)]), _tuple([_int(1)])]) + b"R"
    main = b"\x80\x02}" + _u("conv1.weight") + rec + b"s."
    keys = b"\x80\x02" + _tuple([_u("0")]) + b"."
    for n in (2 ** 62, 2 ** 63 - 1, -1, 2 ** 61 + 1):
        data = LEGACY_MAGIC + b"\x80\x02M\xe9\x03." + b"\x80\x02}." + main + keys + struct.pack("<q", n) + b"\0" * 4
        _refused(tmp_path, data, S.ERR_FORMAT)


def test_memory_loader_matches_the_file_loader(tmp_path):
    from conftest import fixture_path
    path = fixture_path("coco_w8.pth")
    data = open(path, "rb").read()
    x = np.load(fixture_path("coco_w8_input.npy"))[:1]
    with hrnet.Session(hrnet.Model(path), threads=1) as a, hrnet.Session(hrnet.Model.from_bytes(data), threads=1) as b:
        assert np.array_equal(a.forward(x), b.forward(x))
    # The bytes are only read during the call: a bytearray can be reused right after.
    buf = bytearray(data)
    m = hrnet.Model.from_bytes(buf)
    buf[:] = b"\0" * len(buf)
    with hrnet.Session(m, threads=1) as c:
        assert np.array_equal(c.forward(x), hrnet.Session(path, threads=1).forward(x))
    # The caller's buffer is never written (the loader must not release or touch its pages).
    buf2 = bytearray(data)
    hrnet.Model.from_bytes(buf2).close()
    assert buf2 == data


def test_memory_loader_argument_errors():
    with pytest.raises(ValueError):
        hrnet.Model.from_bytes(b"")
    with pytest.raises(hrnet.HRNetError) as e:
        hrnet.Model.from_bytes(b"not a checkpoint")
    assert e.value.status == S.ERR_FORMAT


def test_pickle_with_a_deep_value_stack_stays_linear(tmp_path):
    # A million values on the stack, then 100,000 container ops on top of them: any per-op copy
    # of the stack would take minutes (an early version copied it on every TUPLE).
    for ops in (b"t" * 100000, b"l" * 999, b"N\x85" * 999):
        p = b"\x80\x02" + b"(" * 1000000 + ops + b"."
        _refused(tmp_path, _torch_zip(p, {}), S.ERR_FORMAT, S.ERR_MODEL)
