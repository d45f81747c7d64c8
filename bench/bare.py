"""A bare tornado server: what the same load generator gets from tornado alone, as the API's yardstick.

    python -m bench.bare            # prints "listening on http://127.0.0.1:PORT", serves until killed

GET /job/<name> answers a constant JSON body the size of veggiecron's answer for a job;
POST /job reads the body and answers 201. No authentication, no database, no scheduler: the
cost of tornado, the event loop and the HTTP exchange on this machine, measured in the same run.
"""

from __future__ import annotations

import asyncio
import sys

import orjson
import tornado.httpserver
import tornado.netutil
import tornado.web

from start import run

# About the size of GET /job/<name> for a plain http job with its ten recent runs.
READ_BODY = orjson.dumps({"id": "success", "description": 'Job "job1"', "data": {"padding": "x" * 2400}})
WRITE_BODY = orjson.dumps({"id": "success", "description": 'Successfully created http job: "x"', "data": {}})


class JobHandler(tornado.web.RequestHandler):
    def get(self, name: str) -> None:
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(READ_BODY)


class JobsHandler(tornado.web.RequestHandler):
    def post(self) -> None:
        orjson.loads(self.request.body)  # a write's body is read and parsed, as the API's is
        self.set_status(201)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(WRITE_BODY)


async def main() -> None:
    app = tornado.web.Application([(r"/job/([^/]+)", JobHandler), (r"/job/?", JobsHandler)])
    server = tornado.httpserver.HTTPServer(app)
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server.add_sockets(sockets)
    print(f"listening on http://127.0.0.1:{sockets[0].getsockname()[1]}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    sys.exit(run(main()))
