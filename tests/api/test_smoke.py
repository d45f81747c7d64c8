from tests.helpers import Api, Sink, wait_for


async def test_job_fires_at_sink(user_api: Api, sink: Sink) -> None:
    await user_api.create_job("ping", sink.url + "/ping")
    await wait_for(lambda: len(sink.paths("/ping")) >= 2, timeout=4)
    hit = sink.paths("/ping")[0]
    assert hit.method == "GET"
    assert hit.headers["X-Veggiecron-Job"].isdigit()
