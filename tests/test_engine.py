"""The rule engine: conditions, derivations with reasons, forced values, cross-field rules."""

from __future__ import annotations

import pytest
from conftest import resolve

from mlsd import engine


@pytest.mark.parametrize(
    "condition,answers,expected",
    [
        ({"a": 1}, {"a": 1}, True),
        ({"a": 1}, {"a": 2}, False),
        ({"a": [1, 2]}, {"a": 2}, True),
        ({"a": {"not": "none"}}, {"a": "none"}, False),
        ({"a": {"not": ["x", "y"]}}, {"a": "z"}, True),
        ({"a": {"gte": 10}}, {"a": "10"}, True),
        ({"a": {"gte": 10}}, {"a": 9}, False),
        ({"a": {"lt": 10}}, {"a": 9}, True),
        ({"a": {"gte": 1}}, {"a": True}, False),
        ({"any": [{"a": 1}, {"b": 2}]}, {"a": 0, "b": 2}, True),
        ({"any": [{"a": 1}, {"b": 2}]}, {"a": 0, "b": 0}, False),
        ({}, {}, True),
    ],
)
def test_holds(condition, answers, expected):
    assert engine.holds(condition, answers) is expected


def test_defaults_are_all_embedded(spec):
    answers = resolve(spec)
    assert answers["batch_engine"] == "duckdb"
    assert answers["stream_engine"] == "none"
    assert answers["feature_store"] == "none"
    assert answers["registry"] == "local"
    assert answers["serving"] == "rest"


def test_batch_prediction_turns_off_online_serving_and_experiments(spec):
    answers, reasons = engine.resolve({"project_name": "x", "prediction_mode": "batch"}, spec)
    assert answers["serving"] == "none"
    assert answers["batch_scoring"] is True
    assert answers["experiment"] == "none"
    assert "online" in reasons["serving"]


def test_second_fresh_features_derive_an_embedded_stream_at_low_volume(spec):
    answers, reasons = engine.resolve({"project_name": "x", "feature_freshness": "seconds"}, spec)
    assert answers["stream_engine"] == "embedded"
    assert answers["feature_store"] == "feast"
    assert answers["retraining_cadence"] == "hourly"
    assert "stream" in reasons["stream_engine"]


def test_high_event_volume_derives_kafka(spec):
    answers = resolve(spec, feature_freshness="minutes", events_per_day="200M".replace("M", "000000"))
    assert answers["stream_engine"] == "kafka"


def test_daily_features_skip_the_stream_question_and_refuse_a_stream_engine(spec):
    with pytest.raises(engine.AnswerError, match="stream_engine=kafka does not apply"):
        resolve(spec, feature_freshness="daily", stream_engine="kafka")


def test_large_scale_derives_spark_and_kubernetes(spec):
    answers, reasons = engine.resolve(
        {"project_name": "x", "daily_active_users": "300000000", "requests_per_user_per_day": "5"}, spec
    )
    assert answers["batch_engine"] == "spark"
    assert answers["peak_qps"] == 52_084
    assert answers["deploy"] == "kubernetes"
    assert "peak" in reasons["deploy"]


def test_retrieval_derives_a_vector_index_and_refuses_none(spec):
    assert resolve(spec, ml_task="retrieval")["vector_index"] == "faiss"
    with pytest.raises(engine.AnswerError, match="needs a vector index"):
        resolve(spec, ml_task="retrieval", vector_index="none")


def test_vector_index_without_embeddings_is_refused(spec):
    with pytest.raises(engine.AnswerError, match="vector_index=faiss does not apply"):
        resolve(spec, ml_task="regression", vector_index="faiss")


def test_experiment_without_online_serving_is_refused(spec):
    with pytest.raises(engine.AnswerError, match="experiment=ab does not apply"):
        resolve(spec, prediction_mode="hybrid", serving="none", experiment="ab")


def test_online_prediction_needs_serving(spec):
    with pytest.raises(engine.AnswerError, match="prediction_mode=online needs serving"):
        resolve(spec, serving="none")


