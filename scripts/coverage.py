#!/usr/bin/env python3
"""Client-Server API coverage: which operations of the spec nebu serves.

Reads the operations of the Client-Server API from scripts/cs_api_operations.tsv (made
from the spec's OpenAPI files by `--spec DIR --write-list`, DIR being the spec's
data/api/client-server; the list is in the repository so that a clean clone can run
this), starts build/app/nebu (or --nebu PATH) on loopback with a fresh data directory,
registers a user, and sends every operation once with dummy parameters and that
user's access token. An operation is "present" when the answer is anything but
M_UNRECOGNIZED (a 404 or 405 carrying that errcode, which is what the router answers
for a path or method it does not serve). Prints one line per operation and the total:

    scripts/coverage.py                    # present 120 of 166 (72 %)
    scripts/coverage.py --missing          # only the missing operations
    scripts/coverage.py --exclude-area media,sso   # leave out what other issues own
    scripts/coverage.py --spec ../shared/matrix-spec/data/api/client-server --write-list

Exit status 0 when the probe ran (whatever the count), 1 when it could not run.
Only loopback addresses are used; each request has a 10 s timeout.
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Operations that belong to other issues' areas, by spec file, for --exclude-area.
AREAS = {
    "media": {"content-repo.yaml", "authed-content-repo.yaml"},
    "sso": {"sso_login_redirect.yaml"},
    "oauth": {"oauth_server_metadata.yaml"},
    "appservice": {"appservice_ping.yaml", "appservice_room_directory.yaml"},
}

DUMMY = {
    "roomId": "!coverage:localhost",
    "roomIdOrAlias": "!coverage:localhost",
    "roomAlias": "#coverage:localhost",
    "eventId": "$coverage",
    "userId": None,  # the probing user
    "eventType": "m.coverage",
    "stateKey": "",
    "txnId": "coverage-txn",
    "type": "m.coverage",
    "deviceId": "COVERAGE",
    "filterId": "0",
    "tag": "u.coverage",
    "scope": "global",
    "kind": "override",
    "ruleId": "coverage",
    "action": "actions",
    "relType": "m.reference",
    "serverName": "localhost",
    "mediaId": "coverage",
    "protocol": "coverage",
    "version": "1",
    "loginType": "m.login.sso",
    "idpId": "coverage",
    "keyName": "u.coverage",
    "medium": "email",
    "name": "coverage",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(base, method, path, token=None, body=None):
    data = None
    headers = {}
    if token:
        headers["Authorization"] = "Bearer " + token
    if method in ("POST", "PUT"):
        data = json.dumps(body if body is not None else {}).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def operations(spec_dir, excluded_files):
    ops = []
    for name in sorted(os.listdir(spec_dir)):
        if not name.endswith(".yaml") or name in excluded_files:
            continue
        with open(os.path.join(spec_dir, name)) as f:
            doc = yaml.safe_load(f)
        if not isinstance(doc, dict) or "paths" not in doc:
            continue
        base = ""
        for server in doc.get("servers", []):
            variables = server.get("variables", {})
            base = variables.get("basePath", {}).get("default", "")
            break
        for path, item in doc["paths"].items():
            for method in ("get", "put", "post", "delete"):
                if method in item:
                    op = item[method]
                    ops.append({
                        "file": name,
                        "method": method.upper(),
                        "path": base + path,
                        "id": op.get("operationId", "?"),
                        "deprecated": bool(op.get("deprecated", False)),
                    })
    return ops


LIST = os.path.join(ROOT, "scripts/cs_api_operations.tsv")
LIST_HEADER = ("# The Client-Server API operations of the Matrix spec (method, path, spec file,\n"
               "# operationId, deprecated), made by scripts/coverage.py --write-list.\n")


def write_list(ops):
    with open(LIST, "w") as f:
        f.write(LIST_HEADER)
        for op in ops:
            f.write("\t".join([op["method"], op["path"], op["file"], op["id"],
                                "deprecated" if op["deprecated"] else ""]) + "\n")


def read_list(excluded_files):
    ops = []
    with open(LIST) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            method, path, name, op_id, deprecated = line.rstrip("\n").split("\t")
            if name in excluded_files:
                continue
            ops.append({"method": method, "path": path, "file": name, "id": op_id,
                        "deprecated": deprecated == "deprecated"})
    return ops


def fill(path, user_id):
    def sub(m):
        key = m.group(1)
        value = user_id if key == "userId" else DUMMY.get(key, "coverage")
        return urllib.request.quote(value, safe="")
    return re.sub(r"\{([A-Za-z]+)\}", sub, path)


def start_nebu(binary):
    data_dir = tempfile.mkdtemp(prefix="nebu-coverage-")
    client, ops_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEBU_")}
    env.update({
        "NEBU_DATA_DIR": data_dir,
        "NEBU_CLIENT_ADDR": "127.0.0.1:%d" % client,
        "NEBU_OPS_ADDR": "127.0.0.1:%d" % ops_port,
        "NEBU_REGISTRATION": "open",
        "NEBU_RATE_LIMIT": "off",
        "NEBU_LOG_LEVEL": "error",
        "NEBU_SERVER_NAME": "localhost",
        # Single sign-on configured (its routes exist only then) against a provider that
        # is not there: the SSO operations answer, with 502 for the unreachable provider.
        "NEBU_OIDC_ISSUER": "http://127.0.0.1:9",
        "NEBU_OIDC_CLIENT_ID": "coverage",
        "NEBU_OIDC_CLIENT_SECRET": "coverage-secret",
        "NEBU_PUBLIC_BASEURL": "http://127.0.0.1:%d" % client,
    })
    proc = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL)
    base = "http://127.0.0.1:%d" % client
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            status, _ = request(base, "GET", "/_matrix/client/versions")
            if status == 200:
                return proc, base, data_dir
        except OSError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    shutil.rmtree(data_dir, ignore_errors=True)
    raise RuntimeError("nebu did not start")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nebu", default=os.path.join(ROOT, "build/app/nebu"))
    parser.add_argument("--spec", help="the spec's data/api/client-server, for --write-list")
    parser.add_argument("--write-list", action="store_true",
                        help="rewrite scripts/cs_api_operations.tsv from --spec and exit")
    parser.add_argument("--missing", action="store_true", help="print only missing operations")
    parser.add_argument("--exclude-area", default="",
                        help="comma-separated: " + ",".join(sorted(AREAS)))
    args = parser.parse_args()
    excluded = set()
    for area in filter(None, args.exclude_area.split(",")):
        excluded |= AREAS[area]
    if args.write_list:
        if not args.spec:
            parser.error("--write-list needs --spec")
        write_list(operations(args.spec, set()))
        return 0
    try:
        ops = read_list(excluded)
        proc, base, data_dir = start_nebu(args.nebu)
    except (OSError, RuntimeError) as e:
        print("coverage: cannot run: %s" % e, file=sys.stderr)
        return 1
    try:
        status, body = request(base, "POST", "/_matrix/client/v3/register",
                               body={"username": "coverage", "password": "coverage-password-1",
                                     "auth": {"type": "m.login.dummy"}})
        reg = json.loads(body)
        token, user_id = reg["access_token"], reg["user_id"]
        present = 0
        # Operations that end the session go last, so that the others run logged in.
        ending = ("/logout", "/logout/all", "/account/deactivate", "/account/password")
        ops.sort(key=lambda op: op["method"] == "POST" and op["path"].endswith(ending))
        for op in ops:
            path = fill(op["path"], user_id)
            try:
                status, body = request(base, op["method"], path, token)
                errcode = json.loads(body or b"{}").get("errcode", "") if body[:1] == b"{" else ""
            except (OSError, ValueError) as e:
                status, errcode = 0, "error: %s" % e
            ok = errcode != "M_UNRECOGNIZED" and status != 0
            present += ok
            if ok and args.missing:
                continue
            print("%-7s %-6s %-72s %s %s%s" % ("present" if ok else "MISSING", op["method"],
                  op["path"], status, op["file"], " (deprecated)" if op["deprecated"] else ""))
        total = len(ops)
        print("present %d of %d (%d %%)" % (present, total, round(100 * present / total)))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
