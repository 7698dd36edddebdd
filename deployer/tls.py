"""TLS inside a lab: what each API declares so haproxy, the deploy and the checks derive from it.

An API declares itself once, on its component class (``api = Api(...)``): its name, the
port on the VIP (TLS ends there), the port its backends listen on, the path a healthy
backend answers, whether the backends serve TLS themselves, and how long the deploy
waits for it. haproxy's template derives a frontend and a backend from each
(``haproxy.config_values`` over ``deployer.roles.base.api_components()``), and the
component's ``ready`` is ``wait_ready`` over it, so a new API (Neutron, the Swift proxy)
is one line.

>>> Api("keystone", 5000, 5001, "/v3").backend_url("10.0.0.10")
'http://10.0.0.10:5001/v3'
>>> Api("neutron", 9696, 9697, "/").public_url("api.lab")
'https://api.lab:9696/'
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from deployer.roles.haproxy_stat import server_states

if TYPE_CHECKING:
    from deployer.context import Context
    from deployer.inventory import Host


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
    answer_timeout: float = 90  # deploy: how long the VIP URL may take to answer after a (re)start
    backends_timeout: float = 60  # deploy: then, how long until every haproxy sees every backend UP

    def backend_url(self, ip: str) -> str:
        return f"{'https' if self.backend_tls else 'http'}://{ip}:{self.backend_port}{self.health_path}"

    def public_url(self, vip_name: str) -> str:
        return f"https://{vip_name}:{self.public_port}{self.health_path}"


def ca_path(lab: str) -> str:
    """Where every node keeps the lab CA (update-ca-certificates adds it to the bundle)."""
    return f"/usr/local/share/ca-certificates/stacklab-{lab}.crt"


def answers(ctx: Context, node: str, url: str, cacert: str = "") -> bool:
    """``GET url`` from ``node`` answers 2xx/3xx within 5 s (TLS verified against ``cacert``)."""
    argv = ["curl", "-sf", "-o", "/dev/null", "--max-time", "5", *(["--cacert", cacert] if cacert else []), url]
    return ctx.t.run(node, argv, check=False, timeout=15).ok


def wait_ready(ctx: Context, api: Api, hosts: list[Host], unit: str) -> None:
    """``api``'s URL on the VIP answers from the first of ``hosts`` (verified TLS, by name),
    then haproxy on each of ``hosts`` sees every one of them UP in ``api``'s backend."""
    first = hosts[0].name
    url = api.public_url(ctx.inv.vip_name)
    ctx.wait(f"GET {url} from {first}", partial(answers, ctx, first, url, ca_path(ctx.inv.lab)),
             timeout=api.answer_timeout, node=first, unit=unit)

    def all_up(node: str) -> bool:
        states = server_states(ctx, node)
        return all(states.get((api.name, h.name)) == "UP" for h in hosts)

    for host in hosts:
        ctx.wait(f"every {api.name} backend UP in haproxy on {host.name}", partial(all_up, host.name),
                 timeout=api.backends_timeout, node=host.name, unit="haproxy")
