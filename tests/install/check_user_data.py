#!/usr/bin/python3
"""Checks Ubuntu autoinstall files: user-data against the project's schema, meta-data.

  check_user_data.py SCHEMA user-data FILE... | meta-data FILE...

Run with /usr/bin/python3 (python3-yaml, python3-jsonschema). user-data: the
first line is "#cloud-config", the rest parses as YAML (safe_load) and
validates against SCHEMA (tests/install/autoinstall-schema.json, written from
Ubuntu's autoinstall reference), and every string command in early-, late-
and error-commands passes `sh -n`. meta-data: YAML mapping with string
instance-id and local-hostname and nothing else. Exit 1 with one "FILE: what"
line per problem on stderr; 0 and nothing on stderr when all pass.
"""
import json
import subprocess
import sys

import jsonschema
import yaml


def check_user_data(schema, path):
    errors = []
    with open(path, encoding="ascii") as f:
        text = f.read()
    if not text.startswith("#cloud-config\n"):
        errors.append(f"{path}: the first line is not #cloud-config (cloud-init would ignore it)")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        return errors + [f"{path}: not YAML: {e}"]
    validator = jsonschema.Draft7Validator(schema)
    for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.path)):
        where = "/".join(str(p) for p in e.absolute_path) or "(top)"
        message = e.message
        if e.validator in ("anyOf", "oneOf"):
            # jsonschema's message quotes the whole instance: say what was wanted.
            message = f"matches none of {e.validator} {json.dumps(e.validator_value)}"
        if len(message) > 300:
            message = message[:300] + "..."
        errors.append(f"{path}: {where}: {message}")
    if isinstance(doc, dict) and isinstance(doc.get("autoinstall"), dict):
        for key in ("early-commands", "late-commands", "error-commands"):
            for i, cmd in enumerate(doc["autoinstall"].get(key) or []):
                if not isinstance(cmd, str):
                    continue
                r = subprocess.run(["sh", "-n"], input=cmd, capture_output=True, text=True)
                if r.returncode != 0 or r.stderr:
                    errors.append(f"{path}: {key}[{i}]: does not parse: {r.stderr.strip()}")
    return errors


def check_meta_data(path):
    with open(path, encoding="ascii") as f:
        text = f.read()
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        return [f"{path}: not YAML: {e}"]
    if not isinstance(doc, dict):
        return [f"{path}: not a mapping"]
    errors = []
    for key in ("instance-id", "local-hostname"):
        if not isinstance(doc.get(key), str) or not doc[key]:
            errors.append(f"{path}: {key}: missing or not a non-empty string")
    for key in sorted(set(doc) - {"instance-id", "local-hostname"}):
        errors.append(f"{path}: {key}: unexpected key")
    return errors


def main(argv):
    if len(argv) < 4 or argv[2] not in ("user-data", "meta-data"):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        schema = json.load(f)
    jsonschema.Draft7Validator.check_schema(schema)
    errors = []
    for path in argv[3:]:
        errors += check_user_data(schema, path) if argv[2] == "user-data" else check_meta_data(path)
    for e in errors:
        print(e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
