"""The cloud's tenant resources through the real Neutron API (openstacksdk), idempotently:
networks, subnets, security groups and rules, routers (external gateway, interfaces),
instance ports bound to their compute (``binding:host_id``) and floating IPs, all in
the admin project. Runs inside a lab node with ``/etc/openstack/clouds.yaml``.

stdin: {"cloud": NAME, "tenant": <deployer.model.Tenant as JSON>, "placement": {instance: compute},
        "lb_hosts": {load balancer: network node}, "physnet": NAME, "device_owner": STR}
stdout: {"changed": [...], "instances": {name: {"port", "mac", "ip", "mtu", "compute", "fip"}},
         "load_balancers": {name: {"port", "mac", "ip", "prefix", "gateway", "host", "fip"}}}
"""

import json
import sys
from typing import Any


def ensure_networks(conn: Any, tenant: dict, physnet: str, changed: list) -> dict:
    nets = {}
    for spec in tenant["networks"]:
        net = conn.network.find_network(spec["name"])
        if net is None:
            attrs = {"name": spec["name"], "is_router_external": spec["external"]}
            attrs["provider_network_type"] = spec["type"]
            if spec["type"] == "flat":
                attrs["provider_physical_network"] = physnet
            elif spec["segment"] is not None:
                attrs["provider_segmentation_id"] = spec["segment"]
            if spec["mtu"] is not None:
                attrs["mtu"] = spec["mtu"]
            net = conn.network.create_network(**attrs)
            changed.append(f"network {spec['name']}")
        elif spec["mtu"] is not None and net.mtu != spec["mtu"]:
            net = conn.network.update_network(net, mtu=spec["mtu"])
            changed.append(f"network {spec['name']} mtu {spec['mtu']}")
        nets[spec["name"]] = net
    return nets


def ensure_subnets(conn: Any, tenant: dict, nets: dict, changed: list) -> dict:
    subnets = {}
    for spec in tenant["subnets"]:
        sub = conn.network.find_subnet(spec["name"])
        if sub is None:
            attrs = {"name": spec["name"], "network_id": nets[spec["network"]].id, "ip_version": 4,
                     "cidr": spec["cidr"], "is_dhcp_enabled": spec["dhcp"]}
            if spec["gateway"] is not None:
                attrs["gateway_ip"] = spec["gateway"]
            elif nets[spec["network"]].is_router_external:
                attrs["gateway_ip"] = None  # "the Internet" has no router of ours behind it
            if spec.get("pool"):
                attrs["allocation_pools"] = [{"start": spec["pool"][0], "end": spec["pool"][1]}]
            sub = conn.network.create_subnet(**attrs)
            changed.append(f"subnet {spec['name']}")
        subnets[spec["name"]] = sub
    return subnets


def ensure_groups(conn: Any, tenant: dict, project: str, changed: list) -> dict:
    from openstack import exceptions

    list(conn.network.security_groups(project_id=project))  # Neutron makes the project's 'default' on a list
    groups = {"default": conn.network.find_security_group("default", project_id=project)}
    for spec in tenant["security_groups"]:
        sg = conn.network.find_security_group(spec["name"], project_id=project)
        if sg is None:
            sg = conn.network.create_security_group(name=spec["name"])
            changed.append(f"security group {spec['name']}")
        groups[spec["name"]] = sg
    for spec in tenant["security_groups"]:
        for rule in spec["rules"]:
            attrs = {"security_group_id": groups[spec["name"]].id, "direction": rule["direction"],
                     "ethertype": "IPv4"}
            if rule["protocol"] != "any":
                attrs["protocol"] = rule["protocol"]
            if rule["port_min"] is not None:
                attrs["port_range_min"] = rule["port_min"]
                attrs["port_range_max"] = rule["port_max"] or rule["port_min"]
            if rule["remote_cidr"] is not None:
                attrs["remote_ip_prefix"] = rule["remote_cidr"]
            if rule["remote_group"] is not None:
                attrs["remote_group_id"] = groups[rule["remote_group"]].id
            try:
                conn.network.create_security_group_rule(**attrs)
                changed.append(f"rule {spec['name']} {rule['direction']} {rule['protocol']}")
            except exceptions.ConflictException:
                pass  # the same rule exists already
    return groups


def ensure_routers(conn: Any, tenant: dict, nets: dict, subnets: dict, changed: list) -> None:
    for spec in tenant["routers"]:
        router = conn.network.find_router(spec["name"])
        gateway = {"network_id": nets[spec["external_network"]].id} if spec["external_network"] else None
        if router is None:
            attrs = {"name": spec["name"]}
            if gateway:
                attrs["external_gateway_info"] = gateway
            router = conn.network.create_router(**attrs)
            changed.append(f"router {spec['name']}")
        attached = {ip["subnet_id"] for p in conn.network.ports(device_id=router.id) for ip in p.fixed_ips}
        for name in spec["subnets"]:
            if subnets[name].id not in attached:
                conn.network.add_interface_to_router(router, subnet_id=subnets[name].id)
                changed.append(f"router {spec['name']} interface {name}")


