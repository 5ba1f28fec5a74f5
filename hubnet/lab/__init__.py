"""The network-namespace lab: router + nodes + pods on one machine, running the real controller, agents and CNI.

`plan` (pure names and addresses) → `topology` (namespaces, links) → `members` (processes) → `lifecycle`
(`up` / `down`), with `status` and `check` reading what `up` recorded in `state`.
"""
