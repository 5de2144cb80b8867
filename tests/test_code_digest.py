"""The per-rule code digest: every import form reaches its module, transitively, through
subpackages; an unresolvable actsparse import is an error, never a silent skip."""

import pytest

from actsparse.core.code_digest import UnresolvedImport, library_digest, module_closure


def make_package(tmp_path):
    """actsparse/{__init__, core/{__init__, a, b}, inference/{__init__, kernels, csrc/k.cpp},
    metrics/{__init__, m}, unused}."""
    pkg = tmp_path / "actsparse"
    for sub in ("core", "inference/csrc", "metrics"):
        (pkg / sub).mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "core" / "__init__.py").write_text("")
    (pkg / "core" / "a.py").write_text("from .b import f\n")  # relative
    (pkg / "core" / "b.py").write_text("import os\nimport actsparse.metrics.m as mm\nf = 1\n")
    (pkg / "metrics" / "__init__.py").write_text("")
    (pkg / "metrics" / "m.py").write_text("g = 2\n")
    (pkg / "inference" / "__init__.py").write_text("")
    (pkg / "inference" / "kernels.py").write_text('CSRC = "csrc"\nfrom ..core import a\n')
    (pkg / "inference" / "csrc" / "k.cpp").write_text("// kernel\n")
    (pkg / "unused.py").write_text("y = 3\n")
    script = tmp_path / "script.py"
    script.write_text("import sys\nfrom actsparse.core.a import g\n")
    return pkg, script


def names(files, pkg):
    return [f.relative_to(pkg.resolve()).as_posix() for f in files]


def test_closure_follows_relative_and_aliased_imports_through_subpackages(tmp_path):
    pkg, script = make_package(tmp_path)
    assert names(module_closure(script, pkg), pkg) == [
        "__init__.py",
        "core/__init__.py",
        "core/a.py",
        "core/b.py",
        "metrics/__init__.py",
        "metrics/m.py",
    ]


def test_from_package_import_module_reaches_the_module_and_its_cpp_sources(tmp_path):
    pkg, script = make_package(tmp_path)
    script.write_text("from actsparse.inference import kernels as K\n")
    found = names(module_closure(script, pkg), pkg)
    assert {"inference/kernels.py", "core/a.py", "metrics/m.py"} <= set(found)
    assert found[-1] == "inference/csrc/k.cpp"


def test_an_unresolvable_actsparse_import_is_an_error_naming_it(tmp_path):
    pkg, script = make_package(tmp_path)
    script.write_text("from actsparse.core.gone import x\n")
    with pytest.raises(UnresolvedImport, match="actsparse.core.gone"):
        module_closure(script, pkg)


def test_digest_changes_with_used_code_only_two_levels_down(tmp_path):
    pkg, script = make_package(tmp_path)
    before = library_digest(script, pkg)
    (pkg / "unused.py").write_text("y = 4\n")
    assert library_digest(script, pkg) == before
    (pkg / "metrics" / "m.py").write_text("g = 3\n")  # script -> core.a -> core.b -> metrics.m
    assert library_digest(script, pkg) != before


def test_every_library_module_imports_without_snakemake():
    """The library is science only: importing all of it pulls in no workflow engine."""
    import subprocess
    import sys

    code = (
        "import pkgutil, sys, actsparse\n"
        "for m in pkgutil.walk_packages(actsparse.__path__, 'actsparse.'):\n"
        "    __import__(m.name)\n"
        "print(sum(1 for _ in pkgutil.walk_packages(actsparse.__path__, 'actsparse.')))\n"
        "assert 'snakemake' not in sys.modules, 'snakemake was imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) >= 30  # every module was walked
