"""SQL on a Galera node through the unix socket as root (Debian's default): the wsrep
status the deploy steers by, and the accounts the lab needs.

Passwords travel on the client's stdin, never in argv (argv is visible in ``ps``).

>>> parse_status("wsrep_cluster_size\\t3\\nwsrep_cluster_status\\tPrimary\\n")
{'wsrep_cluster_size': '3', 'wsrep_cluster_status': 'Primary'}
>>> netmask_host("10.40.0.10/24")
'10.40.0.0/255.255.255.0'
"""

from __future__ import annotations

import ipaddress
from typing import Any

from deployer.context import Context, render

SST_USER = "sst"
CHECK_USER = "haproxy"
APP_USER = APP_DB = "stacklab"
STATUS_SQL = ("SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_cluster_status', 'wsrep_cluster_size', "
              "'wsrep_local_state_comment', 'wsrep_ready', 'wsrep_connected')")


def parse_status(text: str) -> dict[str, str]:
    return dict(line.split("\t", 1) for line in text.splitlines() if "\t" in line)


def netmask_host(address: str) -> str:
    """MariaDB's account host for a whole network ('net/mask': it takes no prefix length)."""
    net = ipaddress.ip_interface(address).network
    return f"{net.network_address}/{net.netmask}"


def mysql(ctx: Context, node: str, script: str, *, check: bool = True, timeout: float = 30) -> str:
    """Run SQL (on stdin) as root; tab-separated rows without headers."""
    done = ctx.t.run(node, ["mysql", "-NB"], input=script, check=check, timeout=timeout, step="galera: sql")
    return done.stdout if done.ok else ""


def status(ctx: Context, node: str) -> dict[str, str]:
    """The node's wsrep status; {} when mariadb is not answering."""
    return parse_status(mysql(ctx, node, STATUS_SQL, check=False, timeout=10))


def account_values(ctx: Context, check_hosts: list[str]) -> dict[str, Any]:
    """Template values of galera-accounts*.sql.j2."""
    return {"lab": ctx.inv.lab, "app_db": APP_DB, "app_user": APP_USER,
            "app_host": netmask_host(ctx.inv.with_role("controller")[0].addresses["mgmt"]),
            "app_password": ctx.secrets.password("db_stacklab"), "check_user": CHECK_USER,
            "check_hosts": check_hosts, "sst_user": SST_USER, "sst_password": ctx.secrets.password("db_sst")}


def ensure_accounts(ctx: Context, node: str, controller_ips: list[str]) -> None:
    """Create or fix the accounts when any expected fact is missing (once, on a Primary
    node: Galera replicates account statements to every member)."""
    # The VIP too: should haproxy's check ever leave from it, it still logs in (USAGE only).
    values = account_values(ctx, [*controller_ips, ctx.inv.vip])
    want = 4 + len(values["check_hosts"])
    have = mysql(ctx, node, render("galera-accounts-check.sql.j2", **values)).strip()
    if have == str(want):
        return
    mysql(ctx, node, render("galera-accounts.sql.j2", **values))
    ctx.changed(f"{node}:galera accounts")
