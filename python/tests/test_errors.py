"""Bad files, bad arguments, bad inputs: each gives a specific status or Python exception."""

import zipfile
import zlib

import numpy as np
import pytest

import hrnet
from conftest import TOL, fixture_path, max_abs

S = hrnet.Status


def _open_fails(path, *statuses):
    """Both entry points (Session(path) and Model(path)) fail with one of `statuses`."""
    for opener in (hrnet.Session, hrnet.Model):
        with pytest.raises(hrnet.HRNetError) as e:
            opener(path)
        assert e.value.status in statuses, "%s(%s): got %s (%s)" % (
            opener.__name__, path, e.value.status_name, e.value)
        assert e.value.status_name == hrnet.status_string(e.value.status)
        assert e.value.message, "empty hrnet_last_error message for %s" % path
        assert str(e.value) == e.value.message
    return e.value


def _patched_zip_member(src, dst, member_suffix, patch):
    """Copy zip `src` to `dst`, change the stored member ending in `member_suffix` in place with
    patch(bytes) -> bytes (same length), and fix its CRC-32 (central directory, data descriptor,
    and local header if it holds one) so the zip itself stays valid: only the content is wrong."""
    data = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as z:
        info = next(i for i in z.infolist() if i.filename.endswith(member_suffix))
    assert info.compress_type == zipfile.ZIP_STORED
    lh = info.header_offset
    assert data[lh:lh + 4] == b"PK\x03\x04"
    name_len = int.from_bytes(data[lh + 26:lh + 28], "little")
    extra_len = int.from_bytes(data[lh + 28:lh + 30], "little")
    start = lh + 30 + name_len + extra_len
    end = start + info.file_size
    old = bytes(data[start:end])
    new = patch(old)
    assert len(new) == len(old) and new != old
    data[start:end] = new
    crc = zlib.crc32(new).to_bytes(4, "little")
    if data[lh + 14:lh + 18] != bytes(4):          # local header CRC (0 with a data descriptor)
        data[lh + 14:lh + 18] = crc
    if info.flag_bits & 0x08:                       # data descriptor after the data
        at = end + 4 if data[end:end + 4] == b"PK\x07\x08" else end
        data[at:at + 4] = crc
    name = info.filename.encode()
    pos = len(data)
    while True:                                     # central directory entry of the member
        pos = data.rfind(b"PK\x01\x02", 0, pos)
        assert pos >= 0, "central directory entry not found"
        n = int.from_bytes(data[pos + 28:pos + 30], "little")
        if data[pos + 46:pos + 46 + n] == name:
            data[pos + 16:pos + 20] = crc
            break
    dst.write_bytes(bytes(data))
    with zipfile.ZipFile(dst) as z:
        assert z.testzip() is None  # a well-formed zip
    return dst


# --- files ---------------------------------------------------------------------------------

def test_missing_file_is_io(tmp_path):
    _open_fails(tmp_path / "no_such_checkpoint.pth", S.ERR_IO)


def test_directory_is_io(tmp_path):
    _open_fails(tmp_path, S.ERR_IO)


def test_empty_file_is_format(tmp_path):
    p = tmp_path / "empty.pth"
    p.write_bytes(b"")
    _open_fails(p, S.ERR_FORMAT)


def test_text_file_is_format(tmp_path):
    p = tmp_path / "text.pth"
    p.write_bytes((b"this is not a checkpoint\n" * 40)[:1000])
    _open_fails(p, S.ERR_FORMAT)


@pytest.mark.parametrize("name", ["coco_w8.pth", "coco_w8_legacy.pth", "coco_w8_mmpose.pth"])
@pytest.mark.parametrize("fraction", [0.5, 0.01, 0.999])
def test_truncated_checkpoint_is_format(tmp_path, name, fraction):
    data = fixture_path(name).read_bytes()
    p = tmp_path / ("trunc_" + name)
    p.write_bytes(data[:int(len(data) * fraction)])
    _open_fails(p, S.ERR_FORMAT)


def test_corrupted_pickle_is_format_or_model(tmp_path):
    def clobber(b):
        mid = len(b) // 2
        return b[:mid] + b"\xff" * 64 + b[mid + 64:]
    p = _patched_zip_member(fixture_path("coco_w8.pth"), tmp_path / "bad_pickle.pth",
                            "/data.pkl", clobber)
    _open_fails(p, S.ERR_FORMAT, S.ERR_MODEL)


