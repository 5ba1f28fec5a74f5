"""The Linux toolkit: the ONLY package that imports pyroute2.

Modules here wrap netlink for links, addresses, routes and network namespaces. Netlink errors are translated
once (`errors.translate`), into `hubnet.linux.errors`, so callers never see pyroute2 types. This module itself
imports nothing: the controller's settings and the node agent read `ROUTE_PROTO` without loading pyroute2.
"""

# The routing-protocol number marking the routes hubnet owns, on the router and on the nodes (docs/routing.md):
# unused by the kernel, iproute2's rt_protos, FRR (186-198), BIRD (12) and Calico (80). `HUBNET_ROUTE_PROTO`
# overrides it on the controller.
ROUTE_PROTO = 44
