"""Components of the generated project: when each is selected and which paths it owns.

Plain data. The post-generation step deletes the paths of every component whose ``when``
does not hold (one loop in ``engine.finish_project``); the plan table and the expected file
sets of the template tests read the same list. ``{package}`` stands for the package name.
"""

from __future__ import annotations

PKG = "src/{package}"

COMPONENTS: list[dict] = [
    {
        "id": "core",
        "title": "Settings, feature schema, synthetic data, project CLI",
        "paths": [],
    },
    {
        "id": "batch_ingestion",
        "title": "Batch ingestion with dead-letter store",
        "paths": [],
    },
    {
        "id": "spark_jobs",
        "title": "Spark jobs: ingestion and feature materialization over Parquet",
        "when": {"batch_engine": "spark"},
        "paths": [f"{PKG}/spark_jobs.py", "tests/test_spark.py"],
    },
    {
        "id": "stream_ingestion",
        "title": "Stream ingestion",
        "when": {"stream_engine": {"not": "none"}},
        "paths": [f"{PKG}/ingestion/stream.py", f"{PKG}/ingestion/events.py", "tests/test_stream.py"],
    },
    {
        "id": "flink_job",
        "title": "PyFlink job in its own environment, checked against the consumer",
        "when": {"stream_engine": "flink"},
        "paths": [f"{PKG}/ingestion/flink_job.py", "requirements", "tests/test_flink.py"],
    },
    {
        "id": "kafka_stream",
        "title": "Kafka topic producer and consumer, tested on a local broker",
        "when": {"stream_engine": ["kafka", "flink"]},
        "paths": ["tests/test_stream_kafka.py"],
    },
    {
        "id": "feast",
        "title": "Feast feature repository",
        "when": {"feature_store": "feast"},
        "paths": [f"{PKG}/features/feast_repo", "tests/test_features_redis.py"],
    },
    {
        "id": "training",
        "title": "Training, evaluation and fast predictor",
        "paths": [],
    },
    {
        "id": "mlflow_registry",
        "title": "MLflow registry backend",
        "when": {"registry": "mlflow"},
        "paths": [f"{PKG}/registry/mlflow_backend.py"],
    },
    {
        "id": "rest",
        "title": "REST API (FastAPI)",
        "when": {"serving": ["rest", "rest+grpc"]},
        "paths": [
            f"{PKG}/serving/app.py",
            "tests/test_serving_rest.py",
            "tests/test_api_contract.py",
            "tests/contract_hooks.py",
        ],
    },
    {
        "id": "grpc",
        "title": "gRPC server",
        "when": {"serving": ["grpc", "rest+grpc"]},
        "paths": ["proto", f"{PKG}/serving/grpc_server.py", "tests/test_serving_grpc.py", "tests/grpc_held.py"],
    },
    {
        "id": "online_serving",
        "title": "Prediction core and container",
        "when": {"serving": {"not": "none"}},
        "paths": [
            f"{PKG}/serving/auth.py",
            "tests/test_auth.py",
            "tests/test_serving_faults.py",
            "deploy/k8s/service.yaml",
            "deploy/k8s/hpa.yaml",
            "deploy/k8s/pdb.yaml",
        ],
    },
    {
        "id": "batch_scoring",
        "title": "Batch scoring to Parquet",
        "when": {"batch_scoring": True},
        "paths": [f"{PKG}/serving/batch.py", "tests/test_batch_scoring.py"],
    },
    {
        "id": "vector_index",
        "title": "Approximate nearest-neighbour index",
        "when": {"vector_index": {"not": "none"}},
        "paths": [f"{PKG}/serving/index.py", "tests/test_index.py"],
    },
    {
        "id": "monitoring",
        "title": "Metrics, prediction log and drift report",
        "when": {"monitoring": True},
        "paths": [
            f"{PKG}/monitoring",
            "tests/test_monitoring.py",
            "tests/test_alerts.py",
            "deploy/prometheus",
            "deploy/grafana",
        ],
    },
    {
        "id": "experiments",
        "title": "Experiment assignment and analysis",
        "when": {"experiment": {"not": "none"}},
        "paths": [f"{PKG}/experiments", "tests/test_experiments.py"],
    },
    {
        "id": "shadow",
        "title": "Shadow scoring off the request path, shadow log",
        "when": {"experiment": "shadow"},
        "paths": [f"{PKG}/experiments/shadow.py"],
    },
    {
        "id": "airflow",
        "title": "Airflow DAG",
        "when": {"orchestrator": "airflow"},
        "paths": [f"{PKG}/pipelines/airflow_dag.py", "tests/test_airflow.py"],
    },
    {
        "id": "kubeflow",
        "title": "Kubeflow pipeline",
        "when": {"orchestrator": "kubeflow"},
        "paths": [f"{PKG}/pipelines/kubeflow_pipeline.py", "tests/test_kubeflow.py"],
    },
    {
        "id": "prefect",
        "title": "Prefect flow",
        "when": {"orchestrator": "prefect"},
        "paths": [f"{PKG}/pipelines/prefect_flow.py", "tests/test_prefect.py"],
    },
    {
        "id": "kubernetes",
        "title": "Kubernetes manifests",
        "when": {"deploy": "kubernetes"},
        "paths": ["deploy/k8s"],
    },
    {
        "id": "github_ci",
        "title": "GitHub Actions workflow",
        "when": {"ci": "github"},
        "paths": [".github"],
    },
    {
        "id": "gitlab_ci",
        "title": "GitLab CI pipeline",
        "when": {"ci": "gitlab"},
        "paths": [".gitlab-ci.yml"],
    },
    {
        "id": "license",
        "title": "License file",
        "when": {"license": {"not": "proprietary"}},
        "paths": ["LICENSE"],
    },
]


