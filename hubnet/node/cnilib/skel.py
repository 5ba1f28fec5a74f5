"""The CNI skel: environment and stdin parsing, validation and error JSON, exactly as libcni's `pkg/skel` does it.

Stdlib only: both the per-pod plugin (when it answers on its own) and the agent (for every request the plugin
forwards) run `run()`, so codes and error JSON are byte for byte the same whoever answers. Order of checks (and
codes) follows libcni: missing variables 4, unreadable stdin 5, unknown command 4, bad JSON 6, bad network name 7,
empty container id 3, bad container id / interface name 4, unsupported cniVersion 1.
"""

from __future__ import annotations

from hubnet.node.cnilib import fastjson

TYPE_CHECKING = False
if TYPE_CHECKING:  # keep `typing` and `collections` out of the plugin's start-up
    from collections.abc import Callable, Mapping
    from typing import Any

SUPPORTED_VERSIONS = ("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
CURRENT_VERSION = "1.1.0"
COMMANDS = ("ADD", "DEL", "CHECK", "STATUS", "GC", "VERSION")

# CNI error codes (SPEC.md "Error"; libcni pkg/types)
INCOMPATIBLE_VERSION = 1
UNSUPPORTED_FIELD = 2
UNKNOWN_CONTAINER = 3
INVALID_ENV = 4
IO_FAILURE = 5
DECODE_FAILURE = 6
INVALID_CONFIG = 7
TRY_AGAIN_LATER = 11
NOT_AVAILABLE = 50
INTERNAL = 999

_REQUIRED = {
    "ADD": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"),
    "CHECK": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"),
    "DEL": ("CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"),
    "GC": ("CNI_PATH",),
    "STATUS": ("CNI_PATH",),
}
_MIN_VERSION = {"CHECK": "0.4.0", "GC": "1.1.0", "STATUS": "1.1.0"}
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_ID_REST = _ALNUM | frozenset("_.-")
IFNAMSIZ = 16


class CniError(Exception):
    """An error the plugin reports as `{cniVersion, code, msg, details}` on stdout with a non-zero exit."""

    def __init__(self, code: int, msg: str, details: str = "") -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.details = details
        self.cni_version: str | None = None  # the config's version once known: errors are reported in it

    def to_json(self, cni_version: str = CURRENT_VERSION) -> dict[str, Any]:
        version = self.cni_version or cni_version
        return {"cniVersion": version, "code": self.code, "msg": self.msg, "details": self.details}


def valid_id(text: str) -> bool:
    """libcni's `^[a-zA-Z0-9][a-zA-Z0-9_.\\-]*$` (container ids and network names), without importing `re`."""
    return bool(text) and text[0] in _ALNUM and all(ch in _ID_REST for ch in text)


class Request:
    """One validated plugin invocation (a plain class: `dataclasses` costs ~5 ms of plugin start-up)."""

    def __init__(
        self,
        command: str,
        container_id: str = "",
        netns: str = "",
        ifname: str = "",
        args: str = "",
        path: str = "",
        config: dict[str, Any] | None = None,
    ) -> None:
        self.command = command
        self.container_id = container_id
        self.netns = netns
        self.ifname = ifname
        self.args = args
        self.path = path
        self.config: dict[str, Any] = config if config is not None else {}

    @property
    def cni_version(self) -> str:
        return str(self.config.get("cniVersion", CURRENT_VERSION))


def run(env: Mapping[str, str], read: Callable[[], bytes], serve: Callable[[Request], Any]) -> tuple[int, bytes]:
    """One invocation -> (exit status, bytes to print): VERSION, else validate and hand the request to `serve`.

    The one place a CniError becomes the error JSON and exit status 1 (reported in the config's cniVersion once it
    is known). `read` returns stdin (OSError: code 5); it is not called for VERSION. `serve` raises CniError for
    every failure: the agent's `Commands.dispatch` and the plugin's own fallback translate their errors.
    """
    version = CURRENT_VERSION
    try:
        command = command_from_env(env)
        if command == "VERSION":
            return 0, fastjson.dumps(version_info()).encode()
        try:
            data = read()
        except OSError as exc:
            raise CniError(IO_FAILURE, f"error reading from stdin: {exc}") from None
        request = parse(command, env, data)
        version = request.cni_version
        output = serve(request)
    except CniError as exc:
        return 1, fastjson.dumps(exc.to_json(version)).encode()
    return 0, b"" if output is None else fastjson.dumps(output).encode()


def version_key(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        raise CniError(DECODE_FAILURE, f"invalid cniVersion {version!r}") from None


def command_from_env(env: Mapping[str, str]) -> str:
    """CNI_COMMAND, and the variables it requires; raises CniError(4) naming every missing one."""
    command = env.get("CNI_COMMAND", "")
    missing = [] if command else ["CNI_COMMAND"]
    # A blank CNI_CONTAINERID is "unknown container" (3, from the id check), an absent one a missing variable (4).
    missing += [n for n in _REQUIRED.get(command, ()) if not env.get(n) and not (n == "CNI_CONTAINERID" and n in env)]
    if missing:
        raise CniError(INVALID_ENV, f"required env variables [{','.join(missing)}] missing")
    return command


def parse(command: str, env: Mapping[str, str], stdin: bytes) -> Request:
    """Validate a non-VERSION invocation whose environment passed `command_from_env`."""
    if command not in COMMANDS:
        raise CniError(INVALID_ENV, f"unknown CNI_COMMAND: {command}")
    config = decode_config(stdin)
    request = Request(
        command=command,
        container_id=env.get("CNI_CONTAINERID", ""),
        netns=env.get("CNI_NETNS", ""),
        ifname=env.get("CNI_IFNAME", ""),
        args=env.get("CNI_ARGS", ""),
        path=env.get("CNI_PATH", ""),
        config=config,
    )
    try:
        if command in ("ADD", "CHECK", "DEL"):
            validate_container_id(request.container_id)
            validate_ifname(request.ifname)
        check_version(command, request.cni_version)
    except CniError as exc:
        exc.cni_version = request.cni_version
        raise
    return request


def decode_config(stdin: bytes) -> dict[str, Any]:
    try:
        config = fastjson.loads(stdin)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CniError(DECODE_FAILURE, f"error unmarshall network config: {exc}") from None
    except RecursionError:  # found by fuzzing: `[[[[...` nested past the interpreter's limit
        raise CniError(DECODE_FAILURE, "error unmarshall network config: nested too deeply") from None
    if not isinstance(config, dict):
        raise CniError(DECODE_FAILURE, "error unmarshall network config: not a JSON object")
    name = config.get("name")
    if not name:
        raise CniError(INVALID_CONFIG, "missing network name")
    if not isinstance(name, str) or not valid_id(name):
        raise CniError(INVALID_CONFIG, f"invalid characters found in network name: {name!r}")
    return config


def validate_container_id(container_id: str) -> None:
    if not container_id:
        raise CniError(UNKNOWN_CONTAINER, "missing containerID")
    if not valid_id(container_id):
        raise CniError(INVALID_ENV, "invalid characters in containerID", container_id)


def validate_ifname(ifname: str) -> None:
    if not ifname:
        raise CniError(INVALID_ENV, "interface name is empty")
    if len(ifname) > IFNAMSIZ - 1:
        raise CniError(INVALID_ENV, "interface name is too long", f"interface name should be less than {IFNAMSIZ}")
    if ifname in (".", ".."):
        raise CniError(INVALID_ENV, "interface name is . or ..")
    if any(ch == "/" or ch == ":" or ch.isspace() for ch in ifname):
        raise CniError(INVALID_ENV, "interface name contains / or : or whitespace characters", ifname)


def check_version(command: str, version: str) -> None:
    if version not in SUPPORTED_VERSIONS:
        version_key(version)  # 6 when it does not even parse
        raise CniError(
            INCOMPATIBLE_VERSION,
            "incompatible CNI versions",
            f"config is {version!r}, plugin supports {list(SUPPORTED_VERSIONS)}",
        )
    minimum = _MIN_VERSION.get(command)
    if minimum and version_key(version) < version_key(minimum):
        raise CniError(INCOMPATIBLE_VERSION, f"config version does not allow {command}", f"needs >= {minimum}")


def version_info() -> dict[str, Any]:
    return {"cniVersion": CURRENT_VERSION, "supportedVersions": list(SUPPORTED_VERSIONS)}


def valid_attachments(config: dict[str, Any]) -> list[tuple[str, str]]:
    """`cni.dev/valid-attachments` (1.1) or the older `cni.dev/attachments` as (containerID, ifname) pairs."""
    items = config.get("cni.dev/valid-attachments")
    if items is None:
        items = config.get("cni.dev/attachments") or []
    return [(str(i.get("containerID", "")), str(i.get("ifname", ""))) for i in items if isinstance(i, dict)]
