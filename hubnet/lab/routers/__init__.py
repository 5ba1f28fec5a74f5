"""The lab's BGP routers: BIRD 2 (`bird`) and FRR (`frr`) inside a namespace, on the shared supervision in `base`.
`hubnet.lab.bgprouter` is the entry point (the `BgpRouter` protocol and `make_router`)."""
