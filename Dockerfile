# hubnet in a container: the same image runs the router (controller + kernel route backend) and the nodes
# (agent + CNI plugin). See docs/lab.md ("the lab in containers") and docker-compose.yml.

# Build stage: gcc + libc6-dev compile the CNI plugin's fast path (fastshim.c) into the package while it is built
# (setup.py's build_cni step); the image the nodes run needs no C compiler.
FROM python:3.11-slim-bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md alembic.ini ./
COPY hubnet ./hubnet
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim-bookworm
# iproute2: the node creates its demo pod's namespace with `ip netns add`; nftables: the agent's egress masquerade;
# gobgpd: the controller's BGP speaker (HUBNET_ROUTE_BACKEND=bgp, docs/bgp.md).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iproute2 nftables gobgpd \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /install /usr/local
# the compiled plugin came with the package: the agent installs it, not the ~7 ms slower Python shim
RUN hubnet --help >/dev/null \
 && test -x "$(python -c 'from hubnet.node.agent.cniconf import PACKAGED_BINARY; print(PACKAGED_BINARY)')"

WORKDIR /var/lib/hubnet
CMD ["hubnet", "--help"]
