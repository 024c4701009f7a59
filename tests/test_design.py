"""The design document: capacity arithmetic, A/B sample sizes, the Mermaid diagram and DESIGN.md."""

from __future__ import annotations

import ast
import json
import math
import re
import sys
from pathlib import Path

import pytest

from mlsd import design, engine
from mlsd.spec import spec

SOURCE = Path(design.__file__).read_text(encoding="utf-8")
PRESETS = json.loads((Path(design.__file__).parent / "presets.json").read_text(encoding="utf-8"))["presets"]
SECTIONS = [
    "## 1. Requirements and assumptions",
    "## 2. ML framing",
    "## 3. Success metrics",
    "## 4. Data and labels",
    "## 5. Features",
    "## 6. Model",
    "## 7. Serving architecture",
    "## 8. Capacity estimates",
    "## 9. Experiment plan",
    "## 10. Monitoring, retraining and rollback",
    "## 11. Pitfalls and mitigations",
    "## 12. Decisions and alternatives",
]
NODE = re.compile(r"^    ([A-Za-z0-9]+)(\[\(|\(\[|\[)\"([^\"]*)\"(\)\]|\]\)|\])$")
EDGE = re.compile(r"^    ([A-Za-z0-9]+) (-->|-\.->)\|\"([^\"]*)\"\| ([A-Za-z0-9]+)$")


def answers_for(**explicit) -> dict:
    answers, _ = engine.resolve({"project_name": "X", **explicit}, spec())
    return answers


def preset_answers(preset_id: str) -> dict:
    answers, _ = engine.resolve({"use_case": preset_id}, spec())
    return answers


def render(answers: dict, facts: dict | None = None, **kwargs) -> str:
    return design.design_markdown(answers, facts, spec()["components"], engine.holds, **kwargs)


def diagram(answers: dict) -> tuple[dict, list]:
    """Return (node id -> label, edges) parsed from the Mermaid block, checking every line's syntax."""
    text = design.mermaid(answers, spec()["components"], engine.holds)
    lines = text.split("\n")
    assert lines[:2] == ["```mermaid", "flowchart LR"]
    assert lines[-1] == "```"
    nodes, edges = {}, []
    for line in lines[2:-1]:
        node, edge = NODE.match(line), EDGE.match(line)
        assert node or edge, line
        if node:
            assert node.group(1) not in nodes
            nodes[node.group(1)] = node.group(3)
        else:
            edges.append((edge.group(1), edge.group(4)))
    for source, target in edges:
        assert source in nodes and target in nodes
    for label in list(nodes.values()):
        assert not set(label) & set('"|<>[]#;`') and "{" not in label and "}" not in label
    return nodes, edges


# ---------------------------------------------------------------------------- capacity


def test_news_feed_average_and_peak_qps():
    answers = answers_for(daily_active_users=2_000_000_000, requests_per_user_per_day=2)
    cap = design.capacity(answers)
    assert cap["avg_qps"] == pytest.approx(46_296.3, abs=0.1)
    assert cap["human"]["avg_qps"] == "46,296 QPS"
    assert cap["peak_qps"] == 138_889 == answers["peak_qps"]
    assert cap["concurrency"] == pytest.approx(138_889 * 0.1)
    assert cap["replicas"] == math.ceil(138_889 / (4000 * 0.6)) + 1 == 59
    assert cap["units"]["avg_qps"] == "requests/s"


@pytest.mark.parametrize(
    "peak,per_replica,utilization,expected",
    [
        (140_000, 640, 0.6, math.ceil(140_000 / 384) + 1),
        (1200, 2000, 0.6, 2),
        (1201, 2000, 0.6, 3),
        (0, 2000, 0.6, 1),
        (3, 2000, 0.6, 2),
    ],
)
def test_replicas_are_ceil_of_peak_over_effective_capacity_plus_one(peak, per_replica, utilization, expected):
    answers = answers_for(peak_qps=peak)
    assert design.capacity(answers, per_replica_qps=per_replica, utilization=utilization)["replicas"] == expected


