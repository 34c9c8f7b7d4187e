"""Minimal PNG reading and writing with zlib + struct (the tests need no imaging package).

read_png handles what the tests meet: 8-bit gray, gray+alpha, RGB, RGBA and palette images,
non-interlaced, all five row filters. write_png writes 8-bit gray, RGB or RGBA."""

import struct
import zlib

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunks(data):
    if data[:8] != PNG_SIGNATURE:
        raise ValueError("not a PNG file")
    pos = 8
    while pos + 8 <= len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc, = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(ctype + body) & 0xFFFFFFFF != crc:
            raise ValueError("PNG chunk %r has a bad CRC" % ctype)
        yield ctype, body
        pos += 12 + length
        if ctype == b"IEND":
            return


def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))


def read_png(path):
    """-> H x W x C uint8 array (C = 1, 2, 3 or 4 as stored; palette images come back RGB)."""
    data = open(path, "rb").read()
    header = None
    idat = []
    palette = None
    for ctype, body in _chunks(data):
        if ctype == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif ctype == b"IDAT":
            idat.append(body)
        elif ctype == b"PLTE":
            palette = np.frombuffer(body, np.uint8).reshape(-1, 3)
    w, h, depth, color, _, _, interlace = header
    if depth != 8 or interlace != 0:
        raise ValueError("read_png: only 8-bit non-interlaced PNGs (got depth %d, interlace %d)"
                         % (depth, interlace))
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color]
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8)
    stride = w * channels
    raw = raw.reshape(h, stride + 1)
    out = np.zeros((h, stride), np.int32)
    prev = np.zeros(stride, np.int32)
    bpp = channels
    for y in range(h):
        f = raw[y, 0]
        line = raw[y, 1:].astype(np.int32)
        if f == 0:
            cur = line
        elif f == 1:  # Sub: a running sum along the row, per channel
            cur = (np.cumsum(line.reshape(w, bpp), axis=0) & 0xFF).reshape(stride)
        elif f == 2:
            cur = (line + prev) & 0xFF
        elif f in (3, 4):
            cur = np.zeros(stride, np.int32)
            for x in range(stride):
                a = cur[x - bpp] if x >= bpp else 0
                if f == 1:
                    cur[x] = (line[x] + a) & 0xFF
                elif f == 3:
                    cur[x] = (line[x] + ((a + prev[x]) >> 1)) & 0xFF
                else:
                    c = prev[x - bpp] if x >= bpp else 0
                    cur[x] = (line[x] + int(_paeth(np.int32(a), prev[x], np.int32(c)))) & 0xFF
        else:
            raise ValueError("read_png: bad filter type %d" % f)
        out[y] = cur
        prev = cur
    img = out.astype(np.uint8).reshape(h, w, channels)
    if color == 3:
        img = palette[img[:, :, 0]]
    return img


def write_png(path, img, bits=8, palette=None):
    """Writes an H x W (gray), H x W x 1, x 2 (gray + alpha), x 3 (RGB) or x 4 (RGBA) array:
    uint8 for bits=8, uint16 for bits=16. With `palette` (P x 3 uint8), `img` is H x W indices
    and a palette image is written."""
    img = np.asarray(img)
    if img.ndim == 2:
        img = img[:, :, None]
    h, w, c = img.shape
    if palette is not None:
        assert c == 1 and bits == 8 and img.dtype == np.uint8
        color = 3
    else:
        color = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    assert img.dtype == (np.uint16 if bits == 16 else np.uint8)
    data = img.astype(">u2") if bits == 16 else img
    rows = b"".join(b"\x00" + data[y].tobytes() for y in range(h))

    def chunk(ctype, body):
        return (struct.pack(">I", len(body)) + ctype + body
                + struct.pack(">I", zlib.crc32(ctype + body) & 0xFFFFFFFF))

    out = PNG_SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bits, color, 0, 0, 0))
    if palette is not None:
        out += chunk(b"PLTE", np.asarray(palette, np.uint8).tobytes())
    out += chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(out)
