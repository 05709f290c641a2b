"""deploy/: every file parses, and every ``fullon-account`` invocation in it is one the CLI accepts.

Invocations are checked against the typer app itself (subcommands, options, whether an option
takes a value), so renaming a flag without updating a unit or manifest fails here, not in prod.
"""

from __future__ import annotations

import configparser
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from fullon_account_service.bus.streams import stream_key
from fullon_account_service.cli.app import app
from fullon_account_service.settings import Settings
from fullon_account_service.sinks.runner import GROUPS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
IMAGE = "fullon-account-service"
ENTRYPOINT = "fullon-account"


def check_invocation(args: list[str]) -> list[str]:
    """Problems with ``fullon-account *args``; empty when the CLI accepts it."""
    command: Any = typer.main.get_command(app)
    ctx = typer.Context(command)
    tokens = list(args)
    path = [ENTRYPOINT]
    while tokens and hasattr(command, "get_command") and not tokens[0].startswith("-"):
        name = tokens.pop(0)
        sub = command.get_command(ctx, name)
        if sub is None:
            return [f"{' '.join(path)} has no subcommand {name!r}"]
        command, path = sub, [*path, name]
        ctx = typer.Context(command, parent=ctx)
    if hasattr(command, "get_command"):
        return [f"{' '.join(path)} needs a subcommand"] if not {"--help"} & set(tokens) else []
    options = {opt: param for param in command.params for opt in param.opts if opt.startswith("-")}
    positional = [param for param in command.params if param.param_type_name == "argument"]
    problems: list[str] = []
    while tokens:
        token = tokens.pop(0)
        if not token.startswith("-"):
            if not positional:
                problems.append(f"{' '.join(path)} takes no argument {token!r}")
            continue
        name, has_value, _ = token.partition("=")
        if name == "--help":
            continue
        param = options.get(name)
        if param is None:
            problems.append(f"{' '.join(path)} has no option {name}")
        elif not param.is_flag and not has_value:
            if not tokens or tokens[0].startswith("--"):
                problems.append(f"{' '.join(path)} {name} needs a value")
            else:
                tokens.pop(0)
    for param in command.params:
        if param.required and not any(opt in args or f"{opt}=" in " ".join(args) for opt in param.opts):
            problems.append(f"{' '.join(path)} misses required {param.opts[0]}")
    return problems


def test_the_checker_catches_mistakes() -> None:
    assert check_invocation(["sink", "--group", "orm"]) == []
    assert check_invocation(["sink", "--group=orm", "--consumer", "%H-%i"]) == []
    assert check_invocation(["accounts", "remove", "--ex-id", "3", "--deactivate"]) == []
    assert check_invocation(["sink", "--groups", "orm"]) != []
    assert check_invocation(["sink"]) != []
    assert check_invocation(["sinks"]) != []
    assert check_invocation(["health", "--json", "extra"]) != []
    assert check_invocation(["accounts"]) != []


