"""The dashboard shows a secret header as {"secret": "set"}, on the job's page and in its edit
form, and the form posted back as it came keeps the secret."""

from __future__ import annotations

import json
from html import unescape

from tests.api.test_secret_headers import SET, TOKEN, job_of
from tests.api.test_signing import run_now
from tests.helpers import Api, Sink
from tests.ui.client import Dashboard


async def test_the_dashboard_shows_set_and_its_edit_form_keeps_the_secret(
    alice: Dashboard, api: Api, sink: Sink
) -> None:
    url = sink.url + "/dash"
    await api.create_job("dash", url, schedule="every 1 hours", data={"url": url, "headers": {"K": {"secret": TOKEN}}})
    page = await alice.get("/ui/jobs/dash")
    assert page.status == 200 and TOKEN not in page.text and "v1:" not in page.text
    assert "&quot;secret&quot;: &quot;set&quot;" in page.text
    form = await alice.get("/ui/jobs/dash/edit")
    assert form.status == 200 and TOKEN not in form.text and "v1:" not in form.text
    options = unescape(form.text.split('name="options"')[1].split(">", 1)[1].split("</textarea>")[0])
    assert json.loads(options) == {"headers": {"K": SET}}
    # The form posted back as it came, with the schedule changed.
    page = await alice.post(
        "/ui/jobs/dash/edit",
        {
            "url": url,
            "verb": "GET",
            "schedule": "every 2 hours",
            "timezone": "UTC",
            "enabled": "on",
            "options": options,
        },
    )
    assert page.status == 303, page.text
    assert (await job_of(api, "dash"))["schedule"] == "every 2 hours"
    (hit,) = await run_now(api, sink, "dash", 1)
    assert hit.headers["K"] == TOKEN
