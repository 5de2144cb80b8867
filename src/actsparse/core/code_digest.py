"""Which library code a rule's script runs, as a digest, so that editing a module reruns
exactly the stages that import it (Snakemake tracks a rule's script and params, not the
modules the script imports).

Every way we import is followed, transitively: `from actsparse.a.b import f`, `from
actsparse.a import b`, `import actsparse.a.b as c`, relative imports inside the package,
and the `__init__` of every package on the way. A module that names a `csrc` folder
beside it (the kernels) reaches that folder's C++ sources too. An `actsparse` import that
resolves to no file is an error, not a silent skip: a digest that misses a module would
quietly stop its edits from rerunning anything.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

PACKAGE = "actsparse"
NATIVE_DIR = "csrc"


class UnresolvedImport(ImportError):
    """An actsparse import names no module or package of the library."""


def _module_file(dotted: str, package_dir: Path) -> Path | None:
    """`actsparse.a.b` -> package_dir/a/b.py, or a/b/__init__.py for a package."""
    parts = dotted.split(".")[1:]
    base = package_dir.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if parts and candidate.is_file():
            return candidate
    if not parts and (package_dir / "__init__.py").is_file():
        return package_dir / "__init__.py"
    return None


def _dotted_name(path: Path, package_dir: Path) -> str:
    rel = path.relative_to(package_dir).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join([PACKAGE, *parts])


def imported_modules(path: Path, package_dir: Path) -> set[str]:
    """Dotted names of the actsparse modules a file imports (directly), each resolved."""
    stat = path.stat()  # a file is parsed once per version (the workflow asks ~30 times)
    return set(_imports(path.resolve(), package_dir, stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=4096)
def _imports(path: Path, package_dir: Path, mtime_ns: int, size: int) -> frozenset[str]:
    inside = package_dir in path.resolve().parents
    here = _dotted_name(path.resolve(), package_dir) if inside else None
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from .x import y, from .. import z
                if here is None:
                    raise UnresolvedImport(f"{path}: a relative import outside the package")
                anchor = here.split(".")
                anchor = anchor if is_pkg else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                module = ".".join(anchor + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] != PACKAGE:
                continue
            found.add(module)
            for a in node.names:  # `from actsparse.a import b`: b may be a module
                if _module_file(f"{module}.{a.name}", package_dir):
                    found.add(f"{module}.{a.name}")
    return frozenset(found)


def _with_parents(dotted: str) -> list[str]:
    """A module and every package above it: importing a.b.c runs a/__init__, a/b/__init__."""
    parts = dotted.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def module_closure(script: Path, package_dir: Path) -> list[Path]:
    """Every library file the script depends on: imported modules and their packages,
    transitively, plus the C++ sources of any module that builds them."""
    package_dir = package_dir.resolve()
    seen: dict[str, Path] = {}
    todo = set(imported_modules(script, package_dir))
    while todo:
        name = todo.pop()
        for dotted in _with_parents(name):
            if dotted in seen:
                continue
            path = _module_file(dotted, package_dir)
            if path is None:
                if dotted == PACKAGE:  # a namespace package: nothing runs on import
                    continue
                raise UnresolvedImport(
                    f"{script} reaches `{dotted}`, which is no module of {package_dir}: "
                    f"fix the import (the code digest would otherwise miss its edits)"
                )
            seen[dotted] = path
            todo |= imported_modules(path, package_dir) - set(seen)
    files = sorted(set(seen.values()))
    for f in list(files):
        native = f.parent / NATIVE_DIR
        if native.is_dir() and f'"{NATIVE_DIR}"' in f.read_text():
            files += sorted(p for p in native.iterdir() if p.is_file())
    return files


def library_digest(script: str | Path, package_dir: str | Path) -> str:
    """A short digest of the library code a rule script runs."""
    package_dir = Path(package_dir).resolve()
    h = hashlib.sha256()
    for f in module_closure(Path(script), package_dir):
        h.update(f.relative_to(package_dir).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]