def test_batch_mode_has_no_replicas_and_reports_scoring_throughput():
    answers = answers_for(prediction_mode="batch", daily_active_users=300_000, num_items=60_000)
    cap = design.capacity(answers)
    assert cap["replicas"] == 0
    assert cap["peak_qps"] == 0
    assert cap["avg_qps"] == 0
    assert cap["batch_rows_per_day"] == 360_000
    assert cap["batch_rows_per_second"] == pytest.approx(360_000 / (4 * 3600))
    assert design.capacity(answers, batch_window_hours=1)["batch_rows_per_second"] == pytest.approx(100)


def test_embedding_memory_ten_billion_videos_128_dims_is_5_12_tb():
    answers = answers_for(ml_task="retrieval", num_items=10_000_000_000)
    assert answers["vector_index"] == "faiss"
    cap = design.capacity(answers, embedding_dim=128)
    assert cap["embedding_bytes"] == 10_000_000_000 * 128 * 4 == 5_120_000_000_000
    assert cap["human"]["embeddings"] == "5.12 TB"
    assert cap["hnsw_bytes"] == 0
    assert design.capacity(answers)["embedding_bytes"] == 10_000_000_000 * 64 * 4


def test_hnsw_memory_one_million_768_dims_m32_is_about_3_3_gb():
    answers = answers_for(ml_task="retrieval", vector_index="hnswlib", num_items=1_000_000)
    cap = design.capacity(answers, embedding_dim=768, hnsw_m=32)
    assert cap["hnsw_bytes"] == 1_000_000 * (768 * 4 + 32 * 2 * 4) == 3_328_000_000
    assert cap["human"]["hnsw"] == "3.33 GB"
    assert design.capacity(answers)["hnsw_bytes"] == 1_000_000 * (64 * 4 + 16 * 2 * 4)


def test_no_vector_index_means_no_embedding_memory():
    cap = design.capacity(answers_for(num_items=10**9))
    assert cap["embedding_bytes"] == 0 and cap["hnsw_bytes"] == 0


def test_feature_store_and_training_log_sizes():
    answers = answers_for(daily_active_users=1_000_000, num_items=50_000, events_per_day=2_000_000)
    cap = design.capacity(answers)
    assert cap["feature_store_bytes"] == (1_000_000 * 20 + 50_000 * 20) * 8
    assert cap["training_log_bytes_per_day"] == 2_000_000 * 500
    assert cap["human"]["training_log_per_day"] == "1 GB/day"
    facts = {"features": {"user": [{}] * 3, "item": [{}] * 5, "context": [{}], "interaction": []}}
    assert design.capacity(answers, facts)["feature_store_bytes"] == (1_000_000 * 3 + 50_000 * 5) * 8


def test_capacity_accepts_string_numbers_from_a_cookiecutter_context():
    answers = {k: str(v) for k, v in answers_for(daily_active_users=2_000_000_000, requests_per_user_per_day=2).items()}
    answers["prediction_mode"] = "online"
    assert design.capacity(answers)["human"]["avg_qps"] == "46,296 QPS"


@pytest.mark.parametrize(
    "size,text",
    [(0, "0 B"), (999, "999 B"), (1000, "1 KB"), (640_000_000, "640 MB"), (999_999, "1 MB"), (1.2e12, "1.2 TB")],
)
def test_human_bytes(size, text):
    assert design.human_bytes(size) == text


# ---------------------------------------------------------------------------- sample size


def test_normal_quantile_matches_known_values():
    assert design.normal_quantile(0.975) == pytest.approx(1.959964, abs=1e-6)
    assert design.normal_quantile(0.8) == pytest.approx(0.841621, abs=1e-6)
    assert design.normal_quantile(0.5) == pytest.approx(0, abs=1e-12)
    assert design.normal_quantile(1e-6) == pytest.approx(-4.753424, abs=1e-5)
    assert design.normal_quantile(0.01) == pytest.approx(-design.normal_quantile(0.99), abs=1e-9)
    with pytest.raises(ValueError):
        design.normal_quantile(1)


def test_sample_size_worked_example_two_percent_baseline_five_percent_mde():
    n = design.sample_size_per_arm(0.02, 0.05)
    assert abs(n - 315_000) / 315_000 < 0.01
    assert abs(n - 16 * 0.0196 / 1e-6) / n < 0.01
    z = 1.959964 + 0.841621
    exact = z * z * (0.02 * 0.98 + 0.021 * 0.979) / 0.001**2
    assert n == math.ceil(exact) or abs(n - exact) < 2


