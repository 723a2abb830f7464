"""A fleet's VRRP state read from Prometheus: a read-only console Source.

Why: at a few hundred nodes, a jump host that SSHes to every node stops scaling, and the
state already lives in Prometheus, scraped from keepalived-exporter, haconsole agents
(`agent --metrics`) or consoles (`--metrics`): the same `keepalived_*` families. This
source asks Prometheus's HTTP API (`/api/v1/query`, instant queries, stdlib only) every
`interval` seconds and publishes what it learns as `cluster.events`, so the view, its
alarms and every screen work unchanged:

- `keepalived_vrrp_state` -> InstanceState per (node, iname) with its VIPs (the
  `ip_address` labels), a Transition when the state moved between two polls, VipAdded /
  VipRemoved for the VIPs of MASTER instances;
- `haconsole_vrrp_{base,effective}_priority`, `haconsole_vrrp_master_info` where a
  haconsole exporter adds them (0 / unknown otherwise);
- adverts/s: `rate(keepalived_advertisements_{sent,received}_total[1m])`, integrated
  into the cumulative AdvertCounters the view takes rates from; the raw counters as
  InstanceCounters (a console re-exporting them serves the same values);
- `keepalived_script_status` -> TrackResult; `keepalived_up` 0, a failed scrape (`up` 0)
  or a node whose series vanished -> NodeLost (NodeSeen when it is back).

Nodes are named by the `node` label when the series have one (a console's export, or a
scrape config's target label), else by the target's host (`instance` without its port).
Read-only: Prometheus cannot stop nginx, so `supports` is False for every command.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from haconsole.cluster import commands as cmd
from haconsole.cluster import events as ev
from haconsole.sources.base import Publish, end_task

__all__ = ["PrometheusError", "PrometheusSource", "node_name", "selector"]

STATES = {0: ev.State.INIT, 1: ev.State.BACKUP, 2: ev.State.MASTER, 3: ev.State.FAULT}
COUNTER_METRICS = {
    "keepalived_advertisements_received_total": "advert_rcvd",
    "keepalived_advertisements_sent_total": "advert_sent",
    "keepalived_become_master_total": "become_master",
    "keepalived_release_master_total": "release_master",
    "keepalived_packet_length_errors_total": "packet_len_err",
    "keepalived_advertisements_interval_errors_total": "advert_interval_err",
    "keepalived_ip_ttl_errors_total": "ip_ttl_err",
    "keepalived_invalid_type_received_total": "invalid_type_rcvd",
    "keepalived_address_list_errors_total": "addr_list_err",
    "keepalived_authentication_invalid_total": "invalid_authtype",
    "keepalived_authentication_mismatch_total": "authtype_mismatch",
    "keepalived_authentication_failure_total": "auth_failure",
    "keepalived_priority_zero_received_total": "pri_zero_rcvd",
    "keepalived_priority_zero_sent_total": "pri_zero_sent",
}


class PrometheusError(Exception):
    """Prometheus could not be asked, or answered an error: one line to show."""


def selector(match: str) -> str:
    """`--match`: a label selector (`{job="keepalived"}` or `job="keepalived"`) -> the
    matchers inside the braces ("" for none)."""
    text = match.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    return text


def segment_of(labels: dict[str, str], vips: set[str]) -> str:
    """Which cluster a series belongs to, so two clusters reusing a VRID on different
    segments are two routers, not a split brain: the scrape config's `cluster` label when
    there is one, else the instance's VIP set (a cluster's nodes share it)."""
    return labels.get("cluster") or ",".join(sorted(vips))


def node_name(labels: dict[str, str]) -> str:
    """The node a series is about: its `node` label, else its target's host."""
    if labels.get("node"):
        return labels["node"]
    target = labels.get("instance", "")
    host = re.sub(r":\d+$", "", target)
    return host.strip("[]") or target or "?"


Sample = tuple[dict[str, str], float]


@dataclass
class _Instance:
    node: str
    name: str
    interface: str = ""
    vrid: int = 0
    state: ev.State | None = None
    vips: set[str] = field(default_factory=set)
    held: set[str] = field(default_factory=set)  # VIPs we said it holds
    sent: float = 0.0  # integrated rates: what AdvertCounters carries
    received: float = 0.0


