"""hubnet: hub-and-spoke pod networking. This package is shared, framework-free code (net math, netlink, CLI, lab)."""

__version__ = "0.1.0"