def _switch(name: str, key: str, on: object, off: object, title: str) -> dict:
    return {"name": name, "key": key, "title": title, "add": {"*": on}, "remove": {on: off}}


# Friendly names for `mlsd add NAME` / `mlsd remove NAME`: each changes one answer. "add" and
# "remove" map the current value to the new one ("*": any other value); a value that is a key of
# "remove" means the component is already there.
ADDONS: list[dict] = [
    {
        "name": "rest",
        "key": "serving",
        "title": "REST API",
        "add": {"grpc": "rest+grpc", "*": "rest"},
        "remove": {"rest+grpc": "grpc", "rest": "none"},
    },
    {
        "name": "grpc",
        "key": "serving",
        "title": "gRPC server",
        "add": {"rest": "rest+grpc", "*": "grpc"},
        "remove": {"rest+grpc": "rest", "grpc": "none"},
    },
    _switch("batch-scoring", "batch_scoring", True, False, "batch scoring to Parquet"),
    _switch("ab", "experiment", "ab", "none", "A/B test"),
    _switch("shadow", "experiment", "shadow", "none", "shadow deployment"),
    _switch("monitoring", "monitoring", True, False, "metrics, prediction log and drift report"),
    _switch("airflow", "orchestrator", "airflow", "none", "Airflow DAG"),
    _switch("kubeflow", "orchestrator", "kubeflow", "none", "Kubeflow pipeline"),
    _switch("prefect", "orchestrator", "prefect", "none", "Prefect flow"),
    _switch("mlflow", "registry", "mlflow", "local", "MLflow registry"),
    _switch("feast", "feature_store", "feast", "none", "Feast feature store"),
    _switch("stream", "stream_engine", "embedded", "none", "embedded stream consumer"),
    _switch("kafka", "stream_engine", "kafka", "none", "Kafka stream ingestion"),
    _switch("flink", "stream_engine", "flink", "none", "Flink stream ingestion"),
    _switch("spark", "batch_engine", "spark", "duckdb", "Spark batch engine"),
    _switch("faiss", "vector_index", "faiss", "none", "FAISS vector index"),
    _switch("hnswlib", "vector_index", "hnswlib", "none", "hnswlib vector index"),
    _switch("kubernetes", "deploy", "kubernetes", "compose", "Kubernetes manifests"),
    _switch("github", "ci", "github", "none", "GitHub Actions workflow"),
    _switch("gitlab", "ci", "gitlab", "none", "GitLab CI pipeline"),
]
