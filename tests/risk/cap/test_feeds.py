"""Public Atom feeds list active, public reports only, and link each entry to its CAP alert."""

from __future__ import annotations

import httpx
from lxml import etree

from regio.risk.cap import xml as capxml
from tests.risk.events.fixtures import WENZHOU_POLYGON, Headers, post_report

ATOM = {"a": capxml.ATOM_NS}


def parse_feed(response: httpx.Response) -> etree._Element:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = etree.fromstring(response.content)
    assert feed.tag == f"{{{capxml.ATOM_NS}}}feed"
    # RFC 4287: a feed has an id, a title, an updated time and an author; so does (or inherits) each entry
    for name in ("id", "title", "updated", "author/a:name"):
        assert feed.xpath(f"a:{name}/text()", namespaces=ATOM), name
    assert feed.xpath("a:link[@rel='self']/@href", namespaces=ATOM)
    for entry in feed.xpath("a:entry", namespaces=ATOM):
        for name in ("id", "title", "updated"):
            assert entry.xpath(f"a:{name}/text()", namespaces=ATOM), name
    return feed


def entry_links(feed: etree._Element) -> list[str]:
    return [
        str(href) for href in feed.xpath("a:entry/a:link[@type='application/cap+xml']/@href", namespaces=ATOM)
    ]


async def test_a_jurisdiction_feed_lists_only_its_active_public_reports(
    client: httpx.AsyncClient, hz_officer: Headers
) -> None:
    public = (await post_report(client, hz_officer, scope="public", headline="公开的暴雨预警"))["event"]
    restricted = (await post_report(client, hz_officer, headline="内部的暴雨预警"))["event"]
    withdrawn = (await post_report(client, hz_officer, scope="public", event_type="flood"))["event"]
    await client.post(f"/api/risk/events/{withdrawn['id']}/cancel", json={}, headers=hz_officer)
    elsewhere = (
        await post_report(
            client, hz_officer, scope="public", event_type="gale", area={"cap_polygons": [WENZHOU_POLYGON]}
        )
    )["event"]

    feed = parse_feed(await client.get("/feeds/risk/jurisdictions/prefecture/330100.atom"))  # no sign-in
    # newest first: the gale Hangzhou reported (over Wenzhou), then the public rainstorm
    assert entry_links(feed) == [
        f"http://127.0.0.1:8000/feeds/risk/events/{elsewhere['id']}.cap",
        f"http://127.0.0.1:8000/feeds/risk/events/{public['id']}.cap",
    ]
    text = etree.tostring(feed, encoding="unicode")
    assert "内部的暴雨预警" not in text and restricted["identifier"] not in text
    # Wenzhou's feed has the gale whose area lies there, though Hangzhou reported it
    wenzhou = parse_feed(await client.get("/feeds/risk/jurisdictions/prefecture/330300.atom"))
    assert entry_links(wenzhou) == [f"http://127.0.0.1:8000/feeds/risk/events/{elsewhere['id']}.cap"]


async def test_an_entry_links_to_a_public_cap_alert_that_validates(
    client: httpx.AsyncClient, hz_officer: Headers
) -> None:
    public = (await post_report(client, hz_officer, scope="public"))["event"]
    restricted = (await post_report(client, hz_officer))["event"]
    alert = await client.get(f"/feeds/risk/events/{public['id']}.cap")
    assert alert.status_code == 200
    assert capxml.validate(alert.content) == []
    hidden = await client.get(f"/feeds/risk/events/{restricted['id']}.cap")
    assert hidden.status_code == 404  # as if it did not exist
    assert restricted["identifier"] not in hidden.text


async def test_a_body_feed_lists_the_public_reports_of_its_members(
    client: httpx.AsyncClient, hz_officer: Headers
) -> None:
    public = (await post_report(client, hz_officer, scope="public"))["event"]
    feed = parse_feed(await client.get("/feeds/risk/bodies/hangzhou-metropolitan.atom"))
    assert entry_links(feed) == [f"http://127.0.0.1:8000/feeds/risk/events/{public['id']}.cap"]
    assert str(feed.xpath("a:title/text()", namespaces=ATOM)[0]).endswith(" 突发事件预警信息")
    other = parse_feed(await client.get("/feeds/risk/bodies/greater-bay-area.atom"))
    assert entry_links(other) == []


async def test_unknown_feeds_are_not_found(client: httpx.AsyncClient, hz_officer: Headers) -> None:
    assert (await client.get("/feeds/risk/jurisdictions/prefecture/999900.atom")).status_code == 404
    assert (await client.get("/feeds/risk/bodies/nowhere.atom")).status_code == 404
    assert (await client.get("/feeds/risk/jurisdictions/planet/330100.atom")).status_code == 422
