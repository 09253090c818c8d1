"""JSON API (DESIGN §7): the contract's field names, paging and errors as JSON."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from . import factories as f


def test_search_shape_follows_the_contract(client: FlaskClient, db: Session) -> None:
    a = f.activity(db, title="Koffie", tags=("free_drinks", "walk_in"), languages=["nl", "ar"])
    body = client.get("/api/v1/activities?where=9000&tag=free&tag=free_drinks").get_json()
    assert set(body) >= {"query", "count", "page", "per_page", "results"}
    q = body["query"]
    assert (
        q["where"] == "9000" and q["place"]["name"] == "Gent" and q["place"]["postcode"] == "9000"
    )
    assert q["radius_km"] == 5 and q["tags"] == ["free", "free_drinks"] and q["when"] == "any"
    assert q["widened_to_km"] == 10 or q["widened_to_km"] == 50
    r = body["results"][0]
    assert set(r) >= {
        "id",
        "url",
        "title",
        "summary",
        "category",
        "tags",
        "cost",
        "languages",
        "lat",
        "lon",
        "distance_km",
        "next",
        "organisation",
    }
    assert r["id"] == a.id and r["url"].endswith(f"/activities/{a.id}-koffie?lang=nl")
    assert r["cost"] == {"type": "free", "amount_eur": None, "note": None}
    assert "free" in r["tags"] and "free_drinks" in r["tags"] and r["languages"] == ["nl", "ar"]
    assert r["next"][0] == {
        "start": "2026-12-02T14:00:00+01:00",
        "end": "2026-12-02T16:00:00+01:00",
    }
    assert r["organisation"]["name"] == "Buurtcentrum Test"


def test_paging_fields(client: FlaskClient, db: Session) -> None:
    for i in range(3):
        f.activity(db, title=f"K{i}", offset_km=(0.3 * i, 0))
    body = client.get("/api/v1/activities?where=9000&per_page=2&page=2").get_json()
    assert (body["count"], body["page"], body["per_page"], len(body["results"])) == (3, 2, 2, 1)


def test_errors_are_json_with_a_message_in_the_asked_language(client: FlaskClient) -> None:
    page = client.get("/api/v1/activities?where=Gentt&lang=nl")
    assert page.status_code == 400
    err = page.get_json()["error"]
    assert err["code"] == "unknown_place" and "Gent" in err["suggestions"]
    assert err["message"].startswith("We kennen de plaats")
    for query, code in [
        ("where=9000&radius_km=-3", "bad_radius"),
        ("where=9000&tag=x", "unknown_tag"),
        ("", "missing_place"),
        ("where=9000&per_page=0", "bad_per_page"),
    ]:
        page = client.get(f"/api/v1/activities?{query}")
        assert page.status_code == 400 and page.get_json()["error"]["code"] == code


def test_one_activity_in_the_same_shape(client: FlaskClient, db: Session) -> None:
    a = f.activity(db, title="Taalcafé")
    body = client.get(f"/api/v1/activities/{a.id}").get_json()
    assert body["id"] == a.id and body["title"] == "Taalcafé" and len(body["next"]) == 5
    missing = client.get("/api/v1/activities/999999")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"


def test_unknown_api_route_is_json(client: FlaskClient) -> None:
    page = client.get("/api/v1/nothing")
    assert page.status_code == 404 and page.get_json()["error"]["code"] == "not_found"


def test_an_ambiguous_place_is_a_400_naming_postcode_and_municipality(client: FlaskClient) -> None:
    page = client.get("/api/v1/activities?where=Deurne&lang=en")
    assert page.status_code == 400
    err = page.get_json()["error"]
    assert err["code"] == "ambiguous_place" and err["field"] == "where"
    assert err["suggestions"] == ["Deurne (2100 Antwerpen)", "Deurne (3290 Diest)"]
    again = client.get("/api/v1/activities", query_string={"where": err["suggestions"][1]})
    assert again.status_code == 200
    assert again.get_json()["query"]["place"]["postcode"] == "3290"


def test_the_api_takes_a_postcode_and_a_name_together(client: FlaskClient) -> None:
    for where, postcode, name in [
        ("9000 Gent", "9000", "Gent"),
        ("Gent 9000", "9000", "Gent"),
        ("2100 Deurne", "2100", "Deurne"),
    ]:
        page = client.get("/api/v1/activities", query_string={"where": where})
        assert page.status_code == 200, where
        place = page.get_json()["query"]["place"]
        assert (place["postcode"], place["name"]) == (postcode, name)
