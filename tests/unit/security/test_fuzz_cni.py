"""Hypothesis fuzzing of the CNI plugin's input handling (hubnet.node.cnilib.skel): whatever the runtime puts in the
environment and on stdin, the skel either accepts it or raises CniError with a spec code whose error JSON
serializes. Never another exception (a traceback on stderr is no CNI answer)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hubnet.node.cnilib import skel

KNOWN_CODES = {1, 2, 3, 4, 5, 6, 7, 11, 50, 999}
ENV_NAMES = ("CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS", "CNI_PATH")
GOOD_ENV = {"CNI_CONTAINERID": "c1", "CNI_NETNS": "/run/netns/x", "CNI_IFNAME": "eth0", "CNI_PATH": "/opt/cni/bin"}

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
)
env_values = st.sampled_from(["", "ADD", "DEL", "CHECK", "STATUS", "GC", "VERSION", "eth0", "c1", "/x"]) | st.text(
    max_size=40
)
envs = st.dictionaries(st.sampled_from(ENV_NAMES), env_values)
configs = st.fixed_dictionaries(
    {},
    optional={
        "cniVersion": st.sampled_from([*skel.SUPPORTED_VERSIONS, "0.1.0", "2.0.0", "1.0", "x"]) | json_values,
        "name": st.sampled_from(["hubnet", "net-1", "bad name", ""]) | json_values,
        "type": st.just("hubnet") | json_values,
        "prevResult": json_values,
        "runtimeConfig": json_values,
    },
).flatmap(lambda fixed: st.dictionaries(st.text(max_size=8), json_values, max_size=3).map(lambda x: {**x, **fixed}))
stdins = (
    st.binary(max_size=200)
    | configs.map(lambda c: json.dumps(c).encode())
    | json_values.map(lambda v: json.dumps(v).encode())
)


def _run(env: dict[str, str], stdin: bytes) -> skel.Request | skel.CniError:
    try:
        command = skel.command_from_env(env)
        if command == "VERSION":
            return skel.Request(command)
        return skel.parse(command, env, stdin)
    except skel.CniError as error:
        return error


def _assert_cni_answer(outcome: skel.Request | skel.CniError) -> None:
    if isinstance(outcome, skel.CniError):
        answer: dict[str, Any] = json.loads(json.dumps(outcome.to_json()))
        assert answer["code"] in KNOWN_CODES and isinstance(answer["msg"], str) and answer["msg"]
        assert isinstance(answer["cniVersion"], str)
    else:
        assert outcome.command in skel.COMMANDS


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(env=envs, stdin=stdins)
def test_any_environment_and_stdin_gives_a_cni_answer(env: dict[str, str], stdin: bytes) -> None:
    _assert_cni_answer(_run(env, stdin))


@settings(max_examples=400, deadline=None)
@given(command=st.sampled_from(["ADD", "DEL", "CHECK", "STATUS", "GC"]), stdin=stdins)
def test_any_network_config_gives_a_cni_answer(command: str, stdin: bytes) -> None:
    _assert_cni_answer(_run({**GOOD_ENV, "CNI_COMMAND": command}, stdin))


@given(depth=st.integers(min_value=1, max_value=200_000), opener=st.sampled_from([b"[", b'{"a":']))
@example(depth=100_000, opener=b"[")
@settings(max_examples=20, deadline=None)
def test_deeply_nested_config_is_a_decode_error(depth: int, opener: bytes) -> None:
    """Found by fuzzing: `[[[[…` past the recursion limit raised RecursionError out of the plugin."""
    outcome = _run({**GOOD_ENV, "CNI_COMMAND": "ADD"}, opener * depth)
    assert isinstance(outcome, skel.CniError) and outcome.code == skel.DECODE_FAILURE
