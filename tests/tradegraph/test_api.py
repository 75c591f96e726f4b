"""The scoring API through its HTTP layer, against the real Neo4j with a small graph written
here: stored and on-the-fly scores, the key, the 4xx errors, neighbourhood, clusters, docs."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import neo4j
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tradegraph.api import MissingApiKeyError, create_app
from tradegraph.settings import Settings

KEY = "test-key-0123456789"
HEADERS = {"X-API-Key": KEY}
UTC = dt.UTC


def _at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(tzinfo=UTC)


BUSINESSES = [  # id, kind, registered_at: A and B were scored; C is unscored; N is new
    ("A", "sme", "2022-01-10"),
    ("B", "sme", "2022-03-01"),
    ("C", "sme", "2022-05-01"),
    ("N", "sme", "2024-06-01"),
    ("K", "consumer", "2022-01-01"),
]
ORDERS = [  # txn, seller, buyer, ts, amount
    ("t1", "A", "C", "2023-02-01", 100.0),
    ("t2", "C", "A", "2023-06-01", 50.0),
    ("t3", "C", "N", "2024-07-01", 70.0),
    ("t4", "A", "B", "2023-09-01", 30.0),
]


def _build(driver: neo4j.Driver) -> None:
    driver.execute_query(
        "UNWIND $rows AS r CREATE (:Business {business_id: r.id, kind: r.kind, region: 'north', "
        "industry: 'retail', registered_at: r.at, employees: 3, declared_revenue: 1000.0})",
        rows=[{"id": b, "kind": k, "at": _at(day)} for b, k, day in BUSINESSES],
    )
    driver.execute_query(
        "UNWIND $rows AS r MATCH (s:Business {business_id: r.s}), (b:Business {business_id: r.b}) "
        "CREATE (s)-[:SOLD_TO {txn_id: r.t, ts: r.ts, amount: r.amt, currency: 'USD', "
        "amount_base: r.amt, status: 'completed', status_at: r.ts, category: 'misc'}]->(b) "
        "MERGE (s)-[w:TRADES_WITH]->(b) "
        "SET w.orders = coalesce(w.orders, 0) + 1, w.gmv = coalesce(w.gmv, 0.0) + r.amt, "
        "w.refunded = 0, w.disputed = 0, w.cancelled = 0, w.first_ts = r.ts, w.last_ts = r.ts",
        rows=[{"t": t, "s": s, "b": b, "ts": _at(day), "amt": a} for t, s, b, day, a in ORDERS],
    )
    # Stored scores: latest values on the business plus the :Score history node.
    driver.execute_query(
        "UNWIND $rows AS r MATCH (b:Business {business_id: r.id}) "
        "SET b.risk_pd = r.pd, b.risk_score = r.score, b.risk_grade = r.grade, "
        "b.risk_reasons = r.reasons, b.model_version = 'm-test', b.scored_at = $scored_at "
        "CREATE (b)-[:SCORED]->(:Score {as_of: $as_of, model_version: 'm-test', pd: r.pd, "
        "score: r.score, grade: r.grade, reasons: r.reasons, scored_at: $scored_at})",
        rows=[
            {"id": "A", "pd": 0.02, "score": 780.0, "grade": "A", "reasons": ["steady sales"]},
            {"id": "B", "pd": 0.30, "score": 540.0, "grade": "E", "reasons": ["new", "few buyers"]},
        ],
        as_of=_at("2024-01-01"),
        scored_at=_at("2024-01-02T08:00:00"),
    )
    driver.execute_query(
        "CREATE (c:Cluster {cluster_id: 'identifier_ring-x', kind: 'identifier_ring', size: 2, "
        "suspicion: 0.8, reasons: ['share a device'], member_ids: ['A', 'B'], found_at: $at, "
        "created_by: 'tradegraph'}) "
        "WITH c MATCH (b:Business) WHERE b.business_id IN ['A', 'B'] CREATE (b)-[:IN_CLUSTER]->(c)",
        at=_at("2024-02-01"),
    )


def order_count_model(snapshot, as_of: pd.Timestamp, business_ids: list[str]) -> pd.DataFrame:
    """A stand-in model that only sees the snapshot: PD from each business's order count, so a
    test can tell which orders (before ``as_of`` only) reached it."""
    orders = snapshot.orders
    ids = snapshot.businesses["business_id"].astype(str)
    ids = ids[ids.isin(business_ids)]
    counts = ids.map(
        pd.concat([orders["seller_id"], orders["buyer_id"]]).astype(str).value_counts()
    ).fillna(0)
    pd_ = 0.5 / (1.0 + counts.to_numpy())
    return pd.DataFrame(
        {
            "business_id": ids,
            "pd": pd_,
            "score": 900 - 500 * pd_,
            "grade": ["A" if p < 0.2 else "C" for p in pd_],
            "reasons": [[f"{int(c)} orders before {as_of.date()}"] for c in counts],
            "model_version": "order-count",
        }
    )


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def client(neo4j_driver: neo4j.Driver) -> TestClient:
    _build(neo4j_driver)
    app = create_app(
        neo4j_driver, _settings(api_key=KEY), score_function=order_count_model, max_batch=5
    )
    return TestClient(app)


def test_key_is_required_everywhere_but_health(client: TestClient) -> None:
    health = client.get("/health")
    assert health.status_code == 200
    assert health.json()["neo4j"] == "up"
    for method, url in (
        ("GET", "/businesses/A/score"),
        ("POST", "/score"),
        ("GET", "/businesses/A/neighbourhood"),
        ("GET", "/clusters"),
    ):
        assert client.request(method, url).status_code == 401
        wrong = client.request(method, url, headers={"X-API-Key": "nope"})
        assert wrong.status_code == 401
        assert "X-API-Key" in wrong.json()["detail"]


def test_app_refuses_to_start_without_a_key(neo4j_driver: neo4j.Driver) -> None:
    with pytest.raises(MissingApiKeyError, match="TRADEGRAPH_API_KEY"):
        create_app(neo4j_driver, _settings(api_key=None))


def test_stored_score_unknown_and_unscored(client: TestClient) -> None:
    body = client.get("/businesses/A/score", headers=HEADERS).json()
    assert body["business_id"] == "A"
    assert body["grade"] == "A" and body["pd"] == pytest.approx(0.02)
    assert body["score"] == 780.0 and body["reasons"] == ["steady sales"]
    assert body["model_version"] == "m-test" and body["source"] == "stored"
    assert body["scored_at"].startswith("2024-01-02T08:00:00")
    assert body["as_of"] == "2024-01-01"  # from its :Score when risk_as_of is not set

    unknown = client.get("/businesses/NOPE/score", headers=HEADERS)
    assert unknown.status_code == 404 and "NOPE" in unknown.json()["detail"]
    unscored = client.get("/businesses/C/score", headers=HEADERS)
    assert unscored.status_code == 409
    assert "POST /score" in unscored.json()["detail"]


def test_stored_score_answers_its_as_of_not_null(
    client: TestClient, neo4j_driver: neo4j.Driver
) -> None:
    """Issue 14: a score made as of 2026-01-01 answered ``"as_of": null``."""
    from graph.scores import write_scores

    scores = pd.DataFrame(
        {"business_id": ["C"], "pd": [0.1], "score": [650], "grade": ["C"], "reasons": [["r"]]}
    )
    write_scores(neo4j_driver, scores, "2026-01-01", "m-2026")
    body = client.get("/businesses/C/score", headers=HEADERS).json()
    assert (body["as_of"], body["model_version"]) == ("2026-01-01", "m-2026")
    assert body["source"] == "stored" and body["notice"] is None
    batch = client.post("/score", headers=HEADERS, json={"business_ids": ["C", "N"]}).json()
    for score in batch["scores"]:  # stored and on the fly alike
        assert score["as_of"] and score["model_version"], score
    assert batch["scores"][0]["as_of"] == "2026-01-01"


def test_batch_mixes_stored_on_the_fly_and_errors(client: TestClient) -> None:
    response = client.post(
        "/score", headers=HEADERS, json={"business_ids": ["N", "A", "NOPE", "C", "K", "A"]}
    )
    assert response.status_code == 200
    body = response.json()
    assert [s["business_id"] for s in body["scores"]] == ["N", "A", "C"]
    by_id = {s["business_id"]: s for s in body["scores"]}
    assert by_id["A"]["source"] == "stored" and by_id["A"]["model_version"] == "m-test"
    # C and N (registered after any training) are scored now from every order in the graph.
    assert by_id["C"]["source"] == "on_the_fly" and by_id["N"]["source"] == "on_the_fly"
    assert by_id["C"]["reasons"][0].startswith("3 orders before")
    assert by_id["N"]["reasons"][0].startswith("1 orders before")
    assert by_id["N"]["model_version"] == "order-count"
    assert [(e["business_id"], e["error"]) for e in body["errors"]] == [
        ("NOPE", "unknown_business"),
        ("K", "not_an_sme"),
    ]
    assert body["errors"][0]["detail"] == "No business with this id in the graph."
    assert (body["stored"], body["on_the_fly"]) == (1, 2)


def test_batch_as_of_uses_that_dates_scores_and_graph(client: TestClient) -> None:
    # The score date of the stored history: A's stored :Score is used.
    on_date = client.post(
        "/score", headers=HEADERS, json={"business_ids": ["A"], "as_of": "2024-01-01"}
    ).json()
    assert on_date["scores"][0]["source"] == "stored"
    assert on_date["scores"][0]["as_of"] == "2024-01-01"
    # Another date: nothing stored then, so A and C are scored from the graph before it
    # (t3 in July 2024 is after the date and must not count); N did not exist yet.
    body = client.post(
        "/score", headers=HEADERS, json={"business_ids": ["A", "C", "N"], "as_of": "2023-07-01"}
    ).json()
    by_id = {s["business_id"]: s for s in body["scores"]}
    assert by_id["A"]["source"] == "on_the_fly" and by_id["A"]["as_of"] == "2023-07-01"
    assert by_id["A"]["reasons"] == ["2 orders before 2023-07-01"]
    assert by_id["C"]["reasons"] == ["2 orders before 2023-07-01"]
    assert [(e["business_id"], e["error"]) for e in body["errors"]] == [
        ("N", "not_registered_by_as_of")
    ]


def test_bad_bodies_and_oversized_batches_are_4xx(client: TestClient) -> None:
    too_many = client.post("/score", headers=HEADERS, json={"business_ids": list("ABCDEFG")})
    assert too_many.status_code == 413
    assert "at most 5" in too_many.json()["detail"]
    for body in (
        {},
        {"business_ids": []},
        {"business_ids": "A"},
        {"business_ids": ["A"], "x": 1},
        {"business_ids": ["A"], "as_of": "not-a-date"},
    ):
        assert client.post("/score", headers=HEADERS, json=body).status_code == 422, body
    broken = client.post(
        "/score", headers=HEADERS | {"content-type": "application/json"}, content=b"{nope"
    )
    assert broken.status_code == 422


def test_neighbourhood_goes_k_hops_with_scores_and_orders(client: TestClient) -> None:
    one = client.get("/businesses/A/neighbourhood", headers=HEADERS, params={"hops": 1}).json()
    assert one["business_id"] == "A"
    by_id = {n["business_id"]: n for n in one["neighbours"]}
    assert set(by_id) == {"A", "B", "C"}
    assert by_id["A"]["distance"] == 0
    assert by_id["B"]["risk_grade"] == "E" and by_id["B"]["via"] == "A"
    assert by_id["C"]["link_orders"] == 2
    assert {o["txn_id"] for o in by_id["C"]["latest_orders"]} == {"t1", "t2"}
    two = client.get("/businesses/A/neighbourhood", headers=HEADERS, params={"hops": 2}).json()
    far = {n["business_id"]: n for n in two["neighbours"]}
    assert far["N"]["distance"] == 2 and far["N"]["via"] == "C"

    assert client.get("/businesses/NOPE/neighbourhood", headers=HEADERS).status_code == 404
    bad = client.get("/businesses/A/neighbourhood", headers=HEADERS, params={"hops": 9})
    assert bad.status_code == 422


def test_clusters_are_listed_most_suspicious_first(client: TestClient) -> None:
    body = client.get("/clusters", headers=HEADERS, params={"limit": 5}).json()
    assert body["clusters"] == [
        {
            "cluster_id": "identifier_ring-x",
            "kind": "identifier_ring",
            "size": 2,
            "suspicion": 0.8,
            "reasons": ["share a device"],
            "found_at": body["clusters"][0]["found_at"],
            "verdict": None,
            "members": ["A", "B"],
        }
    ]
    assert client.get("/clusters", headers=HEADERS, params={"limit": 0}).status_code == 422


def test_openapi_documents_routes_key_and_examples(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {
        "/health",
        "/score",
        "/clusters",
        "/businesses/{business_id}/score",
        "/businesses/{business_id}/neighbourhood",
    } <= set(spec["paths"])
    assert spec["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
    post = spec["paths"]["/score"]["post"]
    assert {"200", "413", "422", "401"} <= set(post["responses"])
    assert spec["components"]["schemas"]["ScoreRequest"]["examples"]
    assert post["description"]
    assert client.get("/docs").status_code == 200


def test_no_trained_model_is_a_clear_503(neo4j_driver: neo4j.Driver, tmp_path: Path) -> None:
    _build(neo4j_driver)
    app = create_app(neo4j_driver, _settings(api_key=KEY, home=tmp_path))
    client = TestClient(app)
    # Stored scores need no model...
    assert client.post("/score", headers=HEADERS, json={"business_ids": ["A"]}).status_code == 200
    # ...on-the-fly ones say how to get one.
    response = client.post("/score", headers=HEADERS, json={"business_ids": ["C"]})
    assert response.status_code == 503
    assert "tradegraph train" in response.json()["detail"]
    # /health says so too, once the start-up load of the model has given up.
    with TestClient(app) as started:  # runs the lifespan: the warm-up thread
        deadline = time.monotonic() + 60
        while (model := started.get("/health").json()["model"]) == "loading":
            assert time.monotonic() < deadline, "the model warm-up never finished"
            time.sleep(0.1)
    assert model == "unavailable"


def test_serve_refuses_to_start_without_a_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from tradegraph.cli.main import app
    from tradegraph.settings import get_settings

    monkeypatch.delenv("TRADEGRAPH_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["serve"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "TRADEGRAPH_API_KEY" in result.output and "--demo" in result.output
