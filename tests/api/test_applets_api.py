"""Applets (issue 6 item 3) over real HTTP, on every store."""

from __future__ import annotations

import httpx
import pytest

from tests.api.test_fs_api import problem

APPLET = {
    "name": "Counter",
    "description": "counts",
    "html": "<b id=n>0</b>",
    "js": "n.textContent=1",
    "css": "b{color:red}",
}


@pytest.fixture
def applets_url(agent: str) -> str:
    return f"/v1/agents/{agent}/applets"


def test_save_load_list_delete(http: httpx.Client, applets_url: str) -> None:
    assert http.get(applets_url).json() == []
    created = http.put(f"{applets_url}/counter", json=APPLET)
    assert created.status_code == 201, created.text
    again = http.put(f"{applets_url}/counter", json={**APPLET, "name": "Counter 2"})
    assert again.status_code == 200
    body = http.get(f"{applets_url}/counter").json()
    assert body["name"] == "Counter 2" and body["html"] == APPLET["html"]
    assert body["js"] == APPLET["js"] and body["css"] == APPLET["css"]
    assert body["state"] == {} and body["createdAt"] == created.json()["createdAt"]
    assert body["updatedAt"] >= body["createdAt"]
    listed = http.get(applets_url).json()
    assert listed == [
        {k: body[k] for k in ("slug", "name", "description", "createdAt", "updatedAt", "version")}
    ]
    minimal = http.put(f"{applets_url}/m", json={"name": "M", "html": "<p>"})
    assert minimal.status_code == 201 and minimal.json()["js"] == ""
    assert http.delete(f"{applets_url}/counter").status_code == 204
    problem(http.get(f"{applets_url}/counter"), 404, "applet_not_found")
    problem(http.delete(f"{applets_url}/counter"), 404, "applet_not_found")
    assert [a["slug"] for a in http.get(applets_url).json()] == ["m"]


def test_applets_are_shared_by_the_agents_sessions_only(
    http: httpx.Client, applets_url: str, agent: str
) -> None:
    http.put(f"{applets_url}/shared", json=APPLET)
    problem(http.get(f"/v1/agents/{agent}-other/applets/shared"), 404, "applet_not_found")
    assert http.get(f"/v1/agents/{agent}-other/applets").json() == []


@pytest.mark.parametrize("slug", ["Bad", "-x", "a_b", "a" * 65, "a.b", "%2e%2e", "_index", "é"])
def test_bad_slugs(http: httpx.Client, applets_url: str, slug: str) -> None:
    problem(http.put(f"{applets_url}/{slug}", json=APPLET), 400, "slug_invalid")
    problem(http.get(f"{applets_url}/{slug}"), 400, "slug_invalid")
    assert http.get(applets_url).json() == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": "x"}, 422, "validation_failed"),
        ({"html": "x"}, 422, "validation_failed"),
        ({"name": "", "html": "x"}, 400, "invalid_input"),
        ({"name": "x" * 300, "html": "x"}, 400, "invalid_input"),
        ({"name": "x", "html": "x", "extra": 1}, 422, "validation_failed"),
        ({"name": "x", "html": 1}, 422, "validation_failed"),
    ],
)
def test_hostile_bodies(
    http: httpx.Client, applets_url: str, body: dict[str, object], status: int, code: str
) -> None:
    problem(http.put(f"{applets_url}/ok", json=body), status, code)
    problem(http.get(f"{applets_url}/ok"), 404, "applet_not_found")


def test_state_with_etags(http: httpx.Client, applets_url: str) -> None:
    problem(http.get(f"{applets_url}/nope/state"), 404, "applet_not_found")
    problem(http.put(f"{applets_url}/nope/state", json={}), 404, "applet_not_found")
    http.put(f"{applets_url}/form", json=APPLET)
    initial = http.get(f"{applets_url}/form/state")
    assert initial.json() == {} and initial.headers["etag"]
    saved = http.put(
        f"{applets_url}/form/state",
        json={"name": "Ada"},
        headers={"If-Match": initial.headers["etag"]},
    )
    assert saved.status_code == 200 and saved.json() == {"name": "Ada"}
    assert saved.headers["etag"] != initial.headers["etag"]
    stale = http.put(
        f"{applets_url}/form/state",
        json={"name": "Bob"},
        headers={"If-Match": initial.headers["etag"]},
    )
    problem(stale, 412, "precondition_failed")
    assert http.get(f"{applets_url}/form/state").json() == {"name": "Ada"}
    assert http.put(f"{applets_url}/form/state", json={"name": "Cy"}).status_code == 200
    http.put(f"{applets_url}/form", json={**APPLET, "html": "<i>new</i>"})
    assert http.get(f"{applets_url}/form").json()["state"] == {"name": "Cy"}
    for bad in (b"[1,2]", b"3", b"{nope", b'"s"'):
        response = http.put(
            f"{applets_url}/form/state", content=bad, headers={"content-type": "application/json"}
        )
        problem(response, 400, "invalid_input")
    assert http.get(f"{applets_url}/form/state").json() == {"name": "Cy"}


def test_versions_keep_the_last_ten_and_restore(http: httpx.Client, applets_url: str) -> None:
    for i in range(1, 13):
        http.put(f"{applets_url}/v", json={**APPLET, "html": f"<p>{i}</p>"})
    versions = http.get(f"{applets_url}/v/versions").json()
    assert [v["version"] for v in versions] == list(range(12, 2, -1))
    restored = http.post(f"{applets_url}/v/versions/5/restore")
    assert restored.status_code == 200 and restored.json()["html"] == "<p>5</p>"
    assert http.get(f"{applets_url}/v").json()["html"] == "<p>5</p>"
    assert http.get(f"{applets_url}/v/versions").json()[0]["version"] == 13
    problem(http.post(f"{applets_url}/v/versions/1/restore"), 404, "not_found")
    problem(http.post(f"{applets_url}/v/versions/x/restore"), 422, "validation_failed")
    problem(http.get(f"{applets_url}/none/versions"), 404, "applet_not_found")


def test_view_is_sandboxed(http: httpx.Client, applets_url: str) -> None:
    http.put(
        f"{applets_url}/page",
        json={"name": "<T>", "html": "<div>hi</div>", "js": "x='</script><b>'", "css": "</style>"},
    )
    page = http.get(f"{applets_url}/page/view")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == "sandbox allow-scripts"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["content-type"].startswith("text/html")
    assert "<div>hi</div>" in page.text and "<title>&lt;T&gt;</title>" in page.text
    assert page.text.count("</script>") == 1 and page.text.count("</style>") == 1
    problem(http.get(f"{applets_url}/none/view"), 404, "applet_not_found")


def test_library_applets(box: object, agent: str) -> None:
    import sessionbox

    assert isinstance(box, sessionbox.Sessionbox)
    applets = box.applets(agent)
    applets.save("lib", name="Lib", html="<p>")
    state, etag = applets.get_state("lib")
    new_etag = applets.set_state("lib", {"a": 1}, etag=etag)
    with pytest.raises(sessionbox.PreconditionFailed):
        applets.set_state("lib", {"a": 2}, etag=etag)
    assert applets.get_state("lib") == ({"a": 1}, new_etag)
    applets.save("lib", name="Lib", html="<p>2")
    assert [v["version"] for v in applets.versions("lib")] == [2, 1]
    assert applets.restore("lib", 1).html == "<p>"
    assert [a.slug for a in applets.list()] == ["lib"]
    applets.delete("lib")
    with pytest.raises(sessionbox.AppletNotFound):
        applets.load("lib")