def test_corrupted_pickle_crc_not_fixed_is_rejected(tmp_path):
    # Same corruption, but the zip's CRC is left stale: still a clean failure.
    data = bytearray(fixture_path("coco_w8.pth").read_bytes())
    with zipfile.ZipFile(fixture_path("coco_w8.pth")) as z:
        info = z.getinfo("coco_w8/data.pkl")
    lh = info.header_offset
    start = (lh + 30 + int.from_bytes(data[lh + 26:lh + 28], "little")
             + int.from_bytes(data[lh + 28:lh + 30], "little"))
    mid = start + info.file_size // 2
    data[mid:mid + 64] = b"\xff" * 64
    p = tmp_path / "bad_pickle_crc.pth"
    p.write_bytes(bytes(data))
    _open_fails(p, S.ERR_FORMAT, S.ERR_MODEL)


def test_missing_key_is_model_and_named(tmp_path):
    # A well-formed checkpoint whose final layer weight key is renamed: not a runnable HRNet.
    def rename(b):
        assert b.count(b"final_layer.weight") == 1
        return b.replace(b"final_layer.weight", b"final_layer.weighX")
    p = _patched_zip_member(fixture_path("coco_w8.pth"), tmp_path / "renamed.pth",
                            "/data.pkl", rename)
    err = _open_fails(p, S.ERR_MODEL)
    assert "final_layer" in err.message, err.message


def test_path_types(tmp_path):
    with pytest.raises(TypeError):
        hrnet.Session(42)
    with pytest.raises(TypeError):
        hrnet.Model(None)
    # str, bytes and PathLike all work
    p = fixture_path("coco_w8.pth")
    for arg in (str(p), bytes(str(p), "utf-8"), p):
        with hrnet.Session(arg, threads=1) as s:
            assert s.info.joints == 17


# --- forward -------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(3, 256, 192), (1, 1, 3, 256, 192), (1, 4, 256, 192),
                                   (1, 1, 256, 192), (1, 3, 192, 256), (1, 3, 256, 160),
                                   (1, 3, 128, 96), (0, 3, 256, 192)])
def test_wrong_shape_is_value_error(coco_session, shape):
    with pytest.raises(ValueError):
        coco_session.forward(np.zeros(shape, np.float32))


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.bool_, np.complex64])
def test_non_float_input_is_type_error(coco_session, dtype):
    with pytest.raises(TypeError):
        coco_session.forward(np.zeros((1, 3, 256, 192), dtype))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_is_invalid_argument_then_session_still_works(
        coco_session, coco_input, coco_truth, bad):
    x = coco_input.copy()
    x[1, 2, 100, 50] = bad
    with pytest.raises(hrnet.HRNetError) as e:
        coco_session.forward(x)
    assert e.value.status == S.ERR_INVALID_ARGUMENT
    assert e.value.message
    # the failure leaves the session usable
    assert max_abs(coco_session.forward(coco_input), coco_truth) <= TOL


def test_float64_overflowing_float32_is_refused(coco_session):
    x = np.zeros((1, 3, 256, 192), np.float64)
    x[0, 0, 0, 0] = 1e300  # becomes inf in float32
    with np.errstate(over="ignore"):
        with pytest.raises(hrnet.HRNetError) as e:
            coco_session.forward(x)
    assert e.value.status == S.ERR_INVALID_ARGUMENT


def test_closed_session_and_model(coco_input):
    s = hrnet.Session(fixture_path("coco_w8.pth"))
    s.close()
    s.close()  # idempotent
    assert s.closed
    with pytest.raises(ValueError):
        s.forward(coco_input)
    with pytest.raises(ValueError):
        s.info
    m = hrnet.Model(fixture_path("coco_w8.pth"))
    m.close()
    m.close()
    with pytest.raises(ValueError):
        hrnet.Session(m)


def test_error_is_picklable_and_repr():
    import pickle
    e = hrnet.HRNetError(3, "truncated")
    e2 = pickle.loads(pickle.dumps(e))
    assert (e2.status, e2.status_name, e2.message) == (S.ERR_FORMAT, "HRNET_ERR_FORMAT",
                                                       "truncated")
    assert "HRNET_ERR_FORMAT" in repr(e)
