"""cmd_add / cmd_del / cmd_check / cmd_status / cmd_gc: each a short list of named steps over IPAM and podnet.

Errors leave here as `CniError` with the spec's codes: `dispatch` is the one place where an error of the agent's
work (IPAM, netlink, a bug) becomes a CNI code; the skel turns the CniError into the plugin's answer.
"""

from __future__ import annotations

import logging
import os
from contextlib import ExitStack
from ipaddress import ip_interface
from typing import Any

from hubnet.linux.errors import LinuxError
from hubnet.net import gateway
from hubnet.node.agent import faults, podnet, result
from hubnet.node.agent.config import AgentConfig
from hubnet.node.agent.state import NodeNetwork, NodeState
from hubnet.node.cnilib import ipam, skel
from hubnet.node.cnilib.skel import CniError, Request

log = logging.getLogger(__name__)
INVALID_NETNS = 8  # libcni ErrInvalidNetNS
INTERFACE_EXISTS = 102
LINK_ERROR = 103
NOT_NSFS_HINT = (
    "here it is a plain file: a netns bind-mounted in another mount namespace (e.g. by a command run under "
    "`ip netns exec`) is not visible to the node agent"
)


class Commands:
    def __init__(self, config: AgentConfig, state: NodeState) -> None:
        self.config = config
        self.state = state
        self._bridge: tuple[int, str] | None = None  # (index, MAC), looked up once; dropped after a failed ADD

    def bridge(self) -> tuple[int, str]:
        if self._bridge is None:
            self._bridge = podnet.bridge_info(self.config.bridge)
        return self._bridge

    def dispatch(self, req: Request) -> Any:
        handler = {
            "ADD": self.cmd_add,
            "DEL": self.cmd_del,
            "CHECK": self.cmd_check,
            "STATUS": self.cmd_status,
            "GC": self.cmd_gc,
        }.get(req.command)
        if handler is None:
            raise CniError(skel.INVALID_ENV, f"unknown CNI_COMMAND: {req.command}")
        try:
            return handler(req)
        except CniError:
            raise
        except ipam.IpamError as exc:
            raise CniError(exc.code, str(exc)) from None
        except podnet.InterfaceExists as exc:
            raise CniError(INTERFACE_EXISTS, str(exc)) from None
        except LinuxError as exc:  # NotFound in CHECK: something is missing
            raise CniError(LINK_ERROR, str(exc)) from None
        except Exception as exc:  # one bad call must not take the agent down; report it to the runtime
            log.exception("%s %s/%s failed", req.command, req.container_id, req.ifname)
            raise CniError(skel.INTERNAL, f"{req.command} failed: {exc}") from None

    def stores(self, network: NodeNetwork) -> list[ipam.Store]:
        """The IPAM store of each of the node's subnets, IPv4 first."""
        return [ipam.Store(self.config.ipam_dir(s), s) for s in network.subnets]

    def _ready_network(self) -> NodeNetwork:
        network, ready, reason = self.state.snapshot()
        if not ready or network is None:
            raise CniError(skel.TRY_AGAIN_LATER, "node is not ready; try again later", reason)
        return network

    def cmd_add(self, req: Request) -> dict[str, Any]:
        network = self._ready_network()
        _check_pod_netns(req.netns)
        with ExitStack() as undo:
            pod_addresses = []
            for store, subnet in zip(self.stores(network), network.subnets, strict=True):
                reservation = store.allocate(req.container_id, req.ifname)
                undo.callback(store.release, req.container_id, req.ifname)
                address = ip_interface(f"{reservation.address}/{subnet.prefixlen}")
                pod_addresses.append(podnet.PodAddress(address, gateway(subnet)))
            faults.point("add", "after-reserve")
            host = podnet.host_veth(req.container_id, req.ifname)
            bridge_index, bridge_mac = self.bridge()
            try:
                made = podnet.attach(
                    netns_path=req.netns,
                    ifname=req.ifname,
                    host=host,
                    alias=podnet.tag(req.container_id, req.ifname),
                    bridge_index=bridge_index,
                    pod_addresses=pod_addresses,
                )
            except podnet.InterfaceExists:
                raise  # the pod's mistake: the bridge is fine
            except LinuxError:
                self._bridge = None  # the bridge may have been re-created: look it up again next time
                raise
            out = result.add_result(
                req.cni_version,
                bridge=(self.config.bridge, bridge_mac),
                host=(host, made.host_mac),
                pod=(req.ifname, made.pod_mac, req.netns),
                ips=[(str(p.address), str(p.gateway)) for p in pod_addresses],
                default_routes=made.default_routes,
            )
            faults.point("add", "before-result")
            undo.pop_all()
            return out

    def cmd_del(self, req: Request) -> None:
        """Succeeds when things are already gone; needs neither prevResult nor CNI_NETNS nor readiness."""
        podnet.detach(podnet.host_veth(req.container_id, req.ifname))
        network, _, _ = self.state.snapshot()
        if network is not None:
            for store in self.stores(network):
                store.release(req.container_id, req.ifname)

    def cmd_check(self, req: Request) -> None:
        network = self._ready_network()
        prev = result.prev_addresses(req.config, req.ifname)
        pod_addresses = []
        for store, subnet in zip(self.stores(network), network.subnets, strict=True):
            reservation = store.find(req.container_id, req.ifname)
            if reservation is None and prev is not None and subnet.version not in prev:
                continue  # attached before the node had this family: the runtime's prevResult holds none of it
            if reservation is None:
                raise CniError(LINK_ERROR, f"no IPv{subnet.version} reservation for {req.container_id}/{req.ifname}")
            address = ip_interface(f"{reservation.address}/{subnet.prefixlen}")
            said = prev.get(subnet.version) if prev is not None else None
            if said is not None and ip_interface(said) != address:
                raise CniError(LINK_ERROR, f"prevResult says {said}, the reservation is {address}")
            pod_addresses.append(podnet.PodAddress(address, gateway(subnet)))
        podnet.check(
            netns_path=req.netns,
            ifname=req.ifname,
            host=podnet.host_veth(req.container_id, req.ifname),
            bridge=self.config.bridge,
            pod_addresses=pod_addresses,
            default_routes=result.prev_default_routes(req.config),
        )

    def cmd_status(self, req: Request) -> None:
        network, ready, reason = self.state.snapshot()
        if not ready or network is None:
            raise CniError(skel.NOT_AVAILABLE, "node is not ready", reason)
        for store, subnet in zip(self.stores(network), network.subnets, strict=True):
            if store.free_count() <= 0:
                raise CniError(skel.NOT_AVAILABLE, f"no free pod address left in {subnet}")
        if not podnet.bridge_has(self.config.bridge, network):
            raise CniError(skel.NOT_AVAILABLE, f"bridge {self.config.bridge!r} or a gateway address is missing")

    def cmd_gc(self, req: Request) -> None:
        """Free reservations outside the valid list, then remove every hubnet-tagged bridge port that is neither
        reserved nor in the valid list.

        The runtime runs no ADD or DEL during GC (spec), so such a port is a leak: of the freed attachments, or
        left by a DEL the shim handled while the agent was down. Untagged ports are another component's.
        """
        network, _, _ = self.state.snapshot()
        if network is None:
            return
        valid = skel.valid_attachments(req.config)
        attachments = set(valid)
        for store in self.stores(network):
            store.release_except(valid)
            attachments |= {(r.container_id, r.ifname) for r in store.reservations()}
        keep = {podnet.host_veth(cid, ifname) for cid, ifname in attachments}
        errors = podnet.sweep(self.config.bridge, keep).errors
        if errors:  # continue on error and report all (spec)
            raise CniError(LINK_ERROR, "GC could not remove some veths", "; ".join(errors))


def _check_pod_netns(path: str) -> None:
    """CNI_NETNS must be a network namespace (libcni: invalid netns, 8) and not the node's own.

    Every namespace file lives on the kernel's one nsfs, so comparing device numbers with our own netns tells a
    namespace from a plain file without another syscall. The plain file is what a netns bind-mounted in another
    mount namespace (`hubnet node pod add` under `ip netns exec`) looks like from here.
    """
    try:
        pod = os.stat(path)
    except OSError as exc:
        raise CniError(INVALID_NETNS, f"failed to open netns {path!r}: {exc.strerror}") from None
    own = os.stat("/proc/self/ns/net")
    if pod.st_dev != own.st_dev:
        raise CniError(INVALID_NETNS, f"failed to open netns {path!r}: not a network namespace", NOT_NSFS_HINT)
    if pod.st_ino == own.st_ino:
        raise CniError(INVALID_NETNS, "plugin's netns and netns from CNI_NETNS should not be the same", path)
