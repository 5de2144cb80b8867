from actsparse.provenance import library_digest, module_closure


def make_package(tmp_path):
    pkg = tmp_path / "actsparse"
    (pkg / "csrc").mkdir(parents=True)
    (pkg / "a.py").write_text("from actsparse.b import f\n")
    (pkg / "b.py").write_text("import os\nf = 1\n")
    (pkg / "c.py").write_text("from actsparse import kernels\n")
    (pkg / "kernels.py").write_text("x = 2\n")
    (pkg / "csrc" / "k.cpp").write_text("// kernel\n")
    (pkg / "unused.py").write_text("y = 3\n")
    script = tmp_path / "script.py"
    script.write_text("import sys\nfrom actsparse.a import g\n")
    return pkg, script


def test_closure_follows_imports_transitively_and_nothing_else(tmp_path):
    pkg, script = make_package(tmp_path)
    assert [p.name for p in module_closure(script, pkg)] == ["a.py", "b.py"]


def test_reaching_the_kernels_includes_the_cpp_sources(tmp_path):
    pkg, script = make_package(tmp_path)
    script.write_text("from actsparse.c import z\n")
    assert [p.name for p in module_closure(script, pkg)] == ["c.py", "kernels.py", "k.cpp"]


def test_digest_changes_with_used_code_only(tmp_path):
    pkg, script = make_package(tmp_path)
    before = library_digest(script, pkg)
    (pkg / "unused.py").write_text("y = 4\n")
    assert library_digest(script, pkg) == before
    (pkg / "b.py").write_text("import os\nf = 2\n")
    assert library_digest(script, pkg) != before
