"""parse_file/parse_text: lines, keepalived's passes, completion, and the model."""

from __future__ import annotations

import os

from haconsole.config import Config, Secret, VrrpInstance
from haconsole.keepalived.conf.builder import Builder
from haconsole.keepalived.conf.completion import Completion
from haconsole.keepalived.conf.environment import Environment
from haconsole.keepalived.conf.findings import BAD_IF, MISSING_PARAMETER, Finding, ParseResult
from haconsole.keepalived.conf.keywords import PASS_FEATURE, PASSES, ROOT, UNSUPPORTED_SECTIONS
from haconsole.keepalived.conf.lexer import Lexer
from haconsole.keepalived.conf.limits import TIMER_HZ, VRRP_PRIO_DFL, VRRP_PRIO_OWNER
from haconsole.keepalived.conf.state import Globals, Group, Inst
from haconsole.keepalived.conf.stream import MissingParameter, Stream
from haconsole.keepalived.conf.tracking import refs
from haconsole.keepalived.conf.values import cmd_line


class _Findings:
    """_Findings of all passes, each printed once (keepalived repeats them per process)."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, int, str], Finding] = {}

    def add(self, finding: Finding) -> None:
        key = (finding.file, finding.line, finding.message)
        self.items.setdefault(key, finding)

    def ordered(self, files: list[str]) -> list[Finding]:
        rank = {name: n for n, name in enumerate(files)}
        return sorted(self.items.values(),
                      key=lambda f: (not f.ka_line and f.origin == "keepalived",
                                     rank.get(f.file, len(rank)), f.line))


def parse_file(path: str | os.PathLike[str], env: Environment | None = None) -> ParseResult:
    """Read a keepalived.conf (and its includes) as the keepalived of `env` would (by
    default the newest release we know, as distributions build it). Never raises for
    anything the file holds: every problem is a Finding."""
    env = env or Environment()
    root = os.fspath(path)
    lexer = Lexer(env)
    lexer.read_root(root)
    return _parse_lines(root, lexer, env)


def parse_text(text: str, source: str = "<memory>", env: Environment | None = None
               ) -> ParseResult:
    """Parse config text (includes resolve relative to the current directory)."""
    env = env or Environment()
    lexer = Lexer(env)
    lexer.read_root(source, text.encode("utf-8", "surrogateescape"))
    return _parse_lines(source, lexer, env)


def _parse_lines(root: str, lexer: Lexer, env: Environment) -> ParseResult:
    findings = _Findings()
    glob_ = Globals()
    vrrp: Builder | None = None
    fatal = False
    runnable = True
    parent_reached = len(lexer.lines)
    words: dict[int, tuple[list[str], int]] = {}
    for name, active in PASSES:
        if name in PASS_FEATURE and not env.has(PASS_FEATURE[name]):
            continue  # keepalived built without LVS (BFD) has no checker (bfd) process
        stream = Stream(lexer.lines, findings.add, words, env=env, parent=name == "parent")
        builder = Builder(stream, env, glob_)
        try:
            stream.process(ROOT, active, builder)
        except MissingParameter as exc:
            stream.report(MISSING_PARAMETER, exc.message())
            fatal = True
        if name == "parent":
            parent_reached = stream.pos
            if lexer.config_file_error and not fatal:
                break
        if name == "vrrp":
            vrrp = builder
            _unsupported(stream, findings)
            if not fatal:
                runnable = _complete(builder, findings, root)
        if fatal:
            break
    for note in lexer.notes:
        if note.index <= parent_reached or not fatal:
            findings.add(note.finding)
    config = _build_config(root, glob_, vrrp)
    no_config = lexer.config_file_error and not fatal
    runnable = runnable and not fatal and not no_config and bool(lexer.files)
    return ParseResult(config, findings.ordered(lexer.files), lexer.files, fatal, no_config,
                       runnable)


def _unsupported(stream: Stream, findings: _Findings) -> None:
    for line, keyword in stream.unsupported:
        what = "LVS" if UNSUPPORTED_SECTIONS[keyword] == "lvs" else "BFD"
        findings.add(Finding(line.file, line.number, "info",
                             f"{keyword}: {what} sections are not supported by haconsole - "
                             "section skipped", "haconsole", None))


def _complete(builder: Builder, findings: _Findings, root: str) -> bool:
    """Complete the vrrp configuration; False when keepalived would refuse to run it."""
    completion = Completion(builder, findings.add, root)
    where = builder.non_existent_interface
    if where is not None:
        findings.add(Finding(where.file, where.number, "error", "Non-existent interface "
                             "specified in configuration", "keepalived", BAD_IF, ka_line=False))
        completion.stop()
    completion.run()
    return not completion.stopped


def _build_config(root: str, glob_: Globals, b: Builder | None) -> Config:
    config = Config(source=root, global_defs=glob_.defs)
    if b is None:
        return config
    for script in b.scripts:
        config.vrrp_scripts.setdefault(script.cfg.name, script.cfg)
    for tfile in b.track_files:
        config.track_files.setdefault(tfile.name, tfile)
    for proc in b.processes:
        config.track_processes.setdefault(proc.name, proc)
    config.vrrp_instances = [_finish(inst, glob_) for inst in b.instances]
    for group in b.groups:
        _finish_group(group)
        config.vrrp_sync_groups.append(group.cfg)
    return config


def _finish(inst: Inst, glob_: Globals) -> VrrpInstance:
    """The model the engine runs: keepalived's values after completion."""
    cfg = inst.cfg
    if not inst.family:
        inst.family = 4
    if not inst.version:
        inst.version = 3 if inst.family == 6 else glob_.defs.vrrp_version
    if inst.base_priority == 0:
        inst.base_priority = VRRP_PRIO_OWNER if inst.wantstate == "MASTER" else VRRP_PRIO_DFL
    if inst.wantstate == "INIT":
        inst.wantstate = "MASTER" if inst.base_priority == VRRP_PRIO_OWNER else "BACKUP"
    cfg.state = "MASTER" if inst.wantstate == "MASTER" else "BACKUP"
    cfg.priority = inst.base_priority
    cfg.version = inst.version
    cfg.advert_int = (inst.adver_int_us or TIMER_HZ) / TIMER_HZ
    cfg.nopreempt = inst.nopreempt
    cfg.preempt_delay = inst.preempt_delay_us / TIMER_HZ
    if inst.auth_type in ("PASS", "AH"):
        cfg.auth_type = "PASS" if inst.auth_type == "PASS" else "AH"
        cfg.auth_pass = Secret(inst.auth_data)
    cfg.virtual_ipaddress = inst.vips
    cfg.virtual_ipaddress_excluded = inst.evips
    cfg.track_interface = refs(inst.track_interface)
    cfg.track_script = refs(inst.track_script)
    cfg.track_file = refs(inst.track_file)
    cfg.track_process = refs(inst.track_process)
    cfg.accept = inst.accept
    cfg.strict_mode = bool(inst.strict_mode if inst.strict_mode is not None
                           else glob_.defs.vrrp_strict)
    cfg.mcast_dst_ip = inst.mcast_dst
    cfg.down_timer_adverts = inst.down_timer_adverts
    cfg.sync_group = inst.sync
    if inst.garp_lower_prio_rep is not None:
        cfg.garp_lower_prio_repeat = inst.garp_lower_prio_rep
    if inst.lower_prio_no_advert is not None:
        cfg.lower_prio_no_advert = inst.lower_prio_no_advert
    for key in ("notify_master", "notify_backup", "notify_fault", "notify_stop", "notify"):
        if key in inst.notify:
            setattr(cfg, key, cmd_line(inst.notify[key]))
    return cfg


def _finish_group(group: Group) -> None:
    for key in ("notify_master", "notify_backup", "notify_fault", "notify"):
        if key in group.notify:
            setattr(group.cfg, key, cmd_line(group.notify[key]))
    if group.cfg.group == [] and group.members:
        group.cfg.group = list(group.members)
