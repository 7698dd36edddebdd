"""TLS inside a lab: what each API declares so haproxy and the checks derive from it.

An API declares itself once, on its component class (``api = Api(...)``): its name, the
port on the VIP (TLS ends there), the port its backends listen on, the path a healthy
backend answers and whether the backends serve TLS themselves. haproxy's template derives
a frontend and a backend from each (``haproxy.config_values`` over
``deployer.roles.base.api_components()``), so a new API (Neutron, the Swift proxy) is one
line.

>>> Api("keystone", 5000, 5001, "/v3").backend_url("10.0.0.10")
'http://10.0.0.10:5001/v3'
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Api:
    """An HTTP API behind haproxy: TLS on the VIP (``public_port``); each backend on its
    node's own address (``backend_port``), in TLS when ``backend_tls`` (haproxy then
    re-encrypts and verifies it)."""

    name: str  # haproxy's frontend and backend name
    public_port: int
    backend_port: int
    health_path: str  # GET answered 200 by a healthy backend
    backend_tls: bool = False  # True once the component serves TLS with its node certificate

    def backend_url(self, ip: str) -> str:
        return f"{'https' if self.backend_tls else 'http'}://{ip}:{self.backend_port}{self.health_path}"
