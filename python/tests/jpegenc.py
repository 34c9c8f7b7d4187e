"""A small baseline JPEG encoder (numpy only) so the tests can make JPEG files without an imaging
package: 8-bit, 1 (gray) or 3 (YCbCr 4:4:4) components, one flat quantisation table, and
Huffman tables of our own (every symbol a fixed-length code, which the format allows)."""

import struct

import numpy as np

# Zigzag order: diagonals i + j, odd ones walked downwards (row increasing), even ones upwards.
ZIGZAG = [i * 8 + j for i, j in sorted(((i, j) for i in range(8) for j in range(8)),
                                       key=lambda t: (t[0] + t[1], t[0] if (t[0] + t[1]) % 2 else -t[0]))]
_C = np.array([[(np.sqrt(1 / 8) if u == 0 else np.sqrt(2 / 8)) * np.cos((2 * x + 1) * u * np.pi / 16)
                for x in range(8)] for u in range(8)])
DC_SYMBOLS = list(range(12))                                   # all 4-bit codes
AC_SYMBOLS = [0x00, 0xF0] + [(r << 4) | s for r in range(16) for s in range(1, 11)]   # all 8-bit


class _Bits:
    def __init__(self):
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def put(self, value, length):
        self.acc = (self.acc << length) | (value & ((1 << length) - 1))
        self.n += length
        while self.n >= 8:
            self.n -= 8
            byte = (self.acc >> self.n) & 0xFF
            self.out.append(byte)
            if byte == 0xFF:
                self.out.append(0)                             # byte stuffing
        self.acc &= (1 << self.n) - 1

    def flush(self):
        if self.n:
            self.put((1 << (8 - self.n)) - 1, 8 - self.n)      # pad with ones


def _magnitude(v):
    size = int(abs(v)).bit_length()
    return size, (v if v >= 0 else v + (1 << size) - 1)


def write_jpeg(path, img, q=2):
    """img: H x W (gray) or H x W x 3 (RGB) uint8. q: the flat quantiser step (1..255)."""
    img = np.asarray(img)
    assert img.dtype == np.uint8
    gray = img.ndim == 2
    h, w = img.shape[:2]
    f = img.astype(np.float64)
    if gray:
        planes = [f]
    else:
        r, g, b = f[..., 0], f[..., 1], f[..., 2]
        planes = [0.299 * r + 0.587 * g + 0.114 * b,
                  -0.168736 * r - 0.331264 * g + 0.5 * b + 128,
                  0.5 * r - 0.418688 * g - 0.081312 * b + 128]
    ph, pw = -(-h // 8) * 8, -(-w // 8) * 8
    coefs = []
    for p in planes:
        p = np.pad(p, ((0, ph - h), (0, pw - w)), mode="edge") - 128
        blocks = p.reshape(ph // 8, 8, pw // 8, 8).transpose(0, 2, 1, 3)
        d = np.einsum("ux,abxy,vy->abuv", _C, blocks, _C)
        coefs.append(np.round(d / q).astype(int).reshape(ph // 8, pw // 8, 64)[..., ZIGZAG])
    bits = _Bits()
    pred = [0] * len(planes)
    for by in range(ph // 8):
        for bx in range(pw // 8):
            for c, co in enumerate(coefs):
                zz = co[by, bx]
                size, v = _magnitude(zz[0] - pred[c])
                pred[c] = zz[0]
                bits.put(DC_SYMBOLS.index(size), 4)
                if size:
                    bits.put(v, size)
                run = 0
                for k in range(1, 64):
                    if zz[k] == 0:
                        run += 1
                        continue
                    while run > 15:
                        bits.put(AC_SYMBOLS.index(0xF0), 8)
                        run -= 16
                    size, v = _magnitude(zz[k])
                    assert size <= 10
                    bits.put(AC_SYMBOLS.index((run << 4) | size), 8)
                    bits.put(v, size)
                    run = 0
                if run:
                    bits.put(AC_SYMBOLS.index(0x00), 8)
    bits.flush()

    def seg(marker, body):
        return struct.pack(">HH", marker, len(body) + 2) + body

    nc = len(planes)
    dc_bits = bytes([0, 0, 0, len(DC_SYMBOLS)] + [0] * 12)
    ac_bits = bytes([0] * 7 + [len(AC_SYMBOLS)] + [0] * 8)
    data = (b"\xff\xd8"
            + seg(0xFFE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
            + seg(0xFFDB, bytes([0]) + bytes([q] * 64))
            + seg(0xFFC0, struct.pack(">BHHB", 8, h, w, nc)
                  + b"".join(bytes([i + 1, 0x11, 0]) for i in range(nc)))
            + seg(0xFFC4, bytes([0x00]) + dc_bits + bytes(DC_SYMBOLS)
                  + bytes([0x10]) + ac_bits + bytes(AC_SYMBOLS))
            + seg(0xFFDA, bytes([nc]) + b"".join(bytes([i + 1, 0x00]) for i in range(nc)) + bytes([0, 63, 0]))
            + bytes(bits.out) + b"\xff\xd9")
    with open(path, "wb") as fh:
        fh.write(data)