def test_sample_size_scales_with_mde_alpha_and_power():
    base = design.sample_size_per_arm(0.02, 0.05)
    assert 3.5 < design.sample_size_per_arm(0.02, 0.025) / base < 4.5
    assert design.sample_size_per_arm(0.02, 0.05, alpha=0.01) > base
    assert design.sample_size_per_arm(0.02, 0.05, power=0.9) > base
    with pytest.raises(ValueError):
        design.sample_size_per_arm(0.02, 0)
    with pytest.raises(ValueError):
        design.sample_size_per_arm(0.6, 1.0)


def test_experiment_duration_rounds_up_to_whole_weeks():
    assert design.experiment_days(315_204, 100_000) == (7, 7)
    assert design.experiment_days(315_204, 50_000) == (13, 14)
    assert design.experiment_days(10, 10**9) == (1, 7)
    assert design.experiment_days(10, 0) == (0, 0)


# ---------------------------------------------------------------------------- mermaid


def test_default_diagram_is_embedded_and_rest():
    nodes, edges = diagram(answers_for())
    assert set(nodes) == {"ingest", "features", "train", "registry", "serving", "monitor", "experiment"}
    assert nodes["ingest"] == "Batch ingestion (DuckDB)"
    assert "built-in" in nodes["features"]
    assert "local" in nodes["registry"]
    assert nodes["serving"] == "Prediction service (REST)"
    assert nodes["experiment"] == "Experiments (A/B test)"
    assert ("registry", "serving") in edges


def test_full_diagram_names_every_engine():
    answers = answers_for(
        feature_freshness="seconds",
        events_per_day=500_000_000,
        daily_active_users=60_000_000,
        ml_task="retrieval",
        vector_index="hnswlib",
        serving="rest+grpc",
        batch_scoring=True,
        experiment="shadow",
        orchestrator="airflow",
        registry="mlflow",
        trainer="pytorch",
    )
    nodes, edges = diagram(answers)
    assert nodes["stream"] == "Event stream (Kafka)"
    assert nodes["ingest"] == "Batch ingestion (Spark)"
    assert nodes["features"] == "Feature store (Feast)"
    assert nodes["train"] == "Training (PyTorch)"
    assert nodes["registry"] == "Model registry (MLflow)"
    assert nodes["ann"] == "ANN index (hnswlib)"
    assert nodes["serving"].startswith("Prediction service (REST + gRPC)")
    assert nodes["batchscore"] == "Batch scoring to Parquet"
    assert nodes["experiment"] == "Experiments (shadow)"
    assert nodes["orchestrator"] == "Orchestrator (Airflow)"
    assert ("stream", "features") in edges and ("ann", "serving") in edges and ("orchestrator", "train") in edges


@pytest.mark.parametrize("engine_name,label", [("embedded", "embedded log"), ("kafka", "Kafka"), ("flink", "Flink")])
def test_stream_node_is_labelled_with_the_engine(engine_name, label):
    nodes, _ = diagram(answers_for(feature_freshness="minutes", stream_engine=engine_name))
    assert nodes["stream"] == f"Event stream ({label})"


def test_batch_diagram_has_no_online_nodes():
    nodes, _ = diagram(answers_for(prediction_mode="batch", monitoring=False, orchestrator="kubeflow"))
    assert "serving" not in nodes and "experiment" not in nodes and "monitor" not in nodes and "stream" not in nodes
    assert nodes["batchscore"] == "Batch scoring to Parquet"
    assert nodes["orchestrator"] == "Orchestrator (Kubeflow)"


