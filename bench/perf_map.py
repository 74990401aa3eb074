"""Profile a scan with Linux perf, the numba kernels named.

    perf record -e cpu-clock -g -o perf.data -- python bench/perf_map.py LOG [--scans 3]
    perf report -i perf.data --no-children --sort sym

The kernels are machine code numba generated at run time: perf shows them as bare addresses
unless the process leaves a map of its functions in /tmp/perf-<pid>.map. This script scans LOG
once (every kernel the scan uses is then loaded), writes that map, and scans LOG `--scans` times
more, each timed. A kernel loaded from fastscan's disk cache (on here, as in the CLI) is mapped
function by function from the object code cached with it: the helpers LLVM did not inline show
up under their own names (`json_records.scan_records:bits.copy_bytes`, the decoder's byte
copy, is its own line). A kernel compiled without the cache is mapped as one block from
its entry point. `--map FILE` writes the map there instead, and `--scans 0` stops after it.
"""

from __future__ import annotations

import argparse
import gc
import os
import pickle
import re
import struct
import sys
import time
from pathlib import Path

_SYMBOL = struct.Struct("<IBBHQQ")  # Elf64_Sym: name, info, other, section, value, size
_STT_FUNC = 2


def elf_functions(obj: bytes) -> list[tuple[str, int, int, int]]:
    """(name, section index, offset in its section, size) of each function symbol of a 64-bit
    little-endian ELF object file; [] for anything else."""
    if obj[:4] != b"\x7fELF" or obj[4] != 2 or obj[5] != 1:
        return []
    shoff, shentsize, shnum = struct.unpack_from("<Q", obj, 0x28)[0], *struct.unpack_from("<HH", obj, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", obj, shoff + k * shentsize) for k in range(shnum)]
    out = []
    for _, kind, _, _, off, size, link, _, _, entsize in sections:
        if kind != 2 or not entsize:  # SHT_SYMTAB
            continue
        strings = sections[link][4]
        for k in range(size // entsize):
            name_at, info, _, shndx, value, sym_size = _SYMBOL.unpack_from(obj, off + k * entsize)
            if info & 0xF == _STT_FUNC and 0 < shndx < shnum:
                end = obj.index(b"\0", strings + name_at)
                out.append((obj[strings + name_at : end].decode(), shndx, value, sym_size))
    return out


def _object_code(path: Path) -> bytes | None:
    """The ELF object in a numba cache data file (.nbc), if it holds one."""
    try:
        data = pickle.loads(path.read_bytes())  # numba's own cache file, of this very kernel
    except Exception:
        return None
    stack = [data]
    while stack:
        x = stack.pop()
        if isinstance(x, bytes) and x[:4] == b"\x7fELF":
            return x
        if isinstance(x, (tuple, list)):
            stack.extend(x)
    return None


def readable(symbol: str) -> str:
    """`module.function` of a numba symbol (_ZN8fastscan7kernels4bits10same_bytesB3v41...)."""
    if "_ZN" not in symbol:
        return symbol
    parts, body = [], symbol.split("_ZN", 1)[1]
    while n := re.match(r"\d+", body):  # length-prefixed names, up to the first that is not
        k = int(n.group())
        parts.append(body[n.end() : n.end() + k])
        body = body[n.end() + k :]
    parts = [p for p in parts if p != "_3clocals_3e"]  # "<locals>" of a closure
    name = ".".join(parts[-2:]) if parts else symbol
    if parts[:1] == ["cpython"]:
        return name + " [python wrapper]"
    return name + " [C wrapper]" if symbol.startswith("cfunc.") else name


def kernel_functions() -> list[tuple[int, int, str]]:
    """(address, size, name) of the functions of every numba kernel this process has loaded,
    sorted, none overlapping: each cached kernel's functions from its object code, the others'
    entry points up to the next known address."""
    from numba.core.registry import CPUDispatcher

    mapped: dict[int, tuple[int, str]] = {}
    bare: dict[int, str] = {}
    for disp in [x for x in gc.get_objects() if isinstance(x, CPUDispatcher)]:
        kernel = f"{disp.py_func.__module__.rsplit('.', 1)[-1]}.{disp.py_func.__name__}"
        cache = getattr(disp, "_cache", None)  # numba's FunctionCache, when the kernel is cached
        folder = getattr(cache, "_cache_path", None)
        stem = getattr(getattr(cache, "_impl", None), "_filename_base", None)
        files = sorted(Path(folder).glob(f"{stem}.*.nbc")) if folder and stem else []
        objects = [o for o in map(_object_code, files) if o is not None]  # each file read once
        for cres in list(disp.overloads.values()):  # numba's CompileResult, typed loosely by its stubs
            entry = cres.fndesc.llvm_func_name  # type: ignore[attr-defined]
            try:
                at = cres.library.get_pointer_to_function(entry)  # type: ignore[attr-defined]
            except Exception:
                continue
            if not at:
                continue
            obj = next((o for o in objects if entry.encode() in o), None)
            functions = elf_functions(obj) if obj is not None else []
            home = next(((sec, off) for name, sec, off, _ in functions if name == entry), None)
            if home is None:
                bare[at] = kernel
                continue
            for name, sec, off, size in functions:
                if sec == home[0] and size > 0:
                    mapped[at - home[1] + off] = (size, f"{kernel}:{readable(name)}")
    out: list[tuple[int, int, str]] = []
    for at in sorted(set(mapped) | set(bare)):
        size, name = mapped[at] if at in mapped else (1 << 16, bare[at])
        if out and out[-1][0] + out[-1][1] > at:  # cut the one before at this one
            prev = out.pop()
            out.append((prev[0], at - prev[0], prev[2]))
        out.append((at, size, name))
    return [f for f in out if f[1] > 0]


def write_map(path: Path) -> int:
    """Write perf's map of the loaded kernels to `path`; how many functions it names."""
    functions = kernel_functions()
    path.write_text("".join(f"{at:x} {size:x} {name}\n" for at, size, name in functions))
    return len(functions)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Scan a log under perf, the numba kernels named.")
    ap.add_argument("log", type=Path)
    ap.add_argument("--scans", type=int, default=3, help="timed scans after the map is written")
    ap.add_argument("--map", type=Path, default=None, help="where the map goes (perf reads /tmp/perf-PID.map)")
    args = ap.parse_args(argv)
    from fastscan.kernels.cache import enable_disk_cache

    enable_disk_cache()
    import fastscan

    fastscan.scan([args.log])
    path = args.map or Path(f"/tmp/perf-{os.getpid()}.map")
    print(f"perf map: {path} ({write_map(path)} functions)", file=sys.stderr)
    for _ in range(args.scans):
        t = time.perf_counter()
        fastscan.scan([args.log])
        print(f"scan {time.perf_counter() - t:.3f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
