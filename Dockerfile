# hubnet in a container: the same image runs the router (controller + kernel route backend) and the nodes
# (agent + CNI plugin). See docs/lab.md ("the lab on a laptop with Docker") and docker-compose.yml.
FROM python:3.11-slim-bookworm

# iproute2: the node creates its demo pod's namespace with `ip netns add`; nftables: the agent's egress masquerade;
# gcc + libc6-dev: the agent compiles the CNI plugin's small C fast path (without them it installs the Python shim).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iproute2 nftables gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md alembic.ini ./
COPY hubnet ./hubnet
COPY server ./server
COPY node_client ./node_client
COPY migrations ./migrations
RUN pip install --no-cache-dir . && hubnet --help >/dev/null

WORKDIR /var/lib/hubnet
CMD ["hubnet", "--help"]