@pytest.mark.parametrize(
    "explicit",
    [{}, {"prediction_mode": "batch"}, {"serving": "grpc", "deploy": "kubernetes", "orchestrator": "prefect"}]
    + [{"use_case": p["id"]} for p in PRESETS],
)
def test_diagram_nodes_follow_the_selected_components(explicit):
    answers = preset_answers(explicit["use_case"]) if "use_case" in explicit else answers_for(**explicit)
    selected = {c["id"] for c in spec()["components"] if engine.holds(c.get("when", {}), answers)}
    nodes, _ = diagram(answers)
    text = " ".join(nodes.values())
    assert ("stream" in nodes) == ("stream_ingestion" in selected)
    assert ("Feast" in text) == ("feast" in selected)
    assert ("MLflow" in text) == ("mlflow_registry" in selected)
    assert ("ann" in nodes) == ("vector_index" in selected)
    assert ("serving" in nodes) == ("online_serving" in selected)
    assert ("REST" in text) == ("rest" in selected)
    assert ("gRPC" in text) == ("grpc" in selected)
    assert ("Kubernetes" in text) == ("kubernetes" in selected and "online_serving" in selected)
    assert ("batchscore" in nodes) == ("batch_scoring" in selected)
    assert ("monitor" in nodes) == ("monitoring" in selected)
    assert ("experiment" in nodes) == ("experiments" in selected)
    assert ("orchestrator" in nodes) == bool({"airflow", "kubeflow", "prefect"} & selected)


def test_diagram_draws_only_selected_components_when_given_a_subset():
    components = [c for c in spec()["components"] if c["id"] in ("core", "training")]
    text = design.mermaid(answers_for(), components, engine.holds)
    assert "features" in text and "train" in text and "registry" in text
    assert "serving" not in text and "ingest" not in text and "monitor" not in text


# ---------------------------------------------------------------------------- DESIGN.md


def assert_sections_in_order(text: str) -> None:
    positions = [text.find("\n" + heading + "\n") for heading in SECTIONS]
    assert all(p >= 0 for p in positions), [h for h, p in zip(SECTIONS, positions, strict=True) if p < 0]
    assert positions == sorted(positions)
    assert re.findall(r"^## .*$", text, flags=re.M) == SECTIONS


@pytest.mark.parametrize("preset", PRESETS, ids=[p["id"] for p in PRESETS])
def test_design_for_every_preset(preset):
    answers = preset_answers(preset["id"])
    facts = preset["facts"]
    text = render(answers, facts)
    assert_sections_in_order(text)
    assert text.startswith(f"# {answers['project_name']}: design document\n")
    for marker in ("{{", "{%", "{#"):
        assert marker not in text
    for group, features in facts["features"].items():
        for feature in features:
            assert re.search(rf"^\| {group} \| `{re.escape(feature['name'])}` \| ", text, flags=re.M), feature["name"]
    for pitfall in facts["pitfalls"]:
        assert f"`{pitfall['tag']}`" in text
    for metric in facts["offline_metrics"] + facts["online_metrics"] + facts["guardrail_metrics"]:
        assert metric in text
    assert design.mermaid(answers, spec()["components"], engine.holds) in text
    assert render(answers, facts) == text
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert not any(line != line.rstrip() for line in text.split("\n"))


def test_design_for_custom_uses_generic_content():
    answers = answers_for(ml_task="regression", label="eta_seconds", user_entity="rider", item_entity="trip")
    text = render(answers, None)
    assert_sections_in_order(text)
    assert "MAE" in text and "RMSE" in text
    assert "| user | `rider_id` |" in text and "| item | `trip_id` |" in text
    assert "| context | `hour_of_day` |" in text and "| interaction | `rider_trip_interactions_30d` |" in text
    assert "`training_serving_skew`" in text and "`concept_drift`" in text
    assert "{{" not in text and "{%" not in text


@pytest.mark.parametrize("task", ["binary_classification", "multiclass", "multilabel", "ranking", "retrieval"])
def test_design_for_custom_every_task(task):
    text = render(answers_for(ml_task=task), None)
    assert_sections_in_order(text)


def test_pii_flags_user_features_of_custom_designs():
    text = render(answers_for(contains_pii=True), None)
    assert "| user | `user_id` | category | static | yes |" in text
    assert "| item | `item_id` | category | static | no |" in text
    assert "| user | `user_id` | category | static | no |" in render(answers_for(), None)


def test_pii_defaults_for_fact_features_without_a_flag():
    facts = json.loads(json.dumps(PRESETS[0]["facts"]))
    facts["features"]["user"] = [{"name": "home_city", "dtype": "category", "freshness": "daily", "description": "x"}]
    assert "| user | `home_city` | category | daily | yes |" in render(answers_for(contains_pii=True), facts)
    assert "| user | `home_city` | category | daily | no |" in render(answers_for(contains_pii=False), facts)


