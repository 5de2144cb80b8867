"""Which library code a rule's script runs, as a digest, so that editing a module reruns
exactly the stages that import it (Snakemake tracks a rule's script and params, not the
modules the script imports).
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

PACKAGE = "actsparse"


def imported_modules(path: Path) -> set[str]:
    """actsparse modules imported by a Python file (absolute imports only, as we write them)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == PACKAGE:  # from actsparse import kernels
                found.update(a.name for a in node.names)
            elif node.module.startswith(PACKAGE + "."):  # from actsparse.model import ...
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(
                a.name.split(".")[1] for a in node.names if a.name.startswith(PACKAGE + ".")
            )
    return found


def module_closure(script: Path, package_dir: Path) -> list[Path]:
    """Every library file the script depends on: imported modules, transitively, plus the
    C++ sources when the kernels are reached."""
    seen: set[str] = set()
    todo = imported_modules(script)
    while todo:
        name = todo.pop()
        path = package_dir / f"{name}.py"
        if name in seen or not path.is_file():
            continue
        seen.add(name)
        todo |= imported_modules(path)
    files = [package_dir / f"{n}.py" for n in sorted(seen)]
    if "kernels" in seen:
        files += sorted((package_dir / "csrc").iterdir())
    return files


def library_digest(script: str | Path, package_dir: str | Path) -> str:
    """A short digest of the library code a rule script runs."""
    package_dir = Path(package_dir)
    h = hashlib.sha256()
    for f in module_closure(Path(script), package_dir):
        h.update(f.relative_to(package_dir).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]
