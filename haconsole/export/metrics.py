"""Prometheus metrics read from a ClusterView at scrape time.

Why this shape:
- Names, types, help texts and labels of the `keepalived_*` families are those of the
  widely deployed keepalived-exporter, so the dashboards and alert rules written for it
  work unchanged, whether the agent exports its own node or a console exports every node
  it watches (stock keepalived over SSH included: an exporter with nothing installed).
- The collector keeps nothing: each scrape folds nothing and stores nothing, it reads the
  view the screen reads (`ViewCollector`), so a stopped node cannot "still show MASTER"
  and `keepalived_up` means what the view knows now, not whether a dump file was read.
- Label values never change with state (state is the value; a transition count is per
  target state, a fixed set), and nothing is per packet: cardinality stays
  instances x VIPs. The one exception, the master's address, is an info series whose
  label takes at most one value per router on the segment.
- Served on the caller's asyncio loop (`serve`), so a scrape reads the view between two
  folds, never during one; prometheus_client writes the exposition (text or OpenMetrics,
  as the scraper asks).

Label sets: the agent exports its one node with the exporter's labels exactly
(`one_node=True`), without the alarms one node cannot judge alone
(`export.status.ROUTER_ALARMS`: it does not see its peers, so "no master" or "no healthy
backup" would be false); a console
adds `node` to every per-node family and exports every alarm of its view.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector, CollectorRegistry

from haconsole.cluster.alarms import alarms as view_alarms
from haconsole.cluster.view import ClusterView, InstanceView, NodeView
from haconsole.export.status import ROUTER_ALARMS

__all__ = ["COUNTERS", "DEFAULT_PORT", "STATE_CODES", "MetricsServer",
           "ViewCollector", "exposition", "listen_arg", "parse_listen", "serve"]

log = logging.getLogger("haconsole.metrics")

ViewProvider = Callable[[], ClusterView]

DEFAULT_PORT = 9165  # keepalived-exporter's
#: keepalived_vrrp_state's values (keepalived's codes, as the exporter maps them).
STATE_CODES = {"INIT": 0, "BACKUP": 1, "MASTER": 2, "FAULT": 3}
#: The states a transition can enter: one series each in haconsole_vrrp_transitions_total.
TARGET_STATES = ("INIT", "BACKUP", "MASTER", "FAULT", "STOP")

#: keepalived's counter (vrrp.instance.STAT_NAMES) -> (exporter metric, exporter help).
COUNTERS: dict[str, tuple[str, str]] = {
    "advert_rcvd": ("keepalived_advertisements_received_total", "Advertisements received"),
    "advert_sent": ("keepalived_advertisements_sent_total", "Advertisements sent"),
    "become_master": ("keepalived_become_master_total", "Became master"),
    "release_master": ("keepalived_release_master_total", "Released master"),
    "packet_len_err": ("keepalived_packet_length_errors_total", "Packet length errors"),
    "advert_interval_err": ("keepalived_advertisements_interval_errors_total",
                            "Advertisement interval errors"),
    "ip_ttl_err": ("keepalived_ip_ttl_errors_total", "TTL errors"),
    "invalid_type_rcvd": ("keepalived_invalid_type_received_total", "Invalid type errors"),
    "addr_list_err": ("keepalived_address_list_errors_total", "Address list errors"),
    "invalid_authtype": ("keepalived_authentication_invalid_total", "Authentication invalid"),
    "authtype_mismatch": ("keepalived_authentication_mismatch_total",
                          "Authentication mismatch"),
    "auth_failure": ("keepalived_authentication_failure_total", "Authentication failure"),
    "pri_zero_rcvd": ("keepalived_priority_zero_received_total", "Priority zero received"),
    "pri_zero_sent": ("keepalived_priority_zero_sent_total", "Priority zero sent"),
}

INSTANCE_LABELS = ("iname", "intf", "vrid")


class ViewCollector(Collector):
    """A prometheus_client collector over `view_provider()` (see the module docstring).

    `one_node`: the view is one node's view of itself (an agent): the keepalived
    families carry the exporter's labels only, and router-wide alarms are left out.
    Otherwise (a console's many nodes) every per-node family has a `node` label.
    `clock` gives `now` for the alarms and for staleness.
    """

    def __init__(self, view_provider: ViewProvider, *, one_node: bool = False,
                 clock: Callable[[], float] = time.time) -> None:
        self.view_provider = view_provider
        self.one_node = one_node
        self.clock = clock

    def describe(self) -> Iterable[Metric]:
        return []  # registering must not read the view (it may not exist yet)

    def collect(self) -> Iterator[Metric]:
        view = self.view_provider()
        now = self.clock()
        yield from _Scrape(view, now, not self.one_node).families()


@dataclass
class _Scrape:
    """One scrape: every family built from one view at one `now`."""

    view: ClusterView
    now: float
    node_label: bool

    def _labels(self, *names: str) -> list[str]:
        return ["node", *names] if self.node_label else list(names)

    def _node(self, node: str) -> list[str]:
        return [node] if self.node_label else []

    def _instances(self) -> list[InstanceView]:
        """The instances of nodes the view believes alive, in a stable order (a lost
        node exports no VRRP series, as the exporter exports none when it cannot read)."""
        out = []
        for key in sorted(self.view.instances):
            inst = self.view.instances[key]
            node = self.view.nodes.get(inst.node)
            if inst.lost or (node is not None and not node.up):
                continue
            out.append(inst)
        return out

    def _ids(self, inst: InstanceView) -> list[str]:
        return [*self._node(inst.node), inst.name, inst.interface, str(inst.vrid)]

    def families(self) -> Iterator[Metric]:
        yield from self._keepalived()
        yield from self._instance_extras()
        yield from self._node_extras()
        yield from self._alarms()

    # ---------------------------------------------------------------- the exporter's
    def _keepalived(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("keepalived_up", "Status", labels=self._labels())
        for node in sorted(self.view.nodes.values(), key=lambda n: n.name):
            up.add_metric(self._node(node.name), 1.0 if node.up else 0.0)
        yield up
        state = GaugeMetricFamily("keepalived_vrrp_state", "State of vrrp",
                                  labels=self._labels(*INSTANCE_LABELS, "ip_address"))
        excluded = GaugeMetricFamily("keepalived_vrrp_excluded_state",
                                     "State of vrrp with excluded VIP",
                                     labels=self._labels(*INSTANCE_LABELS, "ip_address"))
        counters = {name: CounterMetricFamily(metric, text, labels=self._labels(
            *INSTANCE_LABELS)) for name, (metric, text) in COUNTERS.items()}
        for inst in self._instances():
            code = STATE_CODES.get(str(inst.state))
            if code is not None:
                for vip in inst.vips or ("",):
                    state.add_metric([*self._ids(inst), vip], float(code))
            for name, value in inst.stats.items():
                if name in counters:
                    counters[name].add_metric(self._ids(inst), float(value))
        yield state
        yield excluded  # haconsole's events carry no excluded VIPs: declared, no samples
        yield from counters.values()
        status = GaugeMetricFamily("keepalived_script_status", "Tracker Script Status",
                                   labels=self._labels("name"))
        for node in self._live_nodes():
            for name, ok in sorted(node.tracks.items()):
                status.add_metric([*self._node(node.name), name], 1.0 if ok else 0.0)
        yield status
        # keepalived's script process state (idle, running, ...): no source reports it.
        yield GaugeMetricFamily("keepalived_script_state", "Tracker Script State",
                                labels=self._labels("name"))

    def _live_nodes(self) -> list[NodeView]:
        return [n for n in sorted(self.view.nodes.values(), key=lambda n: n.name) if n.up]

    # ---------------------------------------------------------------- haconsole's own
    def _instance_extras(self) -> Iterator[Metric]:
        labels = self._labels(*INSTANCE_LABELS)
        base = GaugeMetricFamily("haconsole_vrrp_base_priority",
                                 "Configured priority of the instance", labels=labels)
        effective = GaugeMetricFamily(
            "haconsole_vrrp_effective_priority",
            "Priority advertised now: base plus the weights of tracked objects",
            labels=labels)
        last = GaugeMetricFamily(
            "haconsole_vrrp_last_transition_timestamp_seconds",
            "When the instance entered its current state (Unix time)", labels=labels)
        entered = CounterMetricFamily(
            "haconsole_vrrp_transitions", "State transitions seen, by the state entered",
            labels=[*labels, "state"])
        master = GaugeMetricFamily(
            "haconsole_vrrp_master_info",
            "The address this instance sees as MASTER (1; one series at a time)",
            labels=[*labels, "master_address"])
        for inst in self._instances():
            ids = self._ids(inst)
            base.add_metric(ids, float(inst.base_priority))
            effective.add_metric(ids, float(inst.effective_priority))
            since = inst.last_transition.t if inst.last_transition is not None else inst.since
            if since is not None:
                last.add_metric(ids, since)
            for target in TARGET_STATES:
                entered.add_metric([*ids, target], float(inst.entered.get(target, 0)))
            if inst.master_address:
                master.add_metric([*ids, inst.master_address], 1.0)
        yield from (base, effective, last, entered, master)

    def _node_extras(self) -> Iterator[Metric]:
        labels = self._labels("name")
        track_up = GaugeMetricFamily(
            "haconsole_track_up",
            "Result of a tracked object (script, process, interface, file): 1 passing",
            labels=labels)
        track_changed = GaugeMetricFamily(
            "haconsole_track_last_change_timestamp_seconds",
            "When the tracked object's result last changed (Unix time)", labels=labels)
        service_up = GaugeMetricFamily("haconsole_service_up",
                                       "The guarded service (nginx) is up: 1",
                                       labels=labels)
        service_changed = GaugeMetricFamily(
            "haconsole_service_last_change_timestamp_seconds",
            "When the service last went up or down (Unix time)", labels=labels)
        source_up = GaugeMetricFamily(
            "haconsole_source_up",
            "haconsole reads the node now: its source is healthy and not stale (1)",
            labels=["node"])
        stale_after = self.view.config.stale_after
        for node in sorted(self.view.nodes.values(), key=lambda n: n.name):
            fresh = node.health_ok and self.now - node.last_event <= stale_after
            source_up.add_metric([node.name], 1.0 if fresh else 0.0)
            if not node.up:
                continue
            for name, ok in sorted(node.tracks.items()):
                track_up.add_metric([*self._node(node.name), name], 1.0 if ok else 0.0)
                track_changed.add_metric([*self._node(node.name), name],
                                         node.changed_at.get(name, node.first_seen))
            for name, up in sorted(node.services.items()):
                service_up.add_metric([*self._node(node.name), name], 1.0 if up else 0.0)
                service_changed.add_metric([*self._node(node.name), name],
                                           node.changed_at.get(name, node.first_seen))
        yield from (track_up, track_changed, service_up, service_changed, source_up)

    def _alarms(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "haconsole_alarm",
            "An alarm haconsole raises now (1): split-brain, no-master, service-down, "
            "degraded, node-lost, flapping, priority-inversion, stale-source, clock-skew",
            labels=["kind", "instance", "node"])
        seen: set[tuple[str, str, str]] = set()
        for alarm in view_alarms(self.view, self.now):
            if not self.node_label and alarm.kind in ROUTER_ALARMS:
                continue
            key = (alarm.kind, alarm.instance, alarm.node)
            if key not in seen:  # one series per (kind, instance, node): no duplicates
                seen.add(key)
                family.add_metric(list(key), 1.0)
        yield family


def exposition(view_provider: ViewProvider, *, one_node: bool = False,
               clock: Callable[[], float] = time.time, accept: str = "") -> tuple[bytes, str]:
    """(body, content type) of one scrape, in the format `accept` asks for (the text
    format by default)."""
    registry = _registry(view_provider, one_node, clock)
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type


def _registry(view_provider: ViewProvider, one_node: bool,
              clock: Callable[[], float]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ViewCollector(view_provider, one_node=one_node, clock=clock))
    return registry


# ------------------------------------------------------------------------------ serving
_LISTEN = re.compile(r"^(?:(?P<addr>\[[0-9a-fA-F:.]+\]|[^:\[\]]*):)?(?P<port>\d+)$")


def parse_listen(text: str) -> tuple[str, int]:
    """`[ADDR:]PORT` -> (addr, port): `9165` and `:9165` listen on every address,
    `127.0.0.1:9165`, `[::1]:9165`, `localhost:9165`. ValueError says what is wrong."""
    m = _LISTEN.match(text.strip())
    if m is None:
        raise ValueError(f"expected [ADDR:]PORT (e.g. 9165, 127.0.0.1:9165, [::1]:9165), "
                         f"got {text!r}")
    port = int(m["port"])
    if not 0 < port < 65536:
        raise ValueError(f"port {port} is not in 1..65535")
    return (m["addr"] or "").strip("[]"), port


def listen_arg(text: str) -> tuple[str, int]:
    """argparse `type=` for `--metrics [ADDR:]PORT`."""
    import argparse

    try:
        return parse_listen(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


class MetricsServer:
    """A running /metrics listener on the loop that created it; `close()` stops it."""

    def __init__(self, server: asyncio.Server,
                 registry: CollectorRegistry) -> None:
        self.server = server
        self.registry = registry

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        return int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        self.server.close()
        with contextlib.suppress(Exception):
            await self.server.wait_closed()


MAX_REQUEST = 16 * 1024
READ_TIMEOUT = 10.0


async def serve(view_provider: ViewProvider, addr: str = "", port: int = DEFAULT_PORT, *,
                one_node: bool = False,
                clock: Callable[[], float] = time.time) -> MetricsServer:
    """Listen on `addr:port` (every address when `addr` is "") and answer
    `GET /metrics` from `view_provider()`, on the running loop. OSError when the port
    cannot be bound (the caller says so in one line)."""
    registry = _registry(view_provider, one_node, clock)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _answer(registry, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                asyncio.TimeoutError, TimeoutError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    server = await asyncio.start_server(handle, host=addr or None, port=port,
                                        limit=MAX_REQUEST, reuse_address=True)
    return MetricsServer(server, registry)


async def _answer(registry: CollectorRegistry, reader: asyncio.StreamReader,
                  writer: asyncio.StreamWriter) -> None:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        await _reply(writer, 400, b"bad request\n")
        return
    method, target = parts[0], parts[1].split("?", 1)[0]
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    if method not in ("GET", "HEAD"):
        await _reply(writer, 405, b"only GET and HEAD\n", extra="Allow: GET, HEAD\r\n")
        return
    if target == "/":
        body = b"haconsole: VRRP metrics at /metrics\n"
        await _reply(writer, 200, body, head_only=method == "HEAD")
        return
    if target != "/metrics":
        await _reply(writer, 404, b"not found: metrics are at /metrics\n")
        return
    encoder, content_type = choose_encoder(headers.get("accept", ""))
    try:
        body = encoder(registry)
    except Exception as err:  # a bug must not kill the listener: the scrape fails, loudly
        log.exception("metrics scrape failed")
        await _reply(writer, 500, f"scrape failed: {type(err).__name__}\n".encode())
        return
    await _reply(writer, 200, body, content_type=content_type, head_only=method == "HEAD")


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            500: "Internal Server Error"}


async def _reply(writer: asyncio.StreamWriter, status: int, body: bytes, *,
                 content_type: str = "text/plain; charset=utf-8", extra: str = "",
                 head_only: bool = False) -> None:
    head = (f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n")
    writer.write(head.encode("latin-1") + (b"" if head_only else body))
    await writer.drain()