def ensure_instances(conn: Any, args: dict, nets: dict, subnets: dict, groups: dict, changed: list) -> dict:
    out = {}
    by_net = {s.id: s.network_id for s in subnets.values()}
    for spec in args["tenant"]["instances"]:
        host = args["placement"][spec["name"]]
        sub = subnets[spec["subnet"]]
        sgs = sorted(groups[g].id for g in spec["security_groups"])
        port = conn.network.find_port(f"inst-{spec['name']}")
        if port is None:
            fixed = {"subnet_id": sub.id, **({"ip_address": spec["address"]} if spec["address"] else {})}
            port = conn.network.create_port(name=f"inst-{spec['name']}", network_id=by_net[sub.id],
                                            fixed_ips=[fixed], security_group_ids=sgs, binding_host_id=host,
                                            device_owner=args["device_owner"], device_id=f"stacklab-{spec['name']}")
            changed.append(f"port of {spec['name']} on {host}")
        elif port.binding_host_id != host or sorted(port.security_group_ids) != sgs:
            port = conn.network.update_port(port, binding_host_id=host, security_group_ids=sgs)
            changed.append(f"port of {spec['name']} updated")
        net = next(v for v in nets.values() if v.id == port.network_id)
        out[spec["name"]] = {"port": port.id, "mac": port.mac_address, "ip": port.fixed_ips[0]["ip_address"],
                             "mtu": spec["mtu"] or net.mtu, "compute": host, "fip": None}
    return out


def ensure_load_balancers(conn: Any, args: dict, subnets: dict, groups: dict, changed: list) -> dict:
    """Each load balancer's VIP port, as neutron-lbaas v1 made it: a port on the subnet (in the
    groups given, else Neutron puts it in 'default', as v1 did by giving none), then plugged
    for the agent's host (``plug_vip_port``: device_owner neutron:LOADBALANCER, binding host)."""
    out = {}
    for spec in args["tenant"]["load_balancers"]:
        host, sub = args["lb_hosts"][spec["name"]], subnets[spec["subnet"]]
        sgs = sorted(groups[g].id for g in spec["security_groups"])
        port = conn.network.find_port(f"lbaas-{spec['name']}")
        if port is None:
            port = conn.network.create_port(name=f"lbaas-{spec['name']}", network_id=sub.network_id,
                                            fixed_ips=[{"subnet_id": sub.id}], security_group_ids=sgs,
                                            binding_host_id=host, device_owner="neutron:LOADBALANCER",
                                            device_id=f"stacklab-lb-{spec['name']}")
            changed.append(f"VIP port of load balancer {spec['name']} on {host}")
        elif port.binding_host_id != host or sorted(port.security_group_ids) != sgs:
            port = conn.network.update_port(port, binding_host_id=host, security_group_ids=sgs)
            changed.append(f"VIP port of load balancer {spec['name']} updated")
        prefix = sub.cidr.split("/")[1]
        out[spec["name"]] = {"port": port.id, "mac": port.mac_address, "ip": port.fixed_ips[0]["ip_address"],
                             "prefix": int(prefix), "gateway": sub.gateway_ip, "host": host, "fip": None}
    return out


def ensure_floating_ips(conn: Any, tenant: dict, nets: dict, targets: dict, changed: list) -> None:
    """Floating IPs to instances and load balancer VIPs (``targets``: name -> its port)."""
    for spec in tenant["floating_ips"]:
        target = targets[spec["instance"]]
        fips = list(conn.network.ips(port_id=target["port"]))
        if not fips:
            fips = [conn.network.create_ip(floating_network_id=nets[spec["network"]].id, port_id=target["port"])]
            changed.append(f"floating ip of {spec['instance']}")
        target["fip"] = fips[0].floating_ip_address


def main() -> None:
    import openstack

    args = json.loads(sys.stdin.read())
    conn = openstack.connect(cloud=args["cloud"])
    tenant = args["tenant"]
    changed: list[str] = []
    nets = ensure_networks(conn, tenant, args["physnet"], changed)
    subnets = ensure_subnets(conn, tenant, nets, changed)
    groups = ensure_groups(conn, tenant, conn.current_project_id, changed)
    ensure_routers(conn, tenant, nets, subnets, changed)
    instances = ensure_instances(conn, args, nets, subnets, groups, changed)
    balancers = ensure_load_balancers(conn, args, subnets, groups, changed)
    ensure_floating_ips(conn, tenant, nets, {**instances, **balancers}, changed)
    print(json.dumps({"changed": changed, "instances": instances, "load_balancers": balancers}))


if __name__ == "__main__":
    main()
