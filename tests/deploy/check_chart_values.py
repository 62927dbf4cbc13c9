#!/usr/bin/python3
"""Checks deploy/helm/nebu without Helm (scripts/lint-deploy.sh runs it).

Goal: values.schema.json accepts good values and rejects what the chart must refuse (no
image tag, "latest", a v-prefixed tag, unknown enum values), the way `helm install`
would: the values files are merged over the chart's values.yaml as Helm merges them, then
validated (Debian's python3-jsonschema, draft 7). And every `.Values.a.b` a template
uses exists in values.yaml. Prints one line per failed case; exit 1 if any.

    /usr/bin/python3 tests/deploy/check_chart_values.py deploy/helm/nebu
"""

import copy
import json
import pathlib
import re
import sys

import jsonschema
import yaml


def merge(base, overlay):
    """Helm's merge of a values file over the defaults: maps deep, the rest replaced."""
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def without(values, dotted):
    out = copy.deepcopy(values)
    *parents, last = dotted.split(".")
    node = out
    for p in parents:
        node = node[p]
    del node[last]
    return out


def main():
    chart = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "deploy/helm/nebu")
    here = pathlib.Path(__file__).parent
    schema = json.loads((chart / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    defaults = yaml.safe_load((chart / "values.yaml").read_text())
    ok_file = yaml.safe_load((here / "values-ok.yaml").read_text())
    no_tag_file = yaml.safe_load((here / "values-no-tag.yaml").read_text())
    good = merge(defaults, ok_file)

    cases = [  # (name, values, accepted?)
        ("values-ok.yaml", good, True),
        ("a build SHA as tag", merge(good, {"image": {"tag": "2ac4bed"}}), True),
        ("the chart's defaults alone (no tag)", defaults, False),
        ("values-no-tag.yaml", merge(defaults, no_tag_file), False),
        ("image.tag removed", without(good, "image.tag"), False),
        ("image.tag latest", merge(good, {"image": {"tag": "latest"}}), False),
        ("image.tag v1.2.3", merge(good, {"image": {"tag": "v1.2.3"}}), False),
        ("registration maybe", merge(good, {"registration": "maybe"}), False),
        ("replicaCount 0", merge(good, {"replicaCount": 0}), False),
        ("media.backend nfs", merge(good, {"media": {"backend": "nfs"}}), False),
        ("etcd.endpoints without scheme", merge(good, {"etcd": {"endpoints": "etcd:2379"}}), False),
        ("oidc.issuer over http", merge(good, {"oidc": {"issuer": "http://idp.example.org"}}), False),
        ("extraEnv not NEBU_", merge(good, {"extraEnv": {"PATH": "/tmp"}}), False),
    ]
    failures = 0
    for name, values, accepted in cases:
        errors = sorted(validator.iter_errors(values), key=lambda e: list(e.path))
        if bool(not errors) != accepted:
            failures += 1
            why = "; ".join(e.message for e in errors[:2]) or "no error"
            print(f"check_chart_values: FAIL {name}: expected "
                  f"{'accepted' if accepted else 'rejected'} ({why})")

    used = set()
    for template in sorted((chart / "templates").glob("*")):
        used.update(re.findall(r"\.Values\.([A-Za-z0-9_.]+)", template.read_text()))
    for dotted in sorted(used):
        node = defaults
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                failures += 1
                print(f"check_chart_values: FAIL templates use .Values.{dotted}, "
                      "which values.yaml lacks")
                break
            node = node[part]
    total = len(cases) + len(used)
    print(f"check_chart_values: {total - failures}/{total} checks passed "
          f"({len(cases)} schema cases, {len(used)} template value references)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
