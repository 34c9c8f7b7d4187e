"""A minimal reader and writer of PyTorch's zip checkpoint format, numpy only (no torch), so the
tests can build checkpoints that are well formed but wrong in one specific way."""

import io
import pickle
import sys
import types
import zipfile
from collections import OrderedDict

import numpy as np

_DTYPES = {"FloatStorage": np.float32, "LongStorage": np.int64, "DoubleStorage": np.float64}


class _StorageType:
    def __init__(self, name):
        self.name = name


def _rebuild_tensor_v2(storage, offset, size, stride, *rest):
    arr, = storage
    itemsize = arr.dtype.itemsize
    return np.lib.stride_tricks.as_strided(arr[offset:], shape=tuple(size),
                                           strides=tuple(s * itemsize for s in stride)).copy()


def load_state_dict(path):
    """The tensors of a zip-format checkpoint as an OrderedDict of numpy arrays."""
    with zipfile.ZipFile(path) as z:
        pkl = next(n for n in z.namelist() if n.endswith("/data.pkl"))
        prefix = pkl[: -len("data.pkl")]

        class U(pickle.Unpickler):
            def find_class(self, module, name):
                if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
                    return _rebuild_tensor_v2
                if (module, name) == ("collections", "OrderedDict"):
                    return OrderedDict
                if module == "torch" and name.endswith("Storage"):
                    return _StorageType(name)
                raise pickle.UnpicklingError("unexpected global %s.%s" % (module, name))

            def persistent_load(self, pid):
                _, stype, key, _, _ = pid
                data = np.frombuffer(z.read(prefix + "data/" + key), dtype=_DTYPES[stype.name])
                return (data,)

        obj = U(io.BytesIO(z.read(pkl))).load()
    return obj.get("state_dict", obj) if isinstance(obj, dict) else obj


class _Tensor:
    """Pickles like a torch tensor: torch._utils._rebuild_tensor_v2(storage, 0, size, stride, ...)."""
    def __init__(self, arr):
        self.arr = arr

    def __reduce__(self):
        stride, acc = [], 1
        for n in reversed(self.arr.shape):
            stride.insert(0, acc)
            acc *= n
        return (_FAKE["torch._utils"]._rebuild_tensor_v2,
                (_Persistent(self.arr), 0, tuple(self.arr.shape), tuple(stride), False, OrderedDict()))


class _Persistent:
    def __init__(self, arr):
        self.arr = arr


def _fake_modules():
    """Stand-ins for torch's globals: pickle writes them by name (GLOBAL opcodes) only."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called")
    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    for kind in ("FloatStorage", "LongStorage"):
        cls = type(kind, (), {})
        cls.__module__ = "torch"
        cls.__qualname__ = kind
        setattr(torch, kind, cls)
    torch._utils = utils
    return {"torch": torch, "torch._utils": utils}


_FAKE = _fake_modules()


def save_state_dict(path, tensors, name="archive"):
    """Writes `tensors` (name -> numpy float32/int64 array) as a PyTorch zip checkpoint."""
    storages = []

    class P(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, _Persistent):
                storages.append(obj.arr)
                kind = "LongStorage" if obj.arr.dtype == np.int64 else "FloatStorage"
                return ("storage", getattr(_FAKE["torch"], kind), str(len(storages) - 1), "cpu", obj.arr.size)
            return None

    buf = io.BytesIO()
    sd = OrderedDict((k, _Tensor(np.ascontiguousarray(v))) for k, v in tensors.items())
    saved = {m: sys.modules.get(m) for m in _FAKE}
    sys.modules.update(_FAKE)
    try:
        P(buf, protocol=2).dump(sd)
    finally:
        for m, old in saved.items():
            if old is None:
                sys.modules.pop(m, None)
            else:
                sys.modules[m] = old
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(name + "/data.pkl", buf.getvalue())
        z.writestr(name + "/version", "3\n")
        for i, arr in enumerate(storages):
            dtype = np.int64 if arr.dtype == np.int64 else np.float32
            z.writestr("%s/data/%d" % (name, i), arr.astype(dtype).tobytes())