def test_kubeflow_derives_kubernetes_and_refuses_compose(spec):
    assert resolve(spec, orchestrator="kubeflow")["deploy"] == "kubernetes"
    with pytest.raises(engine.AnswerError, match="kubeflow runs on Kubernetes"):
        resolve(spec, orchestrator="kubeflow", deploy="compose")


def test_explicit_values_override_derivations(spec):
    answers = resolve(spec, feature_freshness="seconds", feature_store="none", stream_engine="flink")
    assert answers["feature_store"] == "none"
    assert answers["stream_engine"] == "flink"


def test_preset_values_come_between_explicit_values_and_derivations(spec):
    from mlsd.spec import presets

    preset = presets()[0]
    answers, reasons = engine.resolve({"use_case": preset["id"]}, spec)
    assert answers["project_name"] == preset["answers"]["project_name"]
    assert reasons["project_name"] == "from the preset"
    override, _ = engine.resolve({"use_case": preset["id"], "project_name": "Mine"}, spec)
    assert override["project_name"] == "Mine"


@pytest.mark.parametrize(
    "key,raw,expected",
    [
        ("latency_budget_ms", "1_000", 1000),
        ("latency_budget_ms", "1,000", 1000),
        ("contains_pii", "yes", True),
        ("contains_pii", "FALSE", False),
        ("monitoring", 0, False),
        ("description", "  padded  ", "padded"),
    ],
)
def test_coerce_accepts_common_spellings(spec, key, raw, expected):
    assert engine.coerce(engine.question(spec, key), raw, spec) == expected


def test_validate_reports_every_problem_of_a_complete_answer_set(spec):
    answers = resolve(spec)
    answers.update(latency_budget_ms="fast", ci="jenkins", extra="1")
    problems = engine.validate(answers, spec)
    assert any("unknown question 'extra'" in p for p in problems)
    assert any("latency_budget_ms=fast" in p for p in problems)
    assert any("ci=jenkins is not a valid choice" in p for p in problems)


def test_validate_accepts_strings_as_plain_cookiecutter_passes_them(spec):
    answers = {k: (str(v) if isinstance(v, int) and not isinstance(v, bool) else v) for k, v in resolve(spec).items()}
    assert engine.validate(answers, spec) == []


def test_answers_text_round_trips_through_yaml(spec):
    import yaml

    answers = resolve(spec, description='quotes " and \\ and {{ 7*7 }} and: colon # hash', contains_pii="yes")
    loaded = yaml.safe_load(engine.answers_text(answers, spec))
    assert loaded.pop("_mlsd_version") == spec["version"]
    assert loaded == answers


def test_dependencies_follow_the_answers(spec):
    groups = engine.dependencies(resolve(spec, trainer="lightgbm", batch_engine="spark", serving="grpc"), spec)
    assert "lightgbm==4.7.0" in groups[""]
    assert groups["spark"] == ["pyspark==4.3.0"]
    assert not any(p.startswith("fastapi") for p in groups[""])
    assert any(p.startswith("grpcio==") for p in groups[""])


@pytest.mark.parametrize(
    "orchestrator,fastapi",
    [("none", "fastapi==0.165.0"), ("airflow", "fastapi==0.136.3"), ("prefect", "fastapi==0.154.0")],
)
def test_fastapi_pin_follows_the_orchestrator_sharing_the_environment(spec, orchestrator, fastapi):
    assert fastapi in engine.dependencies(resolve(spec, orchestrator=orchestrator), spec)[""]


def test_grpc_with_kubeflow_pins_protobuf_six(spec):
    runtime = engine.dependencies(resolve(spec, serving="grpc", orchestrator="kubeflow"), spec)[""]
    assert "protobuf==6.33.6" in runtime and "grpcio-tools==1.81.1" in runtime
    runtime = engine.dependencies(resolve(spec, serving="grpc"), spec)[""]
    assert "protobuf==7.36.2" in runtime
