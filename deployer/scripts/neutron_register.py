"""Neutron in Keystone, idempotently: project ``service``, user ``neutron`` with the admin
role there, the ``network`` service and its three endpoints. Runs inside a controller.

stdin: {"auth_url", "admin_password", "user", "password", "region", "url", "cacert"}
stdout: {"changed": [...]}
"""

import json
import sys


def authenticates(args: dict, project_id: str) -> bool:
    """The user gets a token in the project with its password. Straight through keystoneauth:
    ``openstack.connect`` would merge in the only cloud of the node's clouds.yaml (the
    admin's project, once the first deploy has written it), and the check would fail on
    every re-deploy. Only a 401 means a wrong password; any other error is raised."""
    from keystoneauth1 import exceptions, session
    from keystoneauth1.identity import v3

    auth = v3.Password(auth_url=args["auth_url"], username=args["user"], password=args["password"],
                       user_domain_name="Default", project_id=project_id)
    try:
        session.Session(auth=auth, verify=args["cacert"]).get_token()
    except exceptions.Unauthorized:
        return False
    return True


def main() -> None:
    import openstack

    args = json.loads(sys.stdin.read())
    conn = openstack.connect(load_yaml_config=False, load_envvars=False,  # only these arguments
                             auth_url=args["auth_url"], username="admin", password=args["admin_password"],
                             project_name="admin", user_domain_name="Default", project_domain_name="Default",
                             region_name=args["region"], cacert=args["cacert"], identity_interface="public")
    idm = conn.identity
    changed = []
    project = idm.find_project("service", domain_id="default")
    if project is None:
        project = idm.create_project(name="service", domain_id="default", description="OpenStack services")
        changed.append("project service")
    user = idm.find_user(args["user"], domain_id="default")
    if user is None:
        user = idm.create_user(name=args["user"], password=args["password"], domain_id="default",
                               default_project_id=project.id)
        changed.append(f"user {args['user']}")
    elif not authenticates(args, project.id):  # only then: a password change revokes the user's tokens
        idm.update_user(user, password=args["password"])
        changed.append(f"password of {args['user']}")
    admin = idm.find_role("admin")
    if not idm.validate_user_has_project_role(project, user, admin):
        idm.assign_project_role_to_user(project, user, admin)
        changed.append("role admin")
    service = next((s for s in idm.services() if s.type == "network"), None)
    if service is None:
        service = idm.create_service(name="neutron", type="network", description="OpenStack Networking")
        changed.append("service network")
    have = {(e.interface, e.url) for e in idm.endpoints(service_id=service.id)}
    for interface in ("public", "internal", "admin"):
        if (interface, args["url"]) not in have:
            idm.create_endpoint(service_id=service.id, interface=interface, url=args["url"],
                                region_id=args["region"])
            changed.append(f"endpoint {interface}")
    print(json.dumps({"changed": changed}))


if __name__ == "__main__":
    main()
