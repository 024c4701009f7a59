"""Precompiled template code renders exactly what Jinja renders, and a stale entry is ignored."""

from __future__ import annotations

from conftest import ROOT, resolve, tree

from mlsd import precompile, render


def _generate(tmp_path, spec, name, monkeypatch, bundle):
    monkeypatch.setattr(render, "_precompiled", lambda: bundle)
    answers = resolve(spec, serving="rest+grpc", feature_store="feast", orchestrator="airflow")
    return render.generate(answers, spec, tmp_path / name)


def test_precompiled_bundles_render_the_same_project(tmp_path, spec, monkeypatch):
    written = precompile.write_bundles(ROOT, tmp_path / "bundles")
    assert sorted(p.name for p in written) == sorted([precompile.SOURCE_BUNDLE, precompile.code_bundle_name()])
    bundle = precompile.load(tmp_path / "bundles")
    assert len(bundle) >= 30
    fast = _generate(tmp_path, spec, "fast", monkeypatch, bundle)
    plain = _generate(tmp_path, spec, "plain", monkeypatch, {})
    assert tree(fast) == tree(plain)


def test_portable_source_bundle_is_used_when_the_code_bundle_is_for_another_python(tmp_path):
    precompile.write_bundles(ROOT, tmp_path)
    (tmp_path / precompile.code_bundle_name()).unlink()
    assert len(precompile.load(tmp_path)) >= 30


def test_an_entry_whose_template_changed_is_ignored(tmp_path, spec, monkeypatch):
    real = precompile.compile_tree(ROOT, render.jinja_environment())
    wrong = compile(render.jinja_environment().compile("WRONG", raw=True), "x", "exec")
    stale = {name: ("0" * 64, wrong) for name in real}
    stale_project = _generate(tmp_path, spec, "stale", monkeypatch, stale)
    plain = _generate(tmp_path, spec, "plain", monkeypatch, {})
    assert tree(stale_project) == tree(plain)
    assert b"WRONG" not in b"".join(tree(stale_project).values())
