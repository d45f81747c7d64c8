"""The dashboard's pages and actions as a browser without JavaScript (and htmx) uses them."""

from __future__ import annotations

import re

import pytest

from tests.helpers import Api, Sink, wait_for
from tests.ui.client import Dashboard
from tests.ui.conftest import PASSWORD
from veggiecron.app import Server


async def jobs_of(api: Api) -> dict[str, dict[str, object]]:
    status, body = await api.call("GET", "/job")
    assert status == 200
    return {job["name"]: job for job in body["data"]["jobs"]}


async def test_create_a_job_through_the_form(alice: Dashboard, api: Api, sink: Sink) -> None:
    page = await alice.get("/ui/new")
    assert page.status == 200 and 'id="preview"' in page.text
    page = await alice.post(
        "/ui/new",
        {
            "name": "nightly",
            "url": sink.url + "/n",
            "verb": "POST",
            "schedule": "0 3 * * 1-5",
            "timezone": "Europe/London",
            "tags": "billing, nightly",
            "options": '{"json": {"full": true}, "retries": 1}',
            "enabled": "on",
        },
    )
    assert page.status == 303 and page.location == "/ui/jobs/nightly"
    job = (await jobs_of(api))["nightly"]
    assert job["data"] == {"json": {"full": True}, "retries": 1, "url": sink.url + "/n", "verb": "POST"}
    assert (job["schedule"], job["timezone"], job["tags"], job["enabled"]) == (
        "0 3 * * 1-5",
        "Europe/London",
        ["billing", "nightly"],
        True,
    )
    page = await alice.get("/ui/jobs/nightly")
    assert "Job nightly created." in page.text  # the flash message, once
    assert "Weekdays at 03:00" in page.text and page.text.count("<li>") >= 5  # next five runs
    assert "Job nightly created." not in (await alice.get("/ui/jobs/nightly")).text


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"schedule": "every blue moon"}, "schedule", "unrecognised schedule"),
        ({"timezone": "Mars/Olympus"}, "timezone", "unknown time zone"),
        ({"url": "ftp://files.example/"}, "url", "http"),
        ({"name": "has space"}, "name", "name must be"),
        ({"tags": "a/b"}, "tags", "tag"),
        ({"options": "{not json"}, "options", "JSON object"),
        ({"options": '{"timeout": -1}'}, "options", "timeout"),
    ],
)
async def test_bad_input_is_shown_beside_its_field_and_changes_nothing(
    alice: Dashboard, api: Api, fields: dict[str, str], field: str, words: str
) -> None:
    form = {"name": "job", "url": "http://127.0.0.1:9/", "schedule": "every 1 hours", "timezone": "UTC", **fields}
    page = await alice.post("/ui/new", form)
    assert page.status == 400, page.text
    assert words.lower() in page.error_beside(field).lower(), page.text
    assert 'aria-invalid="true"' in page.text and "Traceback" not in page.text
    for name, value in form.items():  # what was typed stays in the form
        if name != "options":
            assert f'value="{value}"' in page.text.replace("&#x27;", "'") or name == "verb"
    assert await jobs_of(api) == {}


async def test_a_taken_name_is_shown_beside_the_name(alice: Dashboard, api: Api, sink: Sink) -> None:
    await api.create_job("ping", sink.url, "every 1 hours")
    page = await alice.post("/ui/new", {"name": "ping", "url": sink.url, "schedule": "every 1 hours"})
    assert page.status == 400 and "already have a job" in page.error_beside("name")


async def test_edit_a_job(alice: Dashboard, api: Api, sink: Sink) -> None:
    await api.create_job("ping", sink.url, "every 1 hours", tags=["a"], data={"url": sink.url, "timeout": 3})
    page = await alice.get("/ui/jobs/ping/edit")
    assert page.status == 200 and 'value="every hour"' in page.text and "&quot;timeout&quot;: 3" in page.text
    page = await alice.post(
        "/ui/jobs/ping/edit",
        {
            "url": sink.url + "/x",
            "verb": "GET",
            "schedule": "every 2 hours",
            "timezone": "UTC",
            "tags": "b",
            "enabled": "on",
            "options": '{"timeout": 3}',
        },
    )
    assert page.status == 303, page.text
    job = (await jobs_of(api))["ping"]
    assert (job["schedule"], job["tags"], job["data"]) == (
        "every 2 hours",
        ["b"],
        {"timeout": 3, "url": sink.url + "/x", "verb": "GET"},
    )
    page = await alice.post("/ui/jobs/ping/edit", {"url": sink.url, "schedule": "nope", "enabled": "on"})
    assert page.status == 400 and page.error_beside("schedule")
    assert (await jobs_of(api))["ping"]["schedule"] == "every 2 hours"


