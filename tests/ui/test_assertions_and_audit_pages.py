"""The dashboard: the history names a failed assertion, the form carries assertions, the audit page lists changes."""

from __future__ import annotations

import html

from tests.api.test_runs import run_now, wait_for_runs
from tests.helpers import Api, Sink
from tests.ui.client import Dashboard

EXPECT = '{"expect": {"json": [{"pointer": "/status", "equals": "ok"}], "header": {"name": "X-A", "matches": "^b"}}}'


async def test_the_form_edits_assertions_and_the_history_shows_the_failed_one(
    alice: Dashboard, api: Api, sink: Sink
) -> None:
    sink.body = b'{"status": "down"}'
    sink.response_headers = {"X-A": "b"}
    form = {"name": "health", "url": sink.url + "/h", "schedule": "every 1 hours", "timezone": "UTC"}
    page = await alice.post("/ui/new", {**form, "options": EXPECT, "enabled": "on"})
    assert page.status == 303, page.text
    status, body = await api.call("GET", "/job/health")
    assert body["data"]["data"]["expect"] == {
        "json": [{"pointer": "/status", "equals": "ok"}],
        "header": {"name": "X-A", "matches": "^b"},
    }
    # The edit form shows the assertions and posting it back unchanged keeps them.
    page = await alice.get("/ui/jobs/health/edit")
    assert "&quot;pointer&quot;: &quot;/status&quot;" in page.text, page.text
    page = await alice.post("/ui/jobs/health/edit", {**form, "options": EXPECT, "enabled": "on"})
    assert page.status == 303, page.text
    assert (await api.call("GET", "/job/health"))[1]["data"]["data"] == body["data"]["data"]
    await run_now(api, "health")
    run = (await wait_for_runs(api, "health"))[0]
    assert run["error_class"] == "assertion"
    page = await alice.get("/ui/jobs/health")
    text = html.unescape(page.text)
    assert "<strong>assertion</strong>" in text and 'expect.json[0] /status: expected "ok", saw "down"' in text
    # A bad assertion is shown beside the options and changes nothing.
    bad = '{"expect": {"json": [{"pointer": "status", "equals": "ok"}]}}'
    page = await alice.post("/ui/jobs/health/edit", {**form, "options": bad, "enabled": "on"})
    assert page.status == 400 and "JSON Pointer" in page.error_beside("options"), page.text
    status, after = await api.call("GET", "/job/health")
    assert after["data"]["data"] == body["data"]["data"]


async def test_the_audit_page_shows_the_users_changes(alice: Dashboard, api: Api, sink: Sink) -> None:
    await api.create_job("ping", sink.url, "every 1 hours")
    page = await alice.post(
        "/ui/jobs/ping/edit",
        {"url": sink.url, "verb": "GET", "schedule": "every 3 hours", "timezone": "UTC", "enabled": "on"},
    )
    assert page.status == 303, page.text
    page = await alice.get("/ui/audit")
    text = html.unescape(page.text)
    assert page.status == 200 and "<td>job.changed</td>" in text and "<td>job.created</td>" in text
    assert 'schedule: "every hour" → "every 3 hours"' in text and "127.0.0.1" in text
    page = await alice.get("/ui/audit", action="job.created")
    assert "<td>job.created</td>" in page.text and "<td>job.changed</td>" not in page.text
