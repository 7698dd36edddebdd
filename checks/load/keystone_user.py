"""Locustfile (runs INSIDE a lab node): a Keystone client as a real cloud's services and
users are, over TLS through the API VIP, the lab CA verified.

Identity traffic in a cloud is mostly token validation (every service validates the
token of every request it gets), then token issue (each CLI call, each service's own
token), then reads (project and user lists), and few writes. Weights per user::

    token validate   GET  /v3/auth/tokens      10
    token issue      POST /v3/auth/tokens       3
    project list     GET  /v3/projects          2
    user list        GET  /v3/users             2
    project create   POST /v3/projects          1   (then, as its own request:)
    project delete   DELETE /v3/projects/ID

Credentials (the admin of clouds.yaml) come from config.json, never argv. Each request
has a 1 s connect and 5 s read timeout: a dead VIP holder shows as failures within
seconds, not as users hung for requests' default (none). ``config.json`` may override
``auth_url`` (the bench's straight-to-one-controller run) and the think time. Projects this user created and
could not delete (a fault hit the DELETE) are deleted when the user stops.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from load_common import config  # shipped beside this file
from locust import HttpUser, between, tag, task

CFG = config()
TIMEOUT = (1.0, 5.0)  # (connect incl. TLS, each read)


def token_body() -> dict[str, Any]:
    user = {"name": CFG["username"], "domain": {"name": CFG["user_domain_name"]}, "password": CFG["password"]}
    scope = {"project": {"name": CFG["project_name"], "domain": {"name": CFG["project_domain_name"]}}}
    return {"auth": {"identity": {"methods": ["password"], "password": {"user": user}}, "scope": scope}}


class KeystoneUser(HttpUser):
    host = CFG["auth_url"].rstrip("/")
    wait_time = between(float(CFG.get("wait_min", 0.2)), float(CFG.get("wait_max", 1.0)))

    def on_start(self) -> None:
        self.client.verify = CFG["cacert"]
        self.token = ""
        self.leftovers: list[str] = []
        self.issue_token()

    def headers(self) -> dict[str, str]:
        return {"X-Auth-Token": self.token, "Accept": "application/json"}

    @tag("issue")  # the bench runs token issue alone: locust --tags issue
    @task(3)
    def issue_token(self) -> None:
        with self.client.post("/auth/tokens", json=token_body(), name="token issue", timeout=TIMEOUT,
                              catch_response=True) as resp:
            if resp.status_code == 201:
                self.token = resp.headers.get("X-Subject-Token", "")
            elif resp.status_code:  # 0: no answer; locust reports the exception (timeout, refused) itself
                resp.failure(f"HTTP {resp.status_code}")

    @task(10)
    def validate_token(self) -> None:
        if not self.token:
            return self.issue_token()
        self.client.get("/auth/tokens", headers={**self.headers(), "X-Subject-Token": self.token},
                        name="token validate", timeout=TIMEOUT)

    @task(2)
    def list_projects(self) -> None:
        if self.token:
            self.client.get("/projects", headers=self.headers(), name="project list", timeout=TIMEOUT)

    @task(2)
    def list_users(self) -> None:
        if self.token:
            self.client.get("/users", headers=self.headers(), name="user list", timeout=TIMEOUT)

    @task(1)
    def create_and_delete_project(self) -> None:
        if not self.token:
            return
        body = {"project": {"name": f"stacklab-load-{uuid.uuid4().hex[:12]}", "domain_id": "default",
                            "description": "made and deleted by the stacklab Keystone load"}}
        resp = self.client.post("/projects", json=body, headers=self.headers(), name="project create",
                                timeout=TIMEOUT)
        if resp.status_code != 201:
            return
        self.delete_project(json.loads(resp.text)["project"]["id"])

    def delete_project(self, project_id: str) -> None:
        resp = self.client.delete(f"/projects/{project_id}", headers=self.headers(), name="project delete",
                                  timeout=TIMEOUT)
        if resp.status_code not in (204, 404):
            self.leftovers.append(project_id)

    def on_stop(self) -> None:
        """Leave the cloud as found: retry the deletes a fault made fail (once each)."""
        todo, self.leftovers = self.leftovers, []
        for project_id in todo:
            self.client.delete(f"/projects/{project_id}", headers=self.headers(), name="cleanup", timeout=TIMEOUT)
