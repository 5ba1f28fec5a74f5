"""What both node processes import: the CNI plugin (per pod) and the agent (warm). Stdlib only, cheap to import.

skel      CNI spec parsing and validation, error codes, error JSON, one invocation → (exit status, output)
wire      the one plugin ↔ agent format (raw CNI_* environment + stdin in, exit status + output back)
ipam      the pod address store (host-local layout): the agent allocates, the plugin releases when the agent is down
fastjson  JSON through `_json` without `import json` (plugin start-up)
"""
