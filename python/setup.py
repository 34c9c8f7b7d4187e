"""Build steps of the hrnet wheel that pyproject.toml cannot express (all metadata is there).

`pip wheel ./python` and `pip install ./python` build in this folder (pip >= 21.3 builds a local
directory in place), so the repository around it is at hand:

1. version: read from ../include/hrnet.h (HRNET_VERSION_*), the one place it is written;
2. build_py: runs `swift build -c release --product hrnet` in the repository (a no-op when
   .build/release/libhrnet.so is up to date), then copies libhrnet.so into the package, and with
   it every shared library it needs that a Linux system does not provide by itself (today the
   OpenMP runtime libomp.so.5; OpenBLAS is linked into libhrnet.so). libhrnet.so has the run
   path $ORIGIN, so the copies next to it are the ones loaded: the wheel works on a machine
   without libomp5, and `import hrnet` finds the library with no environment variable. An
   editable install (`pip install -e`) copies nothing and keeps using the repository's build;
3. bdist_wheel: tags the wheel py3-none-<platform>: the package is pure Python driving the
   library through ctypes, so it fits any Python 3, but only this platform. `make wheel`
   (packaging/wheel.sh) then has auditwheel check it and give it its manylinux tag.

Environment: SWIFT (the swift executable; default: swift on PATH).
"""

import os
import pathlib
import re
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

try:  # setuptools >= 70.1 has its own; older ones use the wheel package's
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # pragma: no cover
    from wheel.bdist_wheel import bdist_wheel

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent
HEADER = REPO / "include" / "hrnet.h"
LIBRARY = "libhrnet.so"

# Libraries every Linux system has (glibc's, and the C++ runtime of the system compiler, which
# the manylinux policies also take from the system); anything else libhrnet.so needs is bundled.
SYSTEM_LIBRARIES = re.compile(
    r"^(linux-vdso\.so\.1|ld-linux.*|libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|"
    r"librt\.so\.1|libutil\.so\.1|libresolv\.so\.2|libstdc\+\+\.so\.6|libgcc_s\.so\.1)$")


def header_version():
    if not HEADER.is_file():
        raise SystemExit("hrnet: %s not found: the package is built from the libhrnet repository "
                         "(pip install ./python from its root)" % HEADER)
    text = HEADER.read_text()
    parts = []
    for key in ("MAJOR", "MINOR", "PATCH"):
        m = re.search(r"^#define HRNET_VERSION_%s (\d+)" % key, text, re.M)
        if not m:
            raise SystemExit("hrnet: no HRNET_VERSION_%s in %s" % (key, HEADER))
        parts.append(m.group(1))
    return ".".join(parts)


def ldd(path):
    """{soname: resolved path or None} of every library `path` loads, as the dynamic loader finds them."""
    out = subprocess.run(["ldd", str(path)], check=True, capture_output=True, text=True).stdout
    found = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+)\s+=>\s+(not found|\S+)", line)
        if m:
            found[m.group(1)] = None if m.group(2) == "not found" else m.group(2)
    return found


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # editable installs use the repository's .build/release/libhrnet.so
        library = self.build_library()
        target = pathlib.Path(self.build_lib) / "hrnet"
        target.mkdir(parents=True, exist_ok=True)
        self.copy_file(str(library), str(target / LIBRARY))
        bundled = []
        for soname, path in sorted(ldd(library).items()):
            if SYSTEM_LIBRARIES.match(soname):
                continue
            if path is None:
                raise SystemExit("hrnet: %s needs %s, which the loader does not find" % (library, soname))
            # The file itself (libomp.so.5 is a link into /usr/lib/llvm-N/lib), under its soname.
            self.copy_file(os.path.realpath(path), str(target / soname))
            bundled.append(soname)
        # The copies must be the ones the packaged library loads (through its $ORIGIN run path).
        loaded = ldd(target / LIBRARY)
        for soname in bundled:
            want = (target / soname).resolve()
            got = loaded.get(soname)
            if got is None or pathlib.Path(got).resolve() != want:
                raise SystemExit("hrnet: the packaged %s loads %s from %s, not the bundled copy %s "
                                 "(has it lost its $ORIGIN run path?)" % (LIBRARY, soname, got, want))
        print("hrnet: packaged %s with %s" % (LIBRARY, ", ".join(bundled) or "no other library"))

    def build_library(self):
        swift = os.environ.get("SWIFT") or shutil.which("swift")
        if not swift:
            raise SystemExit(
                "hrnet: building this package builds libhrnet.so from %s with the Swift toolchain, "
                "and no `swift` is on PATH (or set SWIFT=/path/to/swift). Install Swift 6 "
                "(https://www.swift.org/install/linux/) and the native packages (bash .ci/setup), "
                "or install a prebuilt hrnet wheel instead." % REPO)
        if not (REPO / "Package.swift").is_file():
            raise SystemExit("hrnet: %s has no Package.swift: build the package from the libhrnet "
                             "repository (pip install ./python from its root)" % REPO)
        cmd = [swift, "build", "-c", "release", "--product", "hrnet"]
        print("hrnet: %s (in %s)" % (" ".join(cmd), REPO))
        subprocess.run(cmd, cwd=REPO, check=True)
        library = REPO / ".build" / "release" / LIBRARY
        if not library.is_file():
            raise SystemExit("hrnet: %s did not produce %s" % (" ".join(cmd), library))
        return library


class PlatformWheel(bdist_wheel):
    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False  # it holds a native library

    def get_tag(self):
        _, _, platform = super().get_tag()
        return "py3", "none", platform


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True


setup(
    version=header_version(),
    distclass=BinaryDistribution,
    cmdclass={"build_py": BuildWithLibrary, "bdist_wheel": PlatformWheel},
)
