"""Locustfile (runs INSIDE a lab node): locust's own ceiling. Users with no think time GET
a responder in the same node (loopback; the bench starts haproxy answering 200 ``ok``
itself), so the client, not a service, saturates: figures above this RPS on one node
measure locust, not the cloud. Same HTTP client as the Keystone users (``HttpUser``).
"""

from __future__ import annotations

from load_common import config  # shipped beside this file
from locust import HttpUser, constant, task

CFG = config()


class CeilingUser(HttpUser):
    host = CFG["url"]
    wait_time = constant(0)

    @task
    def get(self) -> None:
        self.client.get("/", name="responder", timeout=(1.0, 5.0))