async def test_the_preview_answers_the_next_five_runs_or_what_is_wrong(alice: Dashboard) -> None:
    page = await alice.get("/ui/preview", htmx=True, schedule="every day @ 09:30", timezone="Asia/Tokyo")
    assert page.status == 200 and page.text.count("<li>") == 5 and "09:30:00 JST" in page.text
    page = await alice.get("/ui/preview", htmx=True, schedule="every day @ 25:00", timezone="UTC")
    assert page.status == 200 and "is not a time of day" in page.text


async def test_actions_without_javascript_post_and_redirect_back(alice: Dashboard, api: Api, sink: Sink) -> None:
    await api.create_job("ping", sink.url + "/p", "every 1 hours")
    page = await alice.post("/ui/jobs/ping/run", {"from": "list", "next": "/ui/?q=pi"})
    assert page.status == 303 and page.location == "/ui/?q=pi"
    await wait_for(lambda: sink.paths("/p"))
    page = await alice.get("/ui/?q=pi")
    assert "Job ping started" in page.text
    page = await alice.post("/ui/jobs/ping/pause", {"from": "job"})
    assert page.status == 303 and page.location == "/ui/jobs/ping"
    assert (await jobs_of(api))["ping"]["state"] == "disabled"
    await alice.post("/ui/jobs/ping/resume", {"from": "job"})
    assert (await jobs_of(api))["ping"]["state"] == "scheduled"
    page = await alice.get("/ui/jobs/ping/delete")
    assert page.status == 200 and "Delete job ping?" in page.text
    assert (await jobs_of(api))["ping"]  # asking deletes nothing
    page = await alice.post("/ui/jobs/ping/delete", {"from": "job"})
    assert page.status == 303 and page.location == "/ui/"
    assert await jobs_of(api) == {}


async def test_actions_from_htmx_answer_only_the_changed_row(alice: Dashboard, api: Api, sink: Sink) -> None:
    job = await api.create_job("ping", sink.url, "every 1 hours")
    await api.create_job("other", sink.url, "every 1 hours")
    page = await alice.post("/ui/jobs/ping/pause", {"from": "list", "next": "/ui/"}, htmx=True)
    assert page.status == 200
    assert page.text.count("<tr") == 1 and ">other<" not in page.text
    assert re.search(r'<tr id="job-\d+"', page.text) and ">Resume<" in page.text and "disabled" in page.text
    assert 'hx-swap-oob="innerHTML">Job ping paused' in page.text
    page = await alice.post("/ui/jobs/ping/resume", {"from": "job"}, htmx=True)
    assert '<section id="summary"' in page.text and ">Pause<" in page.text
    page = await alice.post("/ui/jobs/ping/delete", {"from": "list"}, htmx=True)
    assert page.status == 200 and "<tr" not in page.text and "Job ping deleted." in page.text
    assert list(await jobs_of(api)) == ["other"]
    assert job["name"] == "ping"


async def test_the_list_shows_state_last_outcome_chart_and_failing_count(
    alice: Dashboard, api: Api, sink: Sink
) -> None:
    sink.status = 503
    await api.create_job("broken", sink.url + "/b", "every 1 hours", tags=["ops"])
    await api.create_job("fine", sink.url + "/f", "every 1 hours")
    await api.call("PATCH", "/job/fine", json={"enabled": False})
    await api.call("POST", "/job/broken/run")

    async def failing() -> bool:
        return "(1 failing)" in (await alice.get("/ui/")).title()

    await wait_for(failing)
    page = await alice.get("/ui/")
    assert page.title() == "(1 failing) Jobs – veggiecron"
    assert "503" in page.text and "http_status" in page.text and 'class="failing"' in page.text
    assert '<svg class="chart" role="img" aria-label="Last 1 runs: 0 not failed, 1 failed' in page.text
    assert ">disabled</span>" in page.text and ">scheduled</span>" in page.text
    assert "Every hour" in page.text and "in 59 min" in page.text
    filtered = await alice.get("/ui/", failing="true")
    assert "/ui/jobs/broken" in filtered.text and "/ui/jobs/fine" not in filtered.text
    filtered = await alice.get("/ui/", state="disabled")
    assert "/ui/jobs/fine" in filtered.text and "/ui/jobs/broken" not in filtered.text
    filtered = await alice.get("/ui/", tag="ops", q="BROK")
    assert "/ui/jobs/broken" in filtered.text and "/ui/jobs/fine" not in filtered.text
    rows = await alice.get("/ui/", htmx=True, rows="1")
    assert "<title>(1 failing) Jobs" in rows.text and rows.text.count("<tr") == 2
    bad = await alice.get("/ui/", state="sleeping")
    assert bad.status == 400 and "state must be one of" in bad.error_beside("filter")
    page = await alice.get("/ui/jobs/broken", outcome="failed")
    assert page.status == 200 and "503" in page.text and ">sink ok</pre>" in page.text  # the response excerpt
    page = await alice.get("/ui/jobs/broken", outcome="ok")
    assert "No ok run in the history." in page.text


