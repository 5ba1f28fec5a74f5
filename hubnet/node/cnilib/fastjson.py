"""JSON for the plugin process through CPython's `_json` accelerator directly.

`import json` pulls in `re` (and with it `enum`), ~6 ms of a ~7 ms plugin start-up; the C scanner and encoder that
`json` wraps need neither. Same grammar and output as `json.loads` / `json.dumps(separators=(",", ":"))`; falls back
to `json` on interpreters without `_json`.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

try:
    import _json
except ImportError:  # pragma: no cover - every CPython has it
    _json = None  # type: ignore[assignment]

_WS = " \t\n\r"


class _Context:
    """The attributes `_json.make_scanner` reads from a `json.JSONDecoder`."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo: dict[str, str] = {}

    @staticmethod
    def parse_constant(name: str) -> float:
        return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[name]


def loads(data: bytes | str) -> Any:
    """Decode one JSON document; ValueError (or UnicodeDecodeError) when it is not one."""
    text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
    if _json is None:  # pragma: no cover
        import json

        return json.loads(text)
    scan = _json.make_scanner(_Context)  # type: ignore[arg-type]
    start = len(text) - len(text.lstrip(_WS))
    try:
        value, end = scan(text, start)
        if not text[end:].strip(_WS):
            return value
    except Exception:  # the C scanner reports errors through `json.decoder`, which we did not import
        pass
    import json  # bad input only: let `json` produce the exact error message

    return json.loads(text)


def _default(obj: object) -> object:
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def dumps(value: Any) -> str:
    """Encode compactly (no spaces), ASCII-only, like `json.dumps(value, separators=(",", ":"))`."""
    if _json is None:  # pragma: no cover
        import json

        return json.dumps(value, separators=(",", ":"))
    encode = _json.make_encoder({}, _default, _json.encode_basestring_ascii, None, ":", ",", False, False, True)
    return "".join(encode(value, 0))
