"""Trade-offs behind each design choice, for ``mlsd explain KEY`` (interview practice).

Plain data: question key -> choice value -> what it buys and what it costs.
"""

from __future__ import annotations

TRADEOFFS: dict[str, dict[str, str]] = {
    "prediction_mode": {
        "online": "Fresh inputs and any query answered; every request pays model latency and needs serving capacity.",
        "batch": "Cheap, simple, no latency risk; only for inputs known in advance and stale until the next run.",
        "hybrid": "Precompute candidates or embeddings offline, score the short list online: the usual recsys shape.",
    },
    "feature_freshness": {
        "daily": "Nightly batch features: simplest and cheapest; misses anything that changed today.",
        "hourly": "Hourly batch materialization into an online store; catches new items within the hour.",
        "minutes": "Micro-batch or streaming aggregates; more moving parts, needed for sessions and trends.",
        "seconds": "True streaming features (counts, velocity); needed for fraud and ads, costly to run and to test.",
    },
    "ml_task": {
        "binary_classification": "One probability per (user, item); calibrated scores feed auctions and thresholds.",
        "multiclass": "One label of many; softmax head, accuracy and macro-F1.",
        "multilabel": "Several labels at once (harms, reactions); one sigmoid head per label, per-label thresholds.",
        "regression": "A number (ETA, price); MAE/RMSE, watch heavy tails and asymmetric costs.",
        "ranking": "Order a candidate list; pointwise is simple, pairwise/listwise optimise NDCG directly.",
        "retrieval": "Find a few hundred candidates out of millions with embeddings + ANN, then rank them.",
    },
    "batch_engine": {
        "duckdb": "Single-process columnar SQL on Parquet: no cluster, fast to tens of GB, ideal for dev and CI.",
        "spark": "Distributed joins and aggregations at TB scale; JVM, cluster and slower feedback loops.",
    },
    "stream_engine": {
        "none": "No stream to run; features come from scheduled batch jobs.",
        "embedded": "An in-process consumer over a local log: fresh features without operating a broker.",
        "kafka": "Partitioned durable log with consumer groups; replay and scale-out, but a cluster to run.",
        "flink": (
            "Stateful stream processing with event time and windows; most capable, heaviest to operate. The PyFlink"
            " job runs in its own environment (PyFlink pins numpy 2.1, pandas < 2.3); the project consumes Kafka."
        ),
    },
    "feature_store": {
        "none": "Built-in Parquet offline + SQLite online with one interface; enough until many teams share features.",
        "feast": "Point-in-time-correct training sets and materialization to an online store; another system to run.",
    },
    "trainer": {
        "sklearn": "Linear/logistic baselines: fast, calibrated, explainable; the floor every model must beat.",
        "lightgbm": "Gradient-boosted trees: strongest tabular default, fast training, cheap inference.",
        "xgboost": "Gradient-boosted trees with a mature ecosystem; similar accuracy to LightGBM, slower on big data.",
        "pytorch": "Neural nets for embeddings, text, images and multi-task heads; needs more data and serving care.",
    },
    "vector_index": {
        "none": "No candidate retrieval: the ranker scores every candidate it is given.",
        "faiss": "FAISS: flat, IVF, HNSW and PQ indexes; the reference for memory/recall trade-offs at scale.",
        "hnswlib": "HNSW graphs: excellent recall/latency in memory, simple API, memory grows with M.",
    },
    "serving": {
        "rest": "JSON over HTTP: every client speaks it, easy to debug; larger payloads and parse cost.",
        "grpc": "Protobuf over HTTP/2: typed contract, smaller and faster; needs generated stubs on clients.",
        "rest+grpc": "Both over one prediction core: REST for humans and web, gRPC for internal services.",
        "none": "No online endpoint: predictions are precomputed and looked up.",
    },
    "experiment": {
        "none": "Ship on offline metrics alone; risky for anything users see.",
        "ab": "Randomised split by hashed unit id: measures causal lift; needs traffic, time and an SRM check.",
        "shadow": "New model scores live traffic without serving it: safe latency/quality check, no lift measured.",
    },
    "orchestrator": {
        "none": "One pipeline command (Makefile/cron): nothing to operate; no retries or lineage UI.",
        "airflow": "Scheduling, retries and backfills with the widest operator ecosystem; a scheduler to run.",
        "kubeflow": "Containerised pipeline steps on Kubernetes with artifact lineage; needs a cluster.",
        "prefect": "Python-native flows with retries and caching; light to start, server optional.",
    },
    "registry": {
        "local": "Versions, aliases and rollback as files next to the project: no server, one machine.",
        "mlflow": "Tracked runs, model versions and champion/challenger aliases behind a shared tracking server.",
    },
    "deploy": {
        "compose": "One host, a few containers: simple and cheap; scaling means a bigger host.",
        "kubernetes": "Replicas behind a Service with an autoscaler and rolling updates; cluster operations cost.",
    },
    "retraining_cadence": {
        "hourly": "Tracks fast drift (ads, fraud); needs automated validation gates and cheap training.",
        "daily": "The common default for recommenders and rankers; label delay decides if it helps.",
        "weekly": "Stable domains; cheap, but a distribution shift can hurt for days.",
        "manual": "Retrain on demand after review; only for slow-moving or heavily audited models.",
    },
}
