"""hubnet: hub-and-spoke pod networking. The top-level modules (net, wire, loop, linux) are the ground floor that
every process shares; `hubnet.server` is the controller, `hubnet.node` the node agent and CNI plugin, `hubnet.cli`
and `hubnet.lab` the entry points (docs/architecture.md). Imports nothing: the CNI plugin's start-up pays for it."""

__version__ = "0.1.0"