class PrometheusSource:
    """Implements sources.base.Source over a Prometheus server (see the module docstring)."""

    def __init__(self, url: str, match: str = "", *, interval: float = 5.0,
                 timeout: float = 5.0, clock: Callable[[], float] = time.time) -> None:
        self.url = url.rstrip("/")
        self.name = f"prometheus {urllib.parse.urlsplit(self.url).netloc or self.url}"
        self.match = selector(match)
        self.interval = interval
        self.timeout = timeout
        self.clock = clock
        self._publish: Publish = lambda e: None
        self._task: asyncio.Task[None] | None = None
        self._instances: dict[tuple[str, str], _Instance] = {}
        self._nodes: dict[str, bool] = {}  # node -> up, as last published
        self._tracks: dict[tuple[str, str], bool] = {}
        self._last_poll: float | None = None
        self._healthy: bool | None = None

    # ----------------------------------------------------------------- Source
    async def start(self, publish: Publish) -> None:
        """First poll now (so a caller sees the fleet at once), then every interval."""
        self._publish = publish
        await self.poll()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        await end_task(self._task)
        self._task = None

    def supports(self, command: type[cmd.Command]) -> bool:
        return False  # read-only: Prometheus reports, it cannot act on a node

    async def execute(self, command: cmd.Command) -> tuple[bool, str]:
        return False, f"read-only: {self.name} cannot {command.describe()}"

    # ----------------------------------------------------------------- polling
    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.poll()

    async def poll(self) -> None:
        """One round of queries, published as events; a failure is a SourceHealth."""
        try:
            results = await asyncio.to_thread(self._query_all)
        except PrometheusError as err:
            self._unhealthy(str(err))
            return
        self._apply(results, self.clock())

    def _sel(self, *extra: str) -> str:
        matchers = [m for m in (*extra, self.match) if m]
        return "{" + ", ".join(matchers) + "}" if matchers else ""

    def _queries(self) -> dict[str, str]:
        names = "|".join(COUNTER_METRICS)
        return {
            "state": f"keepalived_vrrp_state{self._sel()}",
            "up": f"keepalived_up{self._sel()}",
            "target_up": f"up{self._sel()}",
            "counters": self._sel(f'__name__=~"{names}"'),
            "sent": f"rate(keepalived_advertisements_sent_total{self._sel()}[1m])",
            "received": f"rate(keepalived_advertisements_received_total{self._sel()}[1m])",
            "base": f"haconsole_vrrp_base_priority{self._sel()}",
            "effective": f"haconsole_vrrp_effective_priority{self._sel()}",
            "master": f"haconsole_vrrp_master_info{self._sel()}",
            "scripts": f"keepalived_script_status{self._sel()}",
        }

    def _query_all(self) -> dict[str, list[Sample]]:
        return {key: self.query(q) for key, q in self._queries().items()}

    def query(self, promql: str) -> list[Sample]:
        """One instant query (blocking): [(labels, value)]; PrometheusError otherwise."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as reply:
                body = reply.read()
        except urllib.error.HTTPError as err:
            body = err.read()
            if not body:
                raise PrometheusError(f"{self.url}: HTTP {err.code}") from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise PrometheusError(f"cannot reach {self.url}: {reason}") from None
        try:
            doc = json.loads(body)
            if doc.get("status") != "success":
                raise PrometheusError(f"{self.url}: {doc.get('errorType', 'error')}: "
                                      f"{doc.get('error', 'no detail')}")
            result = doc["data"]["result"]
            return [(dict(item["metric"]), float(item["value"][1])) for item in result]
        except (ValueError, KeyError, TypeError, IndexError) as err:
            raise PrometheusError(f"{self.url}: not a Prometheus query answer ({err})") \
                from None

    # ----------------------------------------------------------------- events
    def _unhealthy(self, detail: str) -> None:
        t = self.clock()
        nodes = list(self._nodes) or [self.name]
        for node in nodes:
            self._publish(ev.SourceHealth(t, node, ok=False, detail=detail))
        self._healthy = False

    def _apply(self, r: dict[str, list[Sample]], t: float) -> None:
        publish = self._publish
        by_key: dict[tuple[str, str], list[Sample]] = {}
        for labels, value in r["state"]:
            by_key.setdefault((node_name(labels), labels.get("iname", "")), []).append(
                (labels, value))
        down = {node_name(lb) for lb, v in r["up"] if v == 0}
        down |= {node_name(lb) for lb, v in r["target_up"] if v == 0}
        seen_nodes = {node for node, _ in by_key} | {node_name(lb) for lb, _ in r["up"]}
        for node in sorted(seen_nodes | set(self._nodes)):
            up = node in seen_nodes and node not in down
            was = self._nodes.get(node)
            if up and was is not True:
                publish(ev.NodeSeen(t, node, agent="prometheus"))
            if up and self._healthy is not True:
                publish(ev.SourceHealth(t, node, ok=True, detail=f"read from {self.url}"))
            if not up and was is not False:
                why = "keepalived_up 0" if node in down else "no longer in Prometheus"
                publish(ev.NodeLost(t, node, reason=why))
            self._nodes[node] = up
        self._healthy = True
        prio = self._per_instance(r["base"]), self._per_instance(r["effective"])
        masters = {(node_name(lb), lb.get("iname", "")): lb.get("master_address", "")
                   for lb, v in r["master"] if v}
        rates = self._per_instance(r["sent"]), self._per_instance(r["received"])
        counters: dict[tuple[str, str], dict[str, int]] = {}
        for labels, value in r["counters"]:
            stat = COUNTER_METRICS.get(labels.get("__name__", ""))
            if stat is not None:
                key = (node_name(labels), labels.get("iname", ""))
                counters.setdefault(key, {})[stat] = int(value)
        for key, samples in sorted(by_key.items()):
            if key[0] in down:
                continue
            self._instance_events(key, samples, t, prio, masters, rates, counters.get(key))
        for key, inst in list(self._instances.items()):
            if key not in by_key and inst.held:
                for vip in sorted(inst.held):
                    publish(ev.VipRemoved(t, inst.node, instance=inst.name, vip=vip))
                inst.held.clear()
        for labels, value in r["scripts"]:
            node, name = node_name(labels), labels.get("name", "")
            ok = value == 1
            if node in seen_nodes and self._tracks.get((node, name)) != ok:
                self._tracks[(node, name)] = ok
                publish(ev.TrackResult(t, node, track=name, ok=ok,
                                       detail="GOOD" if ok else "BAD"))
        self._last_poll = t

    @staticmethod
    def _per_instance(samples: list[Sample]) -> dict[tuple[str, str], float]:
        return {(node_name(lb), lb.get("iname", "")): v for lb, v in samples}

    def _instance_events(self, key: tuple[str, str], samples: list[Sample], t: float,
                         prio: tuple[dict[tuple[str, str], float], ...],
                         masters: dict[tuple[str, str], str],
                         rates: tuple[dict[tuple[str, str], float], ...],
                         counters: dict[str, int] | None) -> None:
        publish = self._publish
        node, name = key
        inst = self._instances.get(key)
        if inst is None:
            inst = self._instances[key] = _Instance(node, name)
        labels = samples[0][0]
        inst.interface = labels.get("intf", "")
        with contextlib.suppress(ValueError):
            inst.vrid = int(labels.get("vrid", "0"))
        inst.vips = {lb.get("ip_address", "") for lb, _ in samples} - {""}
        state = STATES.get(int(samples[0][1]), ev.State.INIT)
        if inst.state is not None and inst.state != state:
            publish(ev.Transition(t, node, instance=name, old=inst.state, new=state,
                                  reason="seen in Prometheus"))
        inst.state = state
        base = int(prio[0].get(key, 0))
        effective = int(prio[1].get(key, base))
        master = masters.get(key, "")
        publish(ev.InstanceState(t, node, instance=name, vrid=inst.vrid, state=state,
                                 base_priority=base, effective_priority=effective,
                                 interface=inst.interface, vips=tuple(sorted(inst.vips)),
                                 master_address=master, segment=segment_of(labels, inst.vips)))
        holds = inst.vips if state == ev.State.MASTER else set()
        for vip in sorted(holds - inst.held):
            publish(ev.VipAdded(t, node, instance=name, vip=vip))
        for vip in sorted(inst.held - holds):
            publish(ev.VipRemoved(t, node, instance=name, vip=vip))
        inst.held = set(holds)
        if key in rates[0] or key in rates[1]:
            dt = t - self._last_poll if self._last_poll is not None else 0.0
            inst.sent += rates[0].get(key, 0.0) * dt
            inst.received += rates[1].get(key, 0.0) * dt
            publish(ev.AdvertCounters(t, node, instance=name, sent=int(inst.sent),
                                      received=int(inst.received)))
        if counters:
            publish(ev.InstanceCounters(t, node, instance=name, counters=counters))
