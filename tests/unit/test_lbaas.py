"""The Liberty-style load balancer (deployer.roles.lbaas): haproxy.cfg as neutron-lbaas v1's
cfg.py built it, the namespace side left at 1500 unless the scenario fixes it, and the
member states read from haproxy's stats socket."""

from __future__ import annotations

from types import SimpleNamespace

from deployer.model import LoadBalancer
from deployer.roles import lbaas

LB = LoadBalancer(name="lb1", subnet="private-sub", members=["vm1", "vm2"])
PORT = {"port": "0123456789abcdef", "mac": "fa:16:3e:00:00:01", "ip": "192.168.10.50", "prefix": 24,
        "gateway": "192.168.10.1", "host": "ctl1"}


def test_the_config_is_the_v1_drivers() -> None:
    text = "\n".join(lbaas.config(LB, "192.168.10.50", {"vm1": "192.168.10.11", "vm2": "192.168.10.12"}))
    for line in ("\tretries 3", "\toption redispatch", "\ttimeout connect 5000", "\tbind 192.168.10.50:80",
                 "\tmode http", "\tbalance roundrobin", "\toption httpchk GET /", "\thttp-check expect rstatus 200",
                 "\tserver vm1 192.168.10.11:80 weight 1 check inter 2s fall 2",
                 f"\tstats socket {lbaas.stats_socket('lb1')} mode 0666 level user"):
        assert line in text.splitlines(), line


def test_the_vip_interface_keeps_1500_unless_the_scenario_sets_it() -> None:
    assert "MTU=1500;" in lbaas.plug_script(LB, PORT, {"vm1": "192.168.10.11"})
    fixed = LB.model_copy(update={"mtu": 1450})
    assert "MTU=1450;" in lbaas.plug_script(fixed, PORT, {"vm1": "192.168.10.11"})
    assert lbaas.devices(PORT["port"]) == ("tap0123456789a", "ns-0123456789a")
    assert "route replace default via 192.168.10.1" in lbaas.plug_script(LB, PORT, {})


def test_member_states_from_the_stats_socket() -> None:
    stat = ("# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status\n"
            "pool-lb1,vm1,0,0,0,0,,0,0,0,,0,,0,0,0,0,UP\n"
            "pool-lb1,vm2,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN 1/2\n")
    states = lbaas.member_states(lambda node, argv: SimpleNamespace(stdout=stat), "ctl1", "lb1")
    assert states == {"vm1": "UP", "vm2": "DOWN"}
    assert lbaas.member_states(lambda node, argv: SimpleNamespace(stdout=""), "ctl1", "lb1") == {}
