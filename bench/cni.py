"""CNI benchmark: hubnet's plugin against Debian's reference `bridge` + `host-local`, same machine, same run.

    .venv/bin/python bench/cni.py [--pods 200] [--parallel-pods 50] [--workers 8] [--parallel-rounds 3]
                                  [--stack ipv4|dual]

Each side gets its own throwaway node namespace (hnt-bench-*), bridge and subnet. Both plugins are executed the way
a runtime on that node executes them: `nsenter --net=<node>` + the plugin binary, CNI_* variables, config on stdin,
one fresh pod namespace per pod. Sequential ADD and DEL latencies are interleaved pod by pod (hubnet, reference,
hubnet, …) so that background load hits both alike; then 50 pods are added 8-way parallel, per side, wall time —
in several rounds that alternate which side goes first (a single ~0.3 s burst is at the mercy of the machine's
other load); the median round counts. The load average before and after is part of the output.

`--stack dual`: every pod gets an address of each family on both sides — hubnet's node has a fixed IPv4 and IPv6
subnet, the reference's host-local the same two ranges (`"ranges": [[{"subnet": v4}], [{"subnet": v6}]]`) — and a
default route of each family: the reference runs with `isDefaultGateway` so that it does the same work as hubnet's
ADD (without it, it installs no route at all; the IPv4 run keeps the configuration its earlier figures used).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REF_DIR = "/usr/lib/cni"
NS_DIR = "/run/hnt-bench"
HUBNET = str(Path(sys.executable).parent / "hubnet")


def make_ns(name: str) -> str:
    os.makedirs(NS_DIR, exist_ok=True)
    path = os.path.join(NS_DIR, name)
    Path(path).touch()
    subprocess.run(["unshare", f"--net={path}", "true"], check=True)
    subprocess.run(["nsenter", f"--net={path}", "ip", "link", "set", "lo", "up"], check=True)
    return path


def drop_ns(path: str) -> None:
    subprocess.run(["umount", "-l", path], capture_output=True, check=False)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


class Side:
    """One plugin under test: how to run it on its node, and its config."""

    def __init__(self, name: str, node: str, plugin: str, config: dict[str, object]) -> None:
        self.name, self.node, self.plugin, self.config = name, node, plugin, config
        self.stdin = json.dumps(config).encode()

    def call(self, command: str, cid: str, netns: str) -> float:
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": cid,
            "CNI_NETNS": netns,
            "CNI_IFNAME": "eth0",
            "CNI_PATH": os.path.dirname(self.plugin),
        }
        started = time.perf_counter()
        proc = subprocess.run(
            ["nsenter", f"--net={self.node}", self.plugin], input=self.stdin, env=env, capture_output=True, check=False
        )
        elapsed = time.perf_counter() - started
        if proc.returncode != 0:
            raise RuntimeError(f"{self.name} {command} {cid} failed: {proc.stdout.decode()} {proc.stderr.decode()}")
        return elapsed


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": pct(values, 0.5),
        "p90": pct(values, 0.9),
        "p99": pct(values, 0.99),
        "mean": statistics.mean(values) * 1000,
    }


def parallel_wall(side: Side, pods: list[str], workers: int, prefix: str) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda i: side.call("ADD", f"{prefix}{i}", pods[i]), range(len(pods))))
    return time.perf_counter() - started


def run(args: argparse.Namespace, work: str, cleanup: list[Callable[[], None]]) -> dict[str, object]:
    hub_node, ref_node = make_ns("hnt-bench-hubnet"), make_ns("hnt-bench-ref")
    cleanup += [lambda: drop_ns(hub_node), lambda: drop_ns(ref_node)]
    state, conf, bindir = (os.path.join(work, d) for d in ("state", "conf", "bin"))
    dirs = ["--state-dir", state, "--cni-conf-dir", conf, "--cni-bin-dir", bindir]
    dual = args.stack == "dual"
    subnets = "10.244.7.0/24,fd00:10:244:7::/64" if dual else "10.244.7.0/24"
    cidrs = "10.244.0.0/16,fd00:10:244::/56" if dual else "10.244.0.0/16"
    fixed = ["--fixed-subnet", subnets, "--cluster-cidr", cidrs, "--bridge", "hnt-hubbr0"]
    agent_cmd = ["nsenter", f"--net={hub_node}", HUBNET, "node", "join", *fixed, *dirs]
    log = open(os.path.join(work, "agent.log"), "wb")  # noqa: SIM115 - closed by cleanup
    agent = subprocess.Popen(agent_cmd, stdout=log, stderr=subprocess.STDOUT)

    def stop_agent() -> None:
        agent.send_signal(signal.SIGTERM)
        agent.wait(10)
        log.close()

    cleanup.append(stop_agent)
    conflist_path = os.path.join(conf, "10-hubnet.conflist")
    deadline = time.monotonic() + 30
    while not (os.path.exists(conflist_path) and os.path.exists(os.path.join(state, "agent.sock"))):
        if time.monotonic() > deadline or agent.poll() is not None:
            raise RuntimeError("hubnet agent did not become ready; see " + os.path.join(work, "agent.log"))
        time.sleep(0.05)
    with open(conflist_path) as f:
        conflist = json.load(f)
    hub = Side("hubnet", hub_node, os.path.join(bindir, "hubnet"),
               {**conflist["plugins"][0], "cniVersion": "1.0.0", "name": conflist["name"]})  # fmt: skip
    ipam: dict[str, object] = {"type": "host-local", "subnet": "10.245.7.0/24", "dataDir": os.path.join(work, "hl")}
    if dual:
        del ipam["subnet"]
        ipam["ranges"] = [[{"subnet": "10.245.7.0/24"}], [{"subnet": "fd00:10:245:7::/64"}]]
    ref = Side("reference", ref_node, os.path.join(REF_DIR, "bridge"), {
        "cniVersion": "1.0.0", "name": "refnet", "type": "bridge", "bridge": "hnt-refbr0", "isGateway": True,
        **({"isDefaultGateway": True} if dual else {}), "ipMasq": False, "ipam": ipam,
    })  # fmt: skip

    pods: dict[str, list[str]] = {}
    for side in (hub, ref):
        pods[side.name] = [make_ns(f"hnt-bench-{side.name[:3]}-{i}") for i in range(args.pods)]
        cleanup.extend(functools.partial(drop_ns, p) for p in pods[side.name])
    for side in (hub, ref):  # warm-up: page cache, first bridge port
        for i in range(3):
            side.call("ADD", f"warm{i}", pods[side.name][i])
            side.call("DEL", f"warm{i}", pods[side.name][i])

    adds: dict[str, list[float]] = {"hubnet": [], "reference": []}
    dels: dict[str, list[float]] = {"hubnet": [], "reference": []}
    for i in range(args.pods):
        for side in (hub, ref):
            adds[side.name].append(side.call("ADD", f"seq{i}", pods[side.name][i]))
    for i in range(args.pods):
        for side in (hub, ref):
            dels[side.name].append(side.call("DEL", f"seq{i}", pods[side.name][i]))

    rounds: dict[str, list[float]] = {"hubnet": [], "reference": []}
    for r in range(args.parallel_rounds):
        for side in (ref, hub) if r % 2 == 0 else (hub, ref):
            rounds[side.name].append(
                parallel_wall(side, pods[side.name][: args.parallel_pods], args.workers, f"par{r}-")
            )
        for side in (hub, ref):
            for i in range(args.parallel_pods):
                side.call("DEL", f"par{r}-{i}", pods[side.name][i])
    walls = {name: statistics.median(values) for name, values in rounds.items()}

    out: dict[str, object] = {
        "stack": args.stack, "pods": args.pods, "parallel_pods": args.parallel_pods, "workers": args.workers,
    }  # fmt: skip
    for name in ("hubnet", "reference"):
        out[name] = {
            "add_ms": summary(adds[name]),
            "del_ms": summary(dels[name]),
            "parallel_wall_s": walls[name],
            "parallel_rounds_s": rounds[name],
        }
    out["ratios"] = {
        "add_p50": pct(adds["hubnet"], 0.5) / pct(adds["reference"], 0.5),
        "del_p50": pct(dels["hubnet"], 0.5) / pct(dels["reference"], 0.5),
        "parallel_wall": walls["hubnet"] / walls["reference"],
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=200)
    parser.add_argument("--parallel-pods", type=int, default=50)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--parallel-rounds", type=int, default=3)
    parser.add_argument("--stack", choices=("ipv4", "dual"), default="ipv4", help="pod address families")
    args = parser.parse_args()
    if os.geteuid() != 0 or not os.path.exists(os.path.join(REF_DIR, "bridge")):
        sys.exit(f"needs root and the reference plugins in {REF_DIR} (Debian containernetworking-plugins)")
    work = tempfile.mkdtemp(prefix="hnt-bench-cni-")
    cleanup: list[Callable[[], None]] = []
    load_before = os.getloadavg()
    try:
        result = run(args, work, cleanup)
        result["loadavg_before_after"] = [load_before, os.getloadavg()]
    finally:
        for undo in reversed(cleanup):
            with contextlib.suppress(Exception):
                undo()
        shutil.rmtree(work, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.rmdir(NS_DIR)
    print(json.dumps(result, indent=2))
    for name in ("hubnet", "reference"):
        r = result[name]
        assert isinstance(r, dict)
        a, d = r["add_ms"], r["del_ms"]
        print(f"{name:10} ADD p50/p90/p99 {a['p50']:.1f}/{a['p90']:.1f}/{a['p99']:.1f} ms   "
              f"DEL p50/p90/p99 {d['p50']:.1f}/{d['p90']:.1f}/{d['p99']:.1f} ms   "
              f"{args.parallel_pods} pods {args.workers}-way {r['parallel_wall_s']:.2f} s (median)")  # fmt: skip
    ratios = result["ratios"]
    assert isinstance(ratios, dict)
    print("hubnet/reference, same run: " + "  ".join(f"{k} {v:.2f}x" for k, v in ratios.items()))
    loads = result["loadavg_before_after"]
    assert isinstance(loads, list)
    print("load average before/after: " + " / ".join(" ".join(f"{x:.2f}" for x in t) for t in loads))


if __name__ == "__main__":
    main()
