"""The Linux toolkit: the ONLY package that imports pyroute2.

Modules here wrap netlink for links, addresses, routes and network namespaces. Netlink errors are translated
once (`errors.translate`), into `hubnet.linux.errors`, so callers never see pyroute2 types.
"""