def yaml_documents(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def compose_invocations() -> Iterator[tuple[str, list[str]]]:
    compose = yaml_documents(DEPLOY / "docker-compose.yml")[0]
    for name, service in compose["services"].items():
        if str(service.get("image", "")).startswith(IMAGE) and "command" in service:
            command = service["command"]
            yield f"compose {name}", shlex.split(command) if isinstance(command, str) else list(command)


def containers(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                yield from (c for c in value if isinstance(c, dict))
            else:
                yield from containers(value)
    elif isinstance(node, list):
        for item in node:
            yield from containers(item)


def kubernetes_invocations() -> Iterator[tuple[str, list[str]]]:
    for path in sorted((DEPLOY / "kubernetes").glob("*.y*ml")):
        for doc in yaml_documents(path):
            for container in containers(doc):
                if str(container.get("image", "")).startswith(IMAGE):
                    yield f"{path.name} {container['name']}", [str(a) for a in container.get("args", [])]


def systemd_units() -> list[Path]:
    return sorted((DEPLOY / "systemd").glob("*.service"))


def read_unit(path: Path) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(path.read_text())
    return unit


def systemd_invocations() -> Iterator[tuple[str, list[str]]]:
    for path in systemd_units():
        for key, value in read_unit(path)["Service"].items():
            if key.startswith("ExecStart"):
                words = shlex.split(value.lstrip("-@:+!"))
                assert Path(words[0]).name == ENTRYPOINT, f"{path.name} {key} runs {words[0]}"
                yield f"{path.name} {key}", words[1:]


def test_dockerfile_is_multi_stage_and_unprivileged() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    stages = [line for line in dockerfile.splitlines() if line.upper().startswith("FROM ")]
    assert len(stages) >= 2
    users = [line.split()[1] for line in dockerfile.splitlines() if line.upper().startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert ENTRYPOINT in dockerfile


def test_compose_and_manifests_parse() -> None:
    compose = yaml_documents(DEPLOY / "docker-compose.yml")[0]
    assert {"redis", "postgres"} <= set(compose["services"])
    kinds = {doc["kind"] for path in (DEPLOY / "kubernetes").glob("*.y*ml") for doc in yaml_documents(path)}
    assert {"StatefulSet", "Deployment", "ScaledObject"} <= kinds


def test_systemd_units_parse() -> None:
    assert systemd_units()
    for path in systemd_units():
        unit = read_unit(path)
        assert {"Unit", "Service", "Install"} <= set(unit.sections()), path.name
        assert any(key.startswith("ExecStart") for key in unit["Service"]), path.name


INVOCATIONS = [*compose_invocations(), *kubernetes_invocations(), *systemd_invocations()]


def test_every_fullon_service_is_checked() -> None:
    where = {label.split()[0] for label, _ in INVOCATIONS}
    assert {"compose", "producer-statefulset.yaml", "sink-deployments.yaml"} <= where
    assert any(label.endswith(".service ExecStart") for label, _ in INVOCATIONS)


@pytest.mark.parametrize(("where", "args"), INVOCATIONS, ids=[label for label, _ in INVOCATIONS])
def test_invocation_uses_real_commands_and_flags(where: str, args: list[str]) -> None:
    assert args, f"{where}: no arguments"
    assert check_invocation(args) == [], where


def test_keda_triggers_watch_streams_the_sinks_consume() -> None:
    prefix = Settings.from_env({}).stream_prefix
    consumed = {(stream_key(prefix, kind), group) for group, kinds in GROUPS.items() for kind in kinds}
    triggers = [
        trigger["metadata"]
        for doc in yaml_documents(DEPLOY / "kubernetes" / "keda-scaledobjects.yaml")
        for trigger in doc["spec"]["triggers"]
    ]
    assert triggers
    for meta in triggers:
        assert (meta["stream"], meta["consumerGroup"]) in consumed, meta


def test_every_producer_and_sink_is_given_a_shared_redis() -> None:
    """Without one they refuse to start (``cli.shared_redis``): every deploy file must set it."""
    compose = yaml_documents(DEPLOY / "docker-compose.yml")[0]
    for name, service in compose["services"].items():
        if str(service.get("image", "")).startswith(IMAGE):
            assert str(service.get("environment", {}).get("REDIS_URL", "")).startswith("redis://"), name
    config = {
        doc["metadata"]["name"]: doc.get("data", {})
        for doc in yaml_documents(DEPLOY / "kubernetes" / "config.yaml")
        if doc["kind"] == "ConfigMap"
    }
    checked = 0
    for path in sorted((DEPLOY / "kubernetes").glob("*.y*ml")):
        for doc in yaml_documents(path):
            for container in containers(doc):
                if container.get("args", [None])[0] in ("producer", "sink"):
                    checked += 1
                    maps = [
                        src["configMapRef"]["name"]
                        for src in container.get("envFrom", [])
                        if "configMapRef" in src
                    ]
                    assert any("REDIS_URL" in config.get(m, {}) for m in maps), (
                        f"{path.name} {container['name']}"
                    )
    assert checked == 3
    for path in systemd_units():
        service = read_unit(path)["Service"]
        if any(
            words[0] in ("producer", "sink") for label, words in systemd_invocations() if path.name in label
        ):
            assert "REDIS_URL=redis://" in service.get("Environment", ""), path.name


def test_producers_are_leased_and_their_lease_settings_valid() -> None:
    """Leases are the default ownership: no manifest pins a static shard, and the lease settings the
    ConfigMap sets pass the renewal < TTL / 2 check."""
    for _, args in INVOCATIONS:
        if args and args[0] == "producer":
            assert "--shard" not in args, args
    config = next(
        doc.get("data", {})
        for doc in yaml_documents(DEPLOY / "kubernetes" / "config.yaml")
        if doc["kind"] == "ConfigMap"
    )
    settings = Settings.from_env({k: str(v) for k, v in config.items()})
    assert settings.lease_renew_s < settings.lease_ttl_s / 2
    assert "ACCOUNT_LEASE_TTL_S" in config