async def test_another_users_job_is_never_shown_or_reachable(
    alice: Dashboard, api: Api, sink: Sink, base_url: str
) -> None:
    await api.create_job("secret", sink.url + "/s", "every 1 hours")
    await api.register_and_login("bob", PASSWORD)
    bob = Dashboard(base_url)
    try:
        await bob.login("bob", PASSWORD)
        assert "secret" not in (await bob.get("/ui/")).text
        assert "/ui/jobs/secret" not in (await bob.get("/ui/", q="secret")).text
        for path in ("/ui/jobs/secret", "/ui/jobs/secret/edit", "/ui/jobs/secret/delete"):
            page = await bob.get(path)
            assert page.status == 404 and "Traceback" not in page.text, path
        for action in ("run", "pause", "resume", "delete"):
            page = await bob.post(f"/ui/jobs/secret/{action}", {"from": "list"})
            assert page.status == 404, action
        page = await bob.post("/ui/jobs/secret/edit", {"url": sink.url, "schedule": "every 1 minutes"})
        assert page.status in (400, 404) and "secret" not in str(await jobs_of(api))
    finally:
        await bob.close()
    assert not sink.paths("/s")


async def test_seed_schedules_appear_as_the_jobs_they_are(alice: Dashboard, api: Api, sink: Sink) -> None:
    status, body = await api.call(
        "POST",
        "/api/v1/schedule/",
        headers={"Authorization": f"Token {api.token}"},
        json={"interval_definition": "1 minutes", "endpoint": sink.url, "payload": {"a": 1}},
    )
    assert status == 201, body
    page = await alice.get("/ui/")
    assert f"/ui/jobs/seed-{body['id']}" in page.text and ">Seed</span>" in page.text
    page = await alice.get(f"/ui/jobs/seed-{body['id']}")
    assert f"Seed Scheduler schedule {body['id']}" in page.text and "/edit" not in page.text
    page = await alice.get(f"/ui/jobs/seed-{body['id']}/edit")
    assert page.status == 409 and "/api/v1/schedule/" in page.text


async def test_tokens_and_users(alice: Dashboard, api: Api, base_url: str, server: Server) -> None:
    page = await alice.get("/ui/tokens")
    assert page.status == 200 and "this session" in page.text
    other = re.findall(r"/ui/tokens/(\d+)/revoke", page.text)
    assert len(other) == 2  # the API login of the fixture and this session
    status, _ = await api.call("GET", "/job")
    assert status == 200
    ids = [i for i in other if f"#{i} <span" not in page.text]
    await alice.post(f"/ui/tokens/{ids[0]}/revoke")
    status, _ = await api.call("GET", "/job")
    assert status == 401  # the API token was the other one
    assert (await alice.get("/ui/users")).status == 403  # not an admin
    # An admin sees the users and revokes alice's tokens: her session ends too.
    admin_token = await server.ctx.accounts.ensure_admin("ops")
    await server.ctx.accounts.register("root", PASSWORD, is_admin=True)
    root = Dashboard(base_url)
    try:
        await root.login("root", PASSWORD)
        page = await root.get("/ui/users")
        assert page.status == 200 and "alice" in page.text and "ops" in page.text
        alice_id = re.search(r"alice.*?/ui/users/(\d+)/revoke-tokens", page.text, re.S).group(1)  # type: ignore[union-attr]
        page = await root.post(f"/ui/users/{alice_id}/revoke-tokens")
        assert page.status == 303
    finally:
        await root.close()
    assert admin_token.is_admin
    assert (await alice.get("/ui/")).status == 303  # logged out


async def test_errors_are_pages_without_tracebacks(
    alice: Dashboard, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = await alice.get("/ui/no/such/page")
    assert page.status == 404 and "no such page" in page.text
    assert page.headers["Content-Security-Policy"]

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(server.ctx.jobs, "list_jobs", broken)
    page = await alice.get("/ui/")
    assert page.status == 500 and "Something went wrong" in page.text
    assert "secret internals" not in page.text and "Traceback" not in page.text