def test_free_text_stays_literal_and_pipes_are_escaped():
    answers = answers_for(
        project_name="Odd | Name {{ 7*7 }}",
        description="Uses {% if x %} and {{ 7*7 }} literally",
        business_objective="Grow A | B by {{ 7*7 }}",
    )
    text = render(answers, None)
    assert text.startswith("# Odd | Name {{ 7*7 }}: design document\n")
    assert "Uses {% if x %} and {{ 7*7 }} literally" in text
    assert "| Business objective | Grow A \\| B by {{ 7*7 }} | answer |" in text
    assert "**Business objective:** Grow A | B by {{ 7*7 }}" in text
    assert "49" not in text.replace("4,9", "")


def test_assumptions_and_inferred_answers_are_listed():
    answers = answers_for(daily_active_users=2_000_000)
    text = render(
        answers,
        None,
        assumptions=["Only logged-in users | no guests."],
        inferred={"daily_active_users": "'2M daily users' in the prompt", "ml_task": "the word 'click'"},
    )
    assert "- Only logged-in users | no guests." in text
    assert "| Daily active users | 2,000,000 | inferred from: '2M daily users' in the prompt |" in text
    assert "- `ml_task` = binary_classification: inferred from: the word 'click'" in text


def test_capacity_section_shows_formulas_and_results():
    answers = answers_for(daily_active_users=2_000_000_000, requests_per_user_per_day=2)
    text = render(answers, None)
    assert (
        "| Average QPS | DAU x requests per user per day / 86,400 | 2,000,000,000 x 2 / 86,400 | 46,296 QPS |" in text
    )
    assert "| 59 replicas |" in text
    batch = render(answers_for(prediction_mode="batch"), None)
    assert "Batch scoring throughput" in batch and "Serving replicas" not in batch and "Average QPS" not in batch


def test_experiment_section_uses_the_sample_size_and_whole_weeks():
    text = render(answers_for(daily_active_users=100_000), None)
    assert "**A/B test.**" in text
    assert f"{design.sample_size_per_arm(0.02, 0.05):,} users per arm" in text
    assert "rounded up to whole weeks: **7 days**" in text
    assert "Sample ratio mismatch" in text
    assert "**Shadow deployment.**" in render(answers_for(experiment="shadow"), None)
    assert "**No online experiment is configured.**" in render(answers_for(prediction_mode="batch"), None)


def test_monitoring_section_has_psi_thresholds_cadence_and_alias_rollback():
    text = render(answers_for(retraining_cadence="daily", registry="mlflow"), None)
    section = text.split("## 10.")[1].split("## 11.")[0]
    assert "0.1" in section and "0.25" in section and "PSI" in section
    assert "Cadence: daily" in section
    assert "`champion` alias" in section and "MLflow" in section


def test_decisions_cover_every_major_choice():
    answers = answers_for()
    section = render(answers, None).split("## 12. Decisions and alternatives")[1]
    for title in design.DECISION_TITLES.values():
        assert re.search(rf"^\| {title} \| ", section, flags=re.M), title
    assert "| Batch engine | DuckDB (embedded) (`duckdb`) | Apache Spark |" in section


# ---------------------------------------------------------------------------- embeddability


def test_source_has_no_jinja_delimiters():
    for marker in ("{%", "{{", "{#", "endraw"):
        assert marker not in SOURCE


def test_source_imports_only_the_standard_library():
    tree = ast.parse(SOURCE)
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0
            imported.add((node.module or "").split(".")[0])
    assert imported
    assert "mlsd" not in imported
    assert imported <= set(sys.stdlib_module_names)
    assert "__future__" not in imported


def top_level_names(source: str) -> set[str]:
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def test_module_can_be_appended_to_the_engine_in_one_hook():
    engine_source = Path(engine.__file__).read_text(encoding="utf-8")
    assert not top_level_names(engine_source) & top_level_names(SOURCE)
    namespace: dict = {"__name__": "hook"}
    exec(compile(engine_source + "\n" + SOURCE, "hook.py", "exec"), namespace)
    preset = PRESETS[0]
    answers = preset_answers(preset["id"])
    embedded = namespace["design_markdown"](answers, preset["facts"], spec()["components"], namespace["holds"])
    assert embedded == render(answers, preset["facts"])
