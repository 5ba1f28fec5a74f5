"""The `bgp` route backend: gobgpd as the controller's child, driven over gRPC (docs/bgp.md)."""
