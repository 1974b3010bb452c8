"""What AWX and EDA controller are given: credential types, the event source's documentation,
the execution and decision environments, and the configuration as code (awx CLI import format).

What needs a controller (the import itself, the controller's field list, pulling the base image)
is not checked here; docs/awx.md says so.
"""

from __future__ import annotations

import ast
import glob
import os
import re
import subprocess

import yaml

from awx_jobs import injected_env
from conftest import COLLECTIONS, ROOT, VENV_BIN, run_module

AWX = os.path.join(ROOT, "extensions", "awx")
CONTROLLER_CONFIG = os.path.join(AWX, "controller", "ddos-scrubbing.yml")
RULEBOOKS = os.path.join(ROOT, "extensions", "eda", "rulebooks")
SOURCE = os.path.join(ROOT, "extensions", "eda", "plugins", "event_source", "incident_webhook.py")


def load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def tarball():
    return glob.glob(os.path.join(os.path.dirname(COLLECTIONS), "dist", "ddos-scrubbing-*.tar.gz"))[0]


# -- AWS temporary credentials ------------------------------------------------------------------------

def test_temporary_aws_credentials_from_the_credential_type_reach_aws(sandbox):
    """An AWX credential of the AWS type with an STS key and its session token: the job's
    environment (rendered from the type's injectors as AWX does) is enough for the module; the same
    key without the token is refused by AWS, and the token never shows in the output."""
    from ddos_sandbox.providers.aws_shield import CLOUDFRONT, SECRET_KEY, SESSION_TOKEN, TEMPORARY_KEY

    args = {"endpoint_url": sandbox.api_url("aws_shield"), "resource_arns": [CLOUDFRONT], "retries": 0}
    env = injected_env("aws.yml", {"aws_access_key_id": TEMPORARY_KEY, "aws_secret_access_key": SECRET_KEY,
                                   "aws_session_token": SESSION_TOKEN})
    result = run_module("aws_shield_info", args, env=env)
    assert result["_rc"] == 0 and not result.get("failed"), result["_stdout"] + result["_stderr"]
    assert SESSION_TOKEN not in result["_stdout"] + result["_stderr"]

    # A long-term key's credential leaves the token empty: nothing is sent, the key works.
    from ddos_sandbox.providers.aws_shield import ACCESS_KEY
    env = injected_env("aws.yml", {"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET_KEY})
    assert env["AWS_SESSION_TOKEN"] == ""
    result = run_module("aws_shield_info", args, env=env)
    assert result["_rc"] == 0 and not result.get("failed"), result["_stdout"] + result["_stderr"]

    env = injected_env("aws.yml", {"aws_access_key_id": TEMPORARY_KEY, "aws_secret_access_key": SECRET_KEY})
    result = run_module("aws_shield_info", args, env=env)
    assert result["_rc"] != 0 and result["error"]["code"] == "UnrecognizedClientException", result
    assert "security token included in the request is invalid" in result["msg"], result
    assert not sandbox.requests(writes_only=True)


# -- EDA controller: credential type, event source documentation --------------------------------------

def rulebook_source_args(name):
    (play,) = load(os.path.join(RULEBOOKS, name))
    (source,) = play["sources"]
    return source["ddos.scrubbing.incident_webhook"]


def source_documentation():
    tree = ast.parse(open(SOURCE, encoding="utf-8").read())
    found = {node.targets[0].id: yaml.safe_load(node.value.value) for node in tree.body
             if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) in ("DOCUMENTATION", "EXAMPLES")}
    return found["DOCUMENTATION"], found["EXAMPLES"]


def test_the_event_source_documents_what_the_rulebooks_pass():
    doc, examples = source_documentation()
    assert doc["short_description"] and doc["description"]
    options = doc["options"]
    required = {name for name, spec in options.items() if spec.get("required")}
    assert required == {"flowtriq_port", "flowtriq_secret", "internal_port", "internal_token"}, required
    for book in ("incident_webhook.yml", "incident_controller.yml"):
        args = rulebook_source_args(book)
        assert set(args) <= set(options), (book, set(args) - set(options))
        assert required <= set(args), (book, required - set(args))
    (example,) = examples
    assert set(example["ddos.scrubbing.incident_webhook"]) <= set(options)


def test_the_eda_credential_type_injects_the_secrets_the_controller_rulebook_reads():
    doc = load(os.path.join(AWX, "eda", "credential_types", "incident_webhook.yml"))
    fields = {f["id"]: f for f in doc["inputs"]["fields"]}
    assert all(f.get("secret") for f in fields.values()), fields
    assert set(doc["inputs"]["required"]) == set(fields)
    injected = doc["injectors"]["extra_vars"]
    args = rulebook_source_args("incident_controller.yml")
    # Each secret the source takes comes from the rulebook variable of the same name, which the
    # credential injects from its field of the same name.
    for option in ("flowtriq_secret", "internal_token"):
        assert args[option] == "{{ %s }}" % option, args[option]
        assert injected[option] == "{{ %s }}" % option and option in fields


# -- execution and decision environments -------------------------------------------------------------

def test_both_environments_pin_their_base_and_build_from_the_documented_tarball(tmp_path):
    with open(os.path.join(ROOT, "docs", "awx.md"), encoding="utf-8") as handle:
        guide = handle.read()
    for name in ("execution-environment.yml", "decision-environment.yml"):
        doc = load(os.path.join(AWX, name))
        image = doc["images"]["base_image"]["name"]
        tag = image.rpartition(":")[2]
        assert "/" not in tag and tag != "latest" and re.match(r"^\d+(\.\d+)+$", tag), (name, image)
        (build_file,) = doc["additional_build_files"]
        # the name docs/awx.md tells the user to give the tarball
        assert "extensions/awx/%s" % build_file["src"] in guide, (name, build_file["src"])
        collection = doc["dependencies"]["galaxy"]["collections"][0]["name"]
        assert collection == "%s/%s" % (build_file["dest"], build_file["src"]), (name, collection)

    out = tmp_path / "builder"
    proc = subprocess.run(["bash", os.path.join(ROOT, "scripts", "builder-create.sh"), str(out), tarball()],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ee, de = out / "ee" / "_build", out / "de" / "_build"
    for build in (ee, de):
        assert (build / "collections" / "ddos-scrubbing.tar.gz").exists(), build
    for package in ("requests", "ovh", "boto3", "psycopg"):
        assert re.search(r"^%s\b" % package, (ee / "requirements.txt").read_text(), re.M), package
    assert "libpq" in (ee / "bindep.txt").read_text()
    de_python = (de / "requirements.txt").read_text()
    assert "ansible-rulebook" in de_python and "aiohttp" in de_python, de_python
    assert "java-17-openjdk" in (de / "bindep.txt").read_text()
    assert "ENV JAVA_HOME=" in (out / "de" / "Containerfile").read_text()


# -- configuration as code (awx import) ----------------------------------------------------------------

def load_with_awxkit():
    """The import file as ``awx import -f yaml`` reads it (awxkit's own YAML loader)."""
    from awxkit import yaml_file

    with open(CONTROLLER_CONFIG, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=yaml_file.Loader)  # noqa: S506 - awxkit's SafeLoader subclass


def natural_keys(data):
    keys = [{"type": "organization", "name": "Default"}]   # every AWX has it
    for assets in data.values():
        for asset in assets:
            keys.append(asset["natural_key"])
            for related in asset.get("related", {}).values():
                keys.extend(item["natural_key"] for item in related)
    return keys


def references(value):
    """Every natural key an asset's fields point at (dicts with a type), nested ones included."""
    if isinstance(value, dict):
        if "type" in value and "name" in value:
            yield value
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def test_the_awx_import_file_has_the_shape_awxkit_imports():
    from awxkit.api.pages.api import EXPORTABLE_RESOURCES
    from awxkit.api.pages.job_templates import JobTemplate

    data = load_with_awxkit()
    assert set(data) <= set(EXPORTABLE_RESOURCES), set(data) - set(EXPORTABLE_RESOURCES)
    singular = {"credential_types": "credential_type", "execution_environments": "execution_environment",
                "projects": "project", "inventory": "inventory", "job_templates": "job_template"}
    for resource, assets in data.items():
        for asset in assets:
            assert asset["natural_key"]["type"] == singular[resource], asset["natural_key"]
            assert asset["natural_key"]["name"] == asset["name"]
    known = natural_keys(data)
    for resource, assets in data.items():
        for asset in assets:
            for field, value in asset.items():
                if field == "natural_key":
                    continue
                for ref in references(value):
                    assert ref in known, "%s %s: %s points at %s, which the file does not create" % (
                        resource, asset["name"], field, ref)
    # awx import silently drops a field the controller does not know: each job template field
    # must be one awxkit itself posts for a job template.
    jt_fields = {c for c in JobTemplate.payload.__code__.co_consts if isinstance(c, tuple)}
    jt_known = set().union(*jt_fields) | {
        "name", "description", "job_type", "inventory", "project", "playbook", "execution_environment", "natural_key",
        "related"}
    for template in data["job_templates"]:
        assert set(template) <= jt_known, set(template) - jt_known


def test_the_awx_import_file_sets_up_what_the_guide_and_the_rulebook_expect():
    data = load_with_awxkit()
    types = {t["name"]: t for t in data["credential_types"]}
    files = sorted(glob.glob(os.path.join(AWX, "credential_types", "*.yml")))
    assert len(types) == len(files)
    for path in files:
        doc = load(path)
        imported = types[doc["name"]]
        for key in ("kind", "inputs", "injectors"):
            assert imported[key] == doc[key], "%s: %s differs from %s" % (CONTROLLER_CONFIG, key, path)
    templates = {t["name"]: t for t in data["job_templates"]}
    playbooks = {os.path.splitext(p)[0] for p in os.listdir(os.path.join(ROOT, "playbooks"))}
    assert {t["playbook"][:-len(".yml")] for t in templates.values()} == playbooks
    # The one the controller rulebook launches: it must take the launch's extra vars.
    args = load(os.path.join(RULEBOOKS, "incident_controller.yml"))[0]["rules"][0]["action"]["run_job_template"]
    incident = templates["ddos.scrubbing incident"]
    assert "'ddos.scrubbing incident'" in args["name"] and "'Default'" in args["organization"]
    assert incident["natural_key"]["organization"] == {"type": "organization", "name": "Default"}
    assert incident["ask_variables_on_launch"] is True
    (schedule,) = templates["ddos.scrubbing reconcile"]["related"]["schedules"]
    assert schedule["enabled"] and "FREQ=MINUTELY" in schedule["rrule"]
    # the awx CLI that imports it is installed beside ansible (requirements-test.txt)
    assert os.path.exists(os.path.join(VENV_BIN, "awx"))
