"""A pod network of our own: one bridge, one network namespace per pod, hosts files as DNS.

Everything is named with a per-run prefix (``tsp<5 hex>``) and lives in a /24 of
10.203.0.0/16 that no interface of this machine uses yet, so two runs never collide and
nothing else is touched. Each pod's namespace has a veth into the bridge (``eth0``) and
its own ``/etc/netns/<ns>/hosts``, which ``ip netns exec`` puts in place of /etc/hosts:
the pods' FQDNs resolve there as through cluster DNS, and only while the pod exists.
A pod deleted and created again gets a new address, as on Kubernetes. Cutting a pod off
sets its veth down. :meth:`PodNetwork.close` removes every namespace, veth, hosts file
and the bridge, by name.

Needs root and iproute2 (the development machines and CI run the tests as root).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

NETNS_ETC = Path("/etc/netns")
#: The test range: a /24 of it is chosen per run.
TEST_RANGE = ipaddress.IPv4Network("10.203.0.0/16")


class PodNetworkUnavailable(RuntimeError):
    """This machine cannot build network namespaces (not root, or no iproute2)."""


def _ip(*args: str) -> str:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def available() -> str | None:
    """Why pod networks cannot be built here, or None when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root (CI and the development machines run as root)"
    if shutil.which("ip") is None:
        return "iproute2's ip is not installed"
    return None


def _free_subnet() -> ipaddress.IPv4Network:
    used = [
        ipaddress.ip_interface(word)
        for line in _ip("-4", "-o", "addr", "show").splitlines()
        for word in line.split()
        if "/" in word and word[0].isdigit()
    ]
    routes = _ip("-4", "route", "show")
    candidates = list(TEST_RANGE.subnets(new_prefix=24))
    for _ in range(64):
        subnet = candidates[secrets.randbelow(len(candidates))]
        if any(iface.ip in subnet for iface in used) or str(subnet.network_address) in routes:
            continue
        return subnet
    raise PodNetworkUnavailable(f"no free /24 left in {TEST_RANGE}")


@dataclass
class Host:
    """One namespace on the bridge: a pod, or a client such as a worker."""

    name: str  # short, e.g. r0, w0
    netns: str
    veth: str
    address: str
    fqdn: str | None  # resolvable by every namespace while the pod exists
    published: bool = True  # False until its name resolves (DNS catches up)


@dataclass
class PodNetwork:
    """The bridge, the namespaces on it, and the hosts file every namespace reads."""

    prefix: str = field(default_factory=lambda: "tsp" + secrets.token_hex(3)[:5])
    subnet: ipaddress.IPv4Network = field(default_factory=_free_subnet)
    hosts: dict[str, Host] = field(default_factory=dict)
    _next: int = 2
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _created: bool = False

    @property
    def bridge(self) -> str:
        return f"{self.prefix}br"

    @property
    def gateway(self) -> str:
        """The bridge's own address: the test process reaches every pod through it."""
        return str(self.subnet.network_address + 1)

    def create(self) -> PodNetwork:
        reason = available()
        if reason is not None:
            raise PodNetworkUnavailable(reason)
        _ip("link", "add", self.bridge, "type", "bridge")
        self._created = True
        _ip("addr", "add", f"{self.gateway}/{self.subnet.prefixlen}", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        return self

    def add(self, name: str, fqdn: str | None = None, dns_delay: float = 0.0) -> Host:
        """A new namespace with a fresh address on the bridge (``name`` at most 5 chars).

        Its ``fqdn`` resolves everywhere ``dns_delay`` seconds later, as cluster DNS learns
        a new pod's address only once the endpoints controller has published it.
        """
        with self._lock:
            if name in self.hosts:
                raise ValueError(f"{name} is already on the network")
            address = str(self.subnet.network_address + self._next)
            self._next += 1
            host = Host(name, f"{self.prefix}-{name}", f"{self.prefix}{name}", address, fqdn,
                        published=dns_delay <= 0)  # fmt: skip
            peer = f"{self.prefix}{name}p"
            _ip("netns", "add", host.netns)
            self.hosts[name] = host
            _ip("link", "add", host.veth, "type", "veth", "peer", "name", peer)
            _ip("link", "set", peer, "netns", host.netns)
            inside = ("netns", "exec", host.netns, "ip")
            _ip(*inside, "link", "set", peer, "name", "eth0")
            _ip(*inside, "addr", "add", f"{address}/{self.subnet.prefixlen}", "dev", "eth0")
            _ip(*inside, "link", "set", "eth0", "up")
            _ip(*inside, "link", "set", "lo", "up")
            _ip("link", "set", host.veth, "master", self.bridge)
            _ip("link", "set", host.veth, "up")
            self._write_hosts()
        if dns_delay > 0:
            timer = threading.Timer(dns_delay, self._publish, args=(host,))
            timer.daemon = True
            timer.start()
        return host

    def _publish(self, host: Host) -> None:
        with self._lock:
            if self.hosts.get(host.name) is host:
                host.published = True
                self._write_hosts()

    def remove(self, name: str) -> None:
        """The namespace goes, and its name stops resolving everywhere."""
        with self._lock:
            host = self.hosts.pop(name, None)
            if host is None:
                return
            self._write_hosts()
            self._delete(host)

    def cut(self, name: str) -> None:
        """Partition: nothing reaches the namespace and it reaches nothing."""
        _ip("link", "set", self.hosts[name].veth, "down")

    def heal(self, name: str) -> None:
        _ip("link", "set", self.hosts[name].veth, "up")

    def exec_prefix(self, name: str) -> list[str]:
        """argv prefix that runs a command inside the namespace of ``name``."""
        return ["ip", "netns", "exec", self.hosts[name].netns]

    def _write_hosts(self) -> None:
        lines = ["127.0.0.1 localhost"]
        for host in self.hosts.values():
            if host.fqdn and host.published:
                lines.append(f"{host.address} {host.fqdn} {host.fqdn.split('.', 1)[0]}")
        text = "\n".join(lines) + "\n"
        for host in self.hosts.values():
            folder = NETNS_ETC / host.netns
            folder.mkdir(parents=True, exist_ok=True)
            # Rewritten in place: running processes hold the bind-mounted file's inode.
            with open(folder / "hosts", "w", encoding="utf-8") as out:
                out.write(text)

    def _delete(self, host: Host) -> None:
        for args in (("link", "del", host.veth), ("netns", "del", host.netns)):
            subprocess.run(["ip", *args], capture_output=True, check=False)
        shutil.rmtree(NETNS_ETC / host.netns, ignore_errors=True)

    def close(self) -> None:
        """Remove every namespace, veth, hosts file and the bridge (by name)."""
        with self._lock:
            for host in list(self.hosts.values()):
                self._delete(host)
            self.hosts.clear()
            if self._created:
                subprocess.run(["ip", "link", "del", self.bridge], capture_output=True,
                               check=False)  # fmt: skip
                self._created = False

    def leftovers(self) -> list[str]:
        """Anything of this run still on the machine (empty after close)."""
        found = [n for n in _ip("netns", "list").split() if n.startswith(self.prefix)]
        found += [
            line.split(":")[1].strip().split("@")[0]
            for line in _ip("-o", "link", "show").splitlines()
            if line.split(":")[1].strip().startswith(self.prefix)
        ]
        if NETNS_ETC.exists():
            found += [p.name for p in NETNS_ETC.iterdir() if p.name.startswith(self.prefix)]
        return found
