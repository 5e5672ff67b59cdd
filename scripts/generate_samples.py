#!/usr/bin/env python3
"""Generate the synthetic incident sample logs in this directory.

Each file imitates the exact line format of one Loghub system (HDFS, BGL,
Linux syslog, OpenSSH, ZooKeeper) but every line is freshly generated: ids,
IPs, ports, pids and timestamps are synthetic, so no line is copied from the
Loghub data sets.  Normal background traffic is interleaved with one incident
per file (except the ZooKeeper one, which is deliberately quiet).

The output is deterministic: every generator uses its own fixed-seed
``random.Random``, so running

    python3 scripts/generate_samples.py

from the repository root always rewrites byte-identical files.  The script
prints, for each file, the line count and the 1-based line range of the
incident plus a few key line numbers.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parent.parent / "assets" / "samples"


class Log:
    """Collects (timestamp, line, tag) events and renders them in time order.

    Events may be added out of order; ``render`` sorts them by timestamp with
    a stable sort, so events sharing a timestamp keep their insertion order.
    ``tag`` is ``"bg"`` for background traffic and ``"inc"`` for incident
    lines; it is only used for the summary printed by this script.
    """

    def __init__(self) -> None:
        self.events: list[tuple[object, int, str, str]] = []

    def add(self, ts, line: str, tag: str = "bg") -> None:
        self.events.append((ts, len(self.events), line, tag))

    def render(self) -> tuple[list[str], list[str]]:
        ordered = sorted(self.events, key=lambda e: (e[0], e[1]))
        return [e[2] for e in ordered], [e[3] for e in ordered]

    def render_with_pids(self, rng: random.Random, first: int, rate: float,
                         min_gap: int) -> tuple[list[str], list[str]]:
        """Render, replacing ``PID#n#`` placeholders by real-looking pids.

        Pids are handed out in order of first appearance in the sorted log, so
        they grow with time like a real process table: consecutive within the
        same second, otherwise advancing by ``min_gap`` plus ``rate`` pids per
        elapsed second plus a little noise.
        """
        ordered = sorted(self.events, key=lambda e: (e[0], e[1]))
        mapping: dict[str, int] = {}
        state = {"pid": first, "t": None}

        def sub(match: re.Match, t) -> str:
            key = match.group(1)
            if key not in mapping:
                if state["t"] is None:
                    gap = 0
                elif t == state["t"] or (t - state["t"]).total_seconds() < 1:
                    gap = 1
                else:
                    secs = (t - state["t"]).total_seconds()
                    gap = min_gap + int(secs * rate) + rng.randint(0, 3)
                state["pid"] += gap
                state["t"] = t
                mapping[key] = state["pid"]
            return str(mapping[key])

        lines = [re.sub(r"PID#(\d+)#", lambda mt, t=e[0]: sub(mt, t), e[2]) for e in ordered]
        return lines, [e[3] for e in ordered]


def write(name: str, lines: list[str]) -> None:
    (OUT_DIR / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def summarize(name: str, lines: list[str], tags: list[str], keys: list[str]) -> None:
    inc = [i + 1 for i, t in enumerate(tags) if t == "inc"]
    print(f"{name}: {len(lines)} lines")
    if inc:
        print(f"  incident lines {inc[0]}-{inc[-1]}")
    for key in keys:
        hits = [i + 1 for i, l in enumerate(lines) if key in l]
        if hits:
            print(f"  {key!r}: first {hits[0]}, last {hits[-1]}, count {len(hits)}")
        else:
            print(f"  {key!r}: NOT FOUND")


# --------------------------------------------------------------------------
# 1. HDFS: a DataNode is lost and its blocks are re-replicated
# --------------------------------------------------------------------------

def hdfs_datanode_loss() -> tuple[list[str], list[str]]:
    """HDFS (Hadoop 0.18, NameNode + DataNode logs merged, HDFS_2k format).

    A sort job writes 64 MB blocks through 3-node pipelines (allocateBlock,
    Receiving block, PacketResponder ... terminating, Received block,
    addStoredBlock), with occasional block verifications and reads.  At about
    14:33 the DataNode 10.251.71.193:50010 starts failing: it throws
    "Got exception while serving" on reads and breaks a write pipeline, then
    goes silent.  At 14:45:20 the NameNode declares
    "lost heartbeat from 10.251.71.193:50010", removes its replicas from the
    blockMap (removeStoredBlock) and the ReplicationMonitor asks surviving
    replica holders to re-replicate each block.  Three transfers fail, the
    PendingReplicationMonitor times them out five minutes later and they are
    re-scheduled on other nodes, which succeed.  Background traffic goes on
    without the dead node afterwards.
    """
    rng = random.Random(20081112)
    log = Log()
    t0 = dt.datetime(2008, 11, 12, 14, 0, 0)
    dead = "10.251.71.193"

    def ts(t: dt.datetime) -> str:
        return t.strftime("%y%m%d %H%M%S")

    nodes: list[str] = []
    while len(nodes) < 24:
        ip = f"10.{rng.choice([250, 251, 251])}.{rng.randint(10, 223)}.{rng.randint(2, 254)}"
        if ip not in nodes and ip != dead:
            nodes.append(ip)
    live = list(nodes)
    all_nodes = nodes + [dead]

    # per-JVM thread id counters for the DataNodes
    tid = {n: rng.randint(2100, 5200) for n in all_nodes}

    def dn_tid(node: str) -> int:
        tid[node] += rng.randint(1, 6)
        return tid[node]

    def nn_tid() -> int:
        return rng.randint(26, 35)

    def blk() -> str:
        return f"blk_{rng.randint(-(2**63), 2**63 - 1)}"

    def port() -> int:
        return rng.randint(32800, 60999)

    def line(t, thread, level, comp, msg, tag="bg"):
        log.add(t, f"{ts(t)} {thread} {level} {comp}: {msg}", tag)

    job = "200811121352_0003"
    part_no = [rng.randint(120, 180)]
    replicas: dict[str, list[str]] = {}
    sizes: dict[str, int] = {}
    last_src: dict[str, str] = {}

    def write_block(t: dt.datetime, pipeline: list[str], tag: str = "bg") -> str:
        b = blk()
        part_no[0] += rng.randint(1, 9)
        p = part_no[0]
        path = f"/user/root/sortrand/_temporary/_task_{job}_r_{p:06d}_0/part-{p:05d}."
        line(t, nn_tid(), "INFO", "dfs.FSNamesystem",
             f"BLOCK* NameSystem.allocateBlock: {path} {b}", tag)
        a, bn, c = pipeline
        tr = t + dt.timedelta(seconds=rng.randint(0, 1))
        line(tr, dn_tid(a), "INFO", "dfs.DataNode$DataXceiver",
             f"Receiving block {b} src: /{a}:{port()} dest: /{a}:50010", tag)
        line(tr, dn_tid(bn), "INFO", "dfs.DataNode$DataXceiver",
             f"Receiving block {b} src: /{a}:{port()} dest: /{bn}:50010", tag)
        line(tr, dn_tid(c), "INFO", "dfs.DataNode$DataXceiver",
             f"Receiving block {b} src: /{bn}:{port()} dest: /{c}:50010", tag)
        size = 67108864 if rng.random() < 0.85 else rng.randint(8_000_000, 67_000_000)
        te = tr + dt.timedelta(seconds=rng.randint(9, 38))
        for idx, (node, frm) in enumerate([(c, bn), (bn, a), (a, a)]):
            t_n = te + dt.timedelta(seconds=idx * rng.randint(0, 1))
            th = dn_tid(node)
            line(t_n, th, "INFO", "dfs.DataNode$PacketResponder",
                 f"PacketResponder {idx} for block {b} terminating", tag)
            line(t_n, th, "INFO", "dfs.DataNode$PacketResponder",
                 f"Received block {b} of size {size} from /{frm}", tag)
            line(t_n, nn_tid(), "INFO", "dfs.FSNamesystem",
                 f"BLOCK* NameSystem.addStoredBlock: blockMap updated: {node}:50010 "
                 f"is added to {b} size {size}", tag)
        replicas[b] = [a, bn, c]
        sizes[b] = size
        return b

    def minutes(m: float) -> dt.datetime:
        return t0 + dt.timedelta(seconds=int(m * 60))

    # ---- background block writes -------------------------------------
    fail_start = 33.0   # minute at which the dead node starts failing
    m = 0.4
    written_with_dead = 0
    while m < 63:
        if m < fail_start:
            pool = all_nodes
            pipe = rng.sample(pool, 3)
            if written_with_dead < 4 and rng.random() < 0.35 and dead not in pipe:
                pipe[rng.randint(0, 2)] = dead
            if dead in pipe:
                written_with_dead += 1
        else:
            pipe = rng.sample(live, 3)
        if not (fail_start - 1 < m < 36):
            write_block(minutes(m), pipe)
        m += rng.uniform(3.1, 4.4)
    # make sure the dead node held some blocks written in this log
    while written_with_dead < 3:
        pipe = rng.sample(live, 2)
        write_block(minutes(rng.uniform(5, 28)), [pipe[0], dead, pipe[1]])
        written_with_dead += 1

    # ---- background reads / scanner / deletes ------------------------
    for _ in range(16):
        t = minutes(rng.uniform(0.2, 64))
        srv = rng.choice(all_nodes if t < minutes(fail_start) else live)
        line(t, dn_tid(srv), "INFO", "dfs.DataNode$DataXceiver",
             f"{srv}:50010 Served block {blk()} to /{rng.choice(nodes)}")
    for _ in range(6):
        line(minutes(rng.uniform(0.5, 64)), 13, "INFO", "dfs.DataBlockScanner",
             f"Verification succeeded for {blk()}")
    for _ in range(2):
        t = minutes(rng.uniform(2, 60))
        b = blk()
        n = rng.choice(live)
        line(t, 29, "INFO", "dfs.FSNamesystem",
             f"BLOCK* NameSystem.delete: {b} is added to invalidSet of {n}:50010")
        line(t + dt.timedelta(seconds=rng.randint(2, 9)), 19, "INFO", "dfs.FSNamesystem",
             f"BLOCK* ask {n}:50010 to delete  {b}")
        line(t + dt.timedelta(seconds=rng.randint(11, 20)), 19, "INFO", "dfs.FSDataset",
             f"Deleting block {b} file /mnt/hadoop/dfs/data/current/subdir{rng.randint(0, 63)}/{b}")

    # ---- incident: the DataNode fails ---------------------------------
    dead_blocks = [b for b, r in replicas.items() if dead in r]
    for s in (10, 55, 100):
        t = minutes(fail_start) + dt.timedelta(seconds=s + rng.randint(0, 9))
        b = rng.choice(dead_blocks)
        line(t, dn_tid(dead), "WARN", "dfs.DataNode$DataXceiver",
             f"{dead}:50010:Got exception while serving {b} to /{rng.choice(live)}:", "inc")
    # a write pipeline through the dying node breaks
    a, c = rng.sample(live, 2)
    t = minutes(fail_start) + dt.timedelta(seconds=82)
    b = blk()
    line(t, nn_tid(), "INFO", "dfs.FSNamesystem",
         f"BLOCK* NameSystem.allocateBlock: /user/root/sortrand/_temporary/_task_{job}_r_000341_0/part-00341. {b}", "inc")
    line(t, dn_tid(a), "INFO", "dfs.DataNode$DataXceiver",
         f"Receiving block {b} src: /{a}:{port()} dest: /{a}:50010", "inc")
    line(t, dn_tid(dead), "INFO", "dfs.DataNode$DataXceiver",
         f"Receiving block {b} src: /{a}:{port()} dest: /{dead}:50010", "inc")
    line(t, dn_tid(c), "INFO", "dfs.DataNode$DataXceiver",
         f"Receiving block {b} src: /{dead}:{port()} dest: /{c}:50010", "inc")
    t += dt.timedelta(seconds=14)
    line(t, dn_tid(c), "INFO", "dfs.DataNode$BlockReceiver",
         f"Exception in receiveBlock for block {b} java.io.IOException: Connection reset by peer", "inc")
    line(t, dn_tid(c), "INFO", "dfs.DataNode$PacketResponder",
         f"PacketResponder 0 for block {b} Interrupted.", "inc")
    line(t, dn_tid(c), "INFO", "dfs.DataNode$PacketResponder",
         f"PacketResponder 0 for block {b} terminating", "inc")
    t += dt.timedelta(seconds=1)
    line(t, dn_tid(a), "INFO", "dfs.DataNode$DataXceiver",
         f"{a}:50010:Exception writing block {b} to mirror {dead}:50010", "inc")
    line(t, dn_tid(a), "INFO", "dfs.DataNode$PacketResponder",
         f"PacketResponder {b} 2 Exception java.io.EOFException", "inc")
    line(t, dn_tid(a), "INFO", "dfs.DataNode$DataXceiver",
         f"writeBlock {b} received exception java.io.IOException: Connection reset by peer", "inc")
    # the task is retried on a healthy pipeline
    write_block(t + dt.timedelta(seconds=47), rng.sample(live, 3), "inc")

    # ---- NameNode notices: lost heartbeat, blocks removed -------------
    t_lost = minutes(45) + dt.timedelta(seconds=20)
    line(t_lost, 17, "INFO", "dfs.FSNamesystem",
         f"BLOCK* NameSystem.heartbeatCheck: lost heartbeat from {dead}:50010", "inc")
    lost = list(dead_blocks)
    while len(lost) < 12:
        b = blk()
        replicas[b] = rng.sample(live, 2) + [dead]
        sizes[b] = 67108864
        lost.append(b)
    rng.shuffle(lost)
    for b in lost:
        line(t_lost, 17, "INFO", "dfs.FSNamesystem",
             f"BLOCK* NameSystem.removeStoredBlock: blockMap updated: {dead}:50010 "
             f"is removed from {b} size {sizes[b]}", "inc")
        replicas[b] = [n for n in replicas[b] if n != dead]

    # ---- re-replication ----------------------------------------------
    failing = set(lost[1:10:3])    # three transfers that will time out
    t_ask = t_lost + dt.timedelta(seconds=2)
    pending_left = len(lost)
    retry: list[str] = []

    def replicate(t: dt.datetime, b: str, fail: bool) -> dt.datetime:
        src = rng.choice([n for n in replicas[b] if n != last_src.get(b)])
        last_src[b] = src
        tgt = rng.choice([n for n in live if n not in replicas[b]])
        line(t, 19, "INFO", "dfs.FSNamesystem",
             f"BLOCK* ask {src}:50010 to replicate {b} to datanode(s) {tgt}:50010", "inc")
        t1 = t + dt.timedelta(seconds=rng.randint(1, 3))
        line(t1, rng.choice([18, 19]), "INFO", "dfs.DataNode",
             f"{src}:50010 Starting thread to transfer block {b} to {tgt}:50010", "inc")
        p = port()
        line(t1, dn_tid(tgt), "INFO", "dfs.DataNode$DataXceiver",
             f"Receiving block {b} src: /{src}:{p} dest: /{tgt}:50010", "inc")
        t2 = t1 + dt.timedelta(seconds=rng.randint(2, 7))
        if fail:
            line(t2, dn_tid(src), "WARN", "dfs.DataNode$DataTransfer",
                 f"{src}:50010:Failed to transfer {b} to {tgt}:50010 got "
                 f"java.io.IOException: Connection reset by peer", "inc")
            line(t2, dn_tid(tgt), "INFO", "dfs.DataNode$BlockReceiver",
                 f"Exception in receiveBlock for block {b} java.io.EOFException", "inc")
            return t2
        line(t2, dn_tid(src), "INFO", "dfs.DataNode$DataTransfer",
             f"{src}:50010:Transmitted block {b} to /{tgt}:50010", "inc")
        line(t2, dn_tid(tgt), "INFO", "dfs.DataNode$DataXceiver",
             f"Received block {b} src: /{src}:{p} dest: /{tgt}:50010 of size {sizes[b]}", "inc")
        line(t2, nn_tid(), "INFO", "dfs.FSNamesystem",
             f"BLOCK* NameSystem.addStoredBlock: blockMap updated: {tgt}:50010 "
             f"is added to {b} size {sizes[b]}", "inc")
        replicas[b].append(tgt)
        return t2

    for batch_start in range(0, len(lost), 3):
        batch = lost[batch_start:batch_start + 3]
        for b in batch:
            replicate(t_ask, b, b in failing)
            if b in failing:
                retry.append(b)
        pending_left -= len(batch)
        line(t_ask, 19, "INFO", "dfs.FSNamesystem",
             f"BLOCK* NameSystem.pendingTransfer: {len(batch)} block(s) scheduled for "
             f"replication, {pending_left} still in neededReplications", "inc")
        t_ask += dt.timedelta(seconds=3)

    # PendingReplicationMonitor (5 minute timeout) re-queues the failures
    t_to = t_lost + dt.timedelta(minutes=5, seconds=9)
    for b in retry:
        line(t_to, 20, "WARN", "dfs.PendingReplicationMonitor",
             f"PendingReplicationMonitor timed out block {b}", "inc")
    t_re = t_to + dt.timedelta(seconds=2)
    for b in retry:
        replicate(t_re, b, False)
    line(t_re, 19, "INFO", "dfs.FSNamesystem",
         f"BLOCK* NameSystem.pendingTransfer: {len(retry)} block(s) scheduled for "
         f"replication, 0 still in neededReplications", "inc")

    return log.render()


# --------------------------------------------------------------------------
# 2. BGL: burst of fatal kernel interrupts on one node card
# --------------------------------------------------------------------------

def bgl_kernel_fault_burst() -> tuple[list[str], list[str]]:
    """BlueGene/L RAS log (BGL_2k format), 21 Sep 2005, PDT (UTC-7).

    Background: scattered RAS KERNEL INFO events across the machine
    (instruction cache parity corrections, alignment-exception counts, CE sym
    correctable memory errors, ddr corrections, interrupt statistics and
    "generating core.N" when jobs abort).  Incident, starting 09:47: the
    compute cards of node card R14-M1-N6 (plus two on R14-M1-N7) hit a burst
    of FATAL kernel interrupts within about three minutes: KERNDTLB "data TLB
    error interrupt", KERNSTOR "data storage interrupt", KERNMC "machine
    check interrupt", followed by "-" tagged register-dump detail lines
    (instruction/data address, program interrupt: fp cr field ...) and
    KERNTERM "rts: kernel terminated for reason 1004".  The I/O node
    R14-M1-N4-I:J18-U11 loses its CioStream (APPSEV/APPRES ciod errors),
    cores are written, and DISCOVERY reports the node card as not fully
    functional.  Background INFO traffic resumes afterwards.
    """
    rng = random.Random(117)
    log = Log()
    tz = dt.timezone(dt.timedelta(hours=-7))
    t0 = dt.datetime(2005, 9, 21, 7, 5, 0, tzinfo=tz)

    def loc_compute() -> str:
        return (f"R{rng.randint(0, 63):02d}-M{rng.randint(0, 1)}-N{rng.randint(0, 15):X}"
                f"-C:J{rng.randint(2, 17):02d}-U{rng.choice('01')}1")

    def add(t: dt.datetime, loc: str, facility: str, level: str, msg: str,
            alert: str = "-", tag: str = "bg", src: str = "RAS") -> None:
        epoch = int(t.timestamp())
        log.add(t, f"{alert} {epoch} {t.strftime('%Y.%m.%d')} {loc} "
                   f"{t.strftime('%Y-%m-%d-%H.%M.%S.%f')} {loc} {src} {facility} {level} {msg}", tag)

    def at(minute: float) -> dt.datetime:
        return t0 + dt.timedelta(microseconds=int(minute * 60_000_000))

    def jitter(t: dt.datetime, lo: float, hi: float) -> dt.datetime:
        return t + dt.timedelta(microseconds=int(rng.uniform(lo, hi) * 1_000_000))

    # ---- background ----------------------------------------------------
    def bg_event(t: dt.datetime) -> None:
        loc = loc_compute()
        kind = rng.random()
        if kind < 0.20:
            add(t, loc, "KERNEL", "INFO", "instruction cache parity error corrected")
            if rng.random() < 0.5:
                add(jitter(t, 1, 4), loc, "KERNEL", "INFO", "instruction cache parity error corrected")
        elif kind < 0.33:
            add(t, loc, "KERNEL", "INFO", f"{rng.randint(2, 9_000_000)} double-hummer alignment exceptions")
        elif kind < 0.42:
            add(t, loc, "KERNEL", "INFO", f"{rng.choice([4, 8, 12, 16, 24])} floating point alignment exceptions")
        elif kind < 0.54:
            add(t, loc, "KERNEL", "INFO",
                f"CE sym {rng.randint(0, 35)}, at 0x{rng.randint(0, 0x1fffffff) & ~0x1f:08x}, "
                f"mask 0x{rng.choice([1, 2, 4, 8, 16, 32, 64, 128, 5, 10, 80]):02x}")
        elif kind < 0.62:
            n = rng.randint(1, 40)
            add(t, loc, "KERNEL", "INFO",
                f"{n} ddr error(s) detected and corrected on rank 0, symbol {rng.randint(0, 35)} "
                f"over {rng.randint(30, 4000)} seconds")
        elif kind < 0.68:
            add(t, loc, "KERNEL", "INFO", f"total of {rng.randint(1, 25)} ddr error(s) detected and corrected")
        elif kind < 0.74:
            add(t, loc, "KERNEL", "INFO", "data cache search parity error detected. attempting to correct")
        else:
            # end of a job partition: interrupt statistics + a few cores
            for _ in range(rng.randint(2, 4)):
                l2 = loc_compute()
                tt = jitter(t, 0, 20)
                add(tt, l2, "KERNEL", "INFO",
                    f"{rng.randint(9000, 12000)} total interrupts. 0 critical input interrupts. "
                    f"0 microseconds total spent on critical input interrupts, "
                    f"0 microseconds max time in a critical input interrupt.")
                add(jitter(tt, 0, 0.4), l2, "KERNEL", "INFO",
                    "0 microseconds spent in the rbs signal handler during 0 calls. "
                    "0 microseconds was the maximum time for a single instance of a correctable ddr.")
            for _ in range(rng.randint(1, 3)):
                add(jitter(t, 20, 60), loc_compute(), "KERNEL", "INFO",
                    f"generating core.{rng.randint(100, 9999)}")

    m = 0.0
    while m < 290:
        if not (160 <= m < 166):
            bg_event(at(m))
        m += rng.uniform(1.7, 4.5)
    add(at(37.2), "UNKNOWN_LOCATION", "DISCOVERY", "INFO",
        "New ido chip inserted into the database: FF:F2:9F:16:A4:3E:00:0D:60:E9:5B:C1 "
        "ip=10.4.2.117 v=13 t=4", src="NULL")

    # ---- incident: fatal burst on node card R14-M1-N6 -------------------
    card = "R14-M1-N6"
    ionode = "R14-M1-N4-I:J18-U11"
    t = at(162.0) + dt.timedelta(microseconds=rng.randint(0, 999_999))

    def crash(t: dt.datetime, loc: str, alert: str, headline: str, details: list[str]) -> dt.datetime:
        add(t, loc, "KERNEL", "FATAL", headline, alert=alert, tag="inc")
        for d in details:
            t = jitter(t, 0.005, 0.3)
            add(t, loc, "KERNEL", "FATAL", d, tag="inc")
        return t

    def regs(iar: int) -> list[str]:
        return [
            f"instruction address: 0x{iar:08x}",
            f"data address: 0x{rng.randint(0, 0x1fffffff) & ~0x7:08x}",
            f"exception syndrome register: 0x{rng.choice([0x00800000, 0x00000000, 0x01000000]):08x}",
            f"machine state register: 0x{rng.choice([0x0002f900, 0x0002b000, 0x00002000]):08x}",
            "special purpose registers:",
            f"lr:{iar - rng.randint(4, 60) * 4:08x} cr:{rng.randint(0x20000000, 0x4fffffff):08x} "
            f"xer:20000002 ctr:{rng.randint(0, 0xffff):08x}",
        ]

    dtlb_nodes = [f"{card}-C:J07-U01", f"{card}-C:J07-U11", f"{card}-C:J12-U01",
                  f"{card}-C:J12-U11", f"{card}-C:J15-U01"]
    iar = 0x002ae4c0
    for loc in dtlb_nodes:
        t = jitter(t, 0.2, 6)
        t = crash(t, loc, "KERNDTLB", "data TLB error interrupt", regs(iar)[:4] if loc != dtlb_nodes[0] else regs(iar))
    t = jitter(t, 2, 9)
    stor = f"{card}-C:J15-U11"
    t = crash(t, stor, "KERNSTOR", "data storage interrupt",
              ["data store interrupt caused by dcbf.........0",
               "data store interrupt caused by icbi.........0",
               f"instruction address: 0x{iar + 0x38:08x}",
               f"data address: 0x{rng.randint(0, 0x0fffffff) & ~0x1f:08x}"])
    t = jitter(t, 3, 12)
    mc = f"{card}-C:J09-U01"
    t = crash(t, mc, "KERNMC", "machine check interrupt",
              ["machine check: i-fetch......................1",
               "machine check enable..............1",
               f"instruction address: 0x{rng.randint(0x2000, 0x6000) & ~0x3:08x}",
               f"core configuration register: 0x{rng.choice([0x00002000, 0x00082000]):08x}"])
    # program interrupts on the same card and its neighbour
    for loc in [f"{card}-C:J04-U11", "R14-M1-N7-C:J10-U01", f"{card}-C:J04-U01"]:
        t = jitter(t, 0.5, 7)
        add(t, loc, "KERNEL", "FATAL", "program interrupt: fp cr field .............0", tag="inc")
        add(jitter(t, 0.01, 0.1), loc, "KERNEL", "FATAL", "program interrupt: fp cr update.............0", tag="inc")
        add(jitter(t, 0.1, 0.2), loc, "KERNEL", "FATAL",
            f"instruction address: 0x{iar + rng.randint(1, 40) * 4:08x}", tag="inc")
    t = jitter(t, 4, 10)
    add(t, "R14-M1-N7-C:J10-U11", "KERNEL", "FATAL", "data TLB error interrupt", alert="KERNDTLB", tag="inc")
    # the I/O node loses the control streams of the dying compute nodes
    for _ in range(4):
        t = jitter(t, 0.3, 4)
        add(t, ionode, "APP", "FATAL",
            f"ciod: Error reading message prefix after LOGIN_MESSAGE on CioStream socket to "
            f"172.16.96.116:{rng.randint(33000, 59999)}: Link has been severed",
            alert="APPSEV", tag="inc")
    t = jitter(t, 1, 3)
    add(t, ionode, "APP", "FATAL",
        f"ciod: Error reading message prefix on CioStream socket to 172.16.96.116:"
        f"{rng.randint(33000, 59999)}, Connection reset by peer", alert="APPRES", tag="inc")
    # kernels terminate
    for loc in dtlb_nodes + [stor, mc]:
        t = jitter(t, 0.05, 1.5)
        add(t, loc, "KERNEL", "FATAL", "rts: kernel terminated for reason 1004", alert="KERNTERM", tag="inc")
    # cores are dumped
    for loc in dtlb_nodes + [stor, mc, f"{card}-C:J04-U11", f"{card}-C:J04-U01"]:
        t = jitter(t, 0.1, 2.5)
        add(t, loc, "KERNEL", "INFO", f"generating core.{rng.randint(1000, 4095)}", tag="inc")
    t = jitter(t, 4, 9)
    add(t, ionode, "KERNEL", "INFO",
        "ciod: generated 128 core files for program /g/g21/hwang7/miranda/run_8k/miranda_bgl", tag="inc")
    t = jitter(t, 30, 50)
    add(t, card, "DISCOVERY", "WARNING", "Node card is not fully functional", tag="inc", src="NULL")
    t = jitter(t, 0.2, 2)
    add(t, card, "DISCOVERY", "SEVERE", "Can not get assembly information for node card", tag="inc", src="NULL")

    return log.render()


# --------------------------------------------------------------------------
# 3. Linux: OOM killer on host "combo"
# --------------------------------------------------------------------------

def linux_oom_kill() -> tuple[list[str], list[str]]:
    """Linux syslog (Linux_2k format) of host "combo", 9 Aug 2005.

    Background (01:00-07:30): hourly crond sessions, the 04:0x cron.daily run (su sessions
    for cyrus/news, logrotate, syslogd restart), anonymous ftpd connection
    bursts, a few user ssh sessions and stray sshd authentication failures.
    Incident from 05:09: the Tomcat JVM leaks memory; the kernel reports page
    allocation failures, then at 05:12 "java invoked oom-killer", dumps
    Mem-info (Free pages, zones, swap exhausted: "Free swap  = 0kB") and
    "Out of memory: Killed process 3187 (java).".  Tomcat is restarted by its
    watchdog, leaks again, and a second oom-killer run at 05:17 kills the new
    JVM.  An administrator logs in, su's to root and restarts
    tomcat5 at 05:24; normal traffic resumes.
    """
    rng = random.Random(4321)
    log = Log()
    host = "combo"
    t0 = dt.datetime(2005, 8, 9, 1, 0, 0)
    pid = [0]

    def next_pid() -> str:
        """A placeholder, turned into a time-ordered pid by render_with_pids."""
        pid[0] += 1
        return f"PID#{pid[0]}#"

    def stamp(t: dt.datetime) -> str:
        return f"{t.strftime('%b')} {t.day:2d} {t.strftime('%H:%M:%S')}"

    def add(t: dt.datetime, proc: str, msg: str, tag: str = "bg") -> None:
        log.add(t, f"{stamp(t)} {host} {proc}: {msg}", tag)

    def at(h: int, m: int, s: int = 0) -> dt.datetime:
        return t0.replace(hour=h, minute=m, second=s)

    def sec(t: dt.datetime, n: float) -> dt.datetime:
        return t + dt.timedelta(seconds=n)

    # ---- background ----------------------------------------------------
    # hourly cron
    for h in (1, 2, 3, 4, 5, 6, 7):
        p = next_pid()
        t = at(h, 1, rng.randint(1, 2))
        add(t, f"crond(pam_unix)[{p}]", "session opened for user root by (uid=0)")
        add(sec(t, rng.randint(0, 1)), f"crond(pam_unix)[{p}]", "session closed for user root")
    # cron.daily at 04:02
    t = at(4, 2, 14)
    p = next_pid()
    add(t, f"crond(pam_unix)[{p}]", "session opened for user root by (uid=0)")
    for user, dur in (("cyrus", 1), ("news", 2)):
        t = sec(t, rng.randint(25, 380))
        q = next_pid()
        add(t, f"su(pam_unix)[{q}]", f"session opened for user {user} by (uid=0)")
        add(sec(t, dur), f"su(pam_unix)[{q}]", f"session closed for user {user}")
    t = sec(t, 3)
    add(t, "logrotate", "ALERT exited abnormally with [1]")
    t = sec(t, 41)
    add(t, "cups", "cupsd shutdown succeeded")
    add(sec(t, 1), "cups", "cupsd startup succeeded")
    add(sec(t, 2), "syslogd 1.4.1", "restart.")
    add(sec(t, 9), f"crond(pam_unix)[{p}]", "session closed for user root")

    ftp_hosts = [
        ("81.171.220.226", "81-171-220-226.dsl.inweb.co.uk"),
        ("218.69.108.57", ""),
        ("61.74.96.178", ""),
        ("202.181.236.180", "host180.pacificnet.com.hk"),
        ("84.139.180.144", "p548bb490.dip0.t-ipconnect.de"),
        ("222.33.90.199", ""),
        ("67.95.49.172", "67-95-49-172.ded.ckbtt.net"),
    ]

    def ftp_burst(t: dt.datetime, tag: str = "bg") -> None:
        ip, name = rng.choice(ftp_hosts)
        pids = [next_pid() for _ in range(rng.randint(3, 9))]
        tt = t
        for p in pids:
            when = tt.strftime("%a %b ") + f"{tt.day:2d} " + tt.strftime("%H:%M:%S %Y")
            add(tt, f"ftpd[{p}]", f"connection from {ip} ({name}) at {when} ", tag)
            if rng.random() < 0.3:
                tt = sec(tt, rng.randint(1, 2))
        if rng.random() < 0.4:
            add(sec(tt, 1), f"ftpd[{pids[0]}]", f"ANONYMOUS FTP LOGIN FROM {ip},  (anonymous)", tag)

    for (h, m) in ((1, 7), (1, 34), (1, 58), (2, 16), (2, 40), (3, 5), (3, 22), (3, 41), (4, 27),
                   (4, 52), (5, 3), (5, 36), (5, 58), (6, 21), (6, 44), (7, 12)):
        ftp_burst(at(h, m, rng.randint(0, 59)))

    def ssh_session(t: dt.datetime, user: str, uid: int, minutes: int, tag: str = "bg") -> str:
        p = next_pid()
        add(t, f"sshd(pam_unix)[{p}]", f"session opened for user {user} by (uid={uid})", tag)
        add(sec(t, minutes * 60 + rng.randint(0, 59)), f"sshd(pam_unix)[{p}]",
            f"session closed for user {user}", tag)
        return p

    ssh_session(at(1, 19, 4), "test", 509, 22)
    ssh_session(at(2, 51, 37), "test", 509, 2)
    ssh_session(at(3, 48, 51), "test", 509, 6)
    ssh_session(at(6, 5, 12), "test", 509, 14)
    ssh_session(at(6, 52, 40), "test", 509, 3)

    def auth_noise(t: dt.datetime, rhost: str, n: int, user: str | None) -> None:
        for _ in range(n):
            p = next_pid()
            if user is None:
                add(t, f"sshd(pam_unix)[{p}]", "check pass; user unknown")
                add(t, f"sshd(pam_unix)[{p}]",
                    f"authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost={rhost} ")
            else:
                add(t, f"sshd(pam_unix)[{p}]",
                    f"authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= "
                    f"rhost={rhost}  user={user}")
            t = sec(t, rng.randint(0, 2))

    auth_noise(at(2, 3, 44), "61.219.144.38", 5, None)
    auth_noise(at(4, 39, 5), "211.72.151.162", 3, None)
    auth_noise(at(6, 33, 48), "c-24-131-98-6.hsd1.pa.comcast.net", 4, "root")
    add(at(6, 14, 2), "snmpd[2391]", "Received SNMP packet(s) from 64.213.93.10 ")

    # ---- incident ------------------------------------------------------
    ram_pages, reserved = 131056, 2275

    def buddy(total_kb: int) -> str:
        """A buddy-allocator free list line that adds up to ``total_kb``."""
        sizes = [4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]
        counts = [0] * len(sizes)
        rest = total_kb
        for i in range(len(sizes) - 1, -1, -1):
            if sizes[i] > 512:
                continue
            c = rest // sizes[i] if i == 0 else min(rest // sizes[i], rng.randint(0, 3))
            counts[i] = c
            rest -= c * sizes[i]
        return " ".join(f"{c}*{s}kB" for c, s in zip(counts, sizes)) + f" = {total_kb}kB"

    def oom(t: dt.datetime, invoker: str, victim_pid: int | str, victim: str) -> dt.datetime:
        def k(msg: str) -> None:
            add(t, "kernel", msg, "inc")

        k(f"{invoker} invoked oom-killer: gfp_mask=0x201d2, order=0, oomkilladj=0")
        for addr, fn in (("c0457d36", "out_of_memory+0x72/0x1a3"),
                         ("c0459161", "__alloc_pages+0x24e/0x2cf"),
                         ("c045a6d6", "__do_page_cache_readahead+0xc4/0x1c6"),
                         ("c0456f38", "filemap_nopage+0x151/0x315"),
                         ("c045f4a1", "__handle_mm_fault+0x172/0x87b"),
                         ("c0606887", "do_page_fault+0x20a/0x4b8"),
                         ("c0405a89", "error_code+0x39/0x40")):
            k(f" [<{addr}>] {fn}")
        k(" =======================")
        k("Mem-info:")
        k("DMA per-cpu:")
        k("cpu 0 hot: high 0, batch 1 used:0")
        k("cpu 0 cold: high 0, batch 1 used:0")
        k("Normal per-cpu:")
        k(f"cpu 0 hot: high 186, batch 31 used:{rng.randint(5, 30)}")
        k(f"cpu 0 cold: high 62, batch 15 used:{rng.randint(10, 60)}")
        k("HighMem per-cpu: empty")
        dma_free = rng.randint(1800, 2600) // 4 * 4
        norm_free = rng.randint(1900, 2500) // 4 * 4
        free_kb = dma_free + norm_free
        dma_act, dma_inact = (rng.randint(5000, 6000) // 4 * 4 for _ in range(2))
        norm_act = rng.randint(232000, 248000) // 4 * 4
        norm_inact = rng.randint(214000, 230000) // 4 * 4
        active = (dma_act + norm_act) // 4
        inactive = (dma_inact + norm_inact) // 4
        k(f"Free pages:       {free_kb}kB (0kB HighMem)")
        k(f"Active:{active} inactive:{inactive} dirty:0 writeback:{rng.randint(0, 4)} unstable:0 "
          f"free:{free_kb // 4} slab:{rng.randint(2400, 2900)} mapped-file:{rng.randint(700, 1100)} "
          f"mapped-anon:{active + inactive - rng.randint(1500, 2500)} pagetables:{rng.randint(900, 1300)}")
        k(f"DMA free:{dma_free}kB min:88kB low:108kB high:132kB active:{dma_act}kB "
          f"inactive:{dma_inact}kB present:16384kB pages_scanned:{rng.randint(9000, 30000)} "
          f"all_unreclaimable? yes")
        k("lowmem_reserve[]: 0 496 496")
        k(f"Normal free:{norm_free}kB min:2720kB low:3400kB high:4080kB active:{norm_act}kB "
          f"inactive:{norm_inact}kB present:507840kB pages_scanned:{rng.randint(400000, 900000)} "
          f"all_unreclaimable? yes")
        k("lowmem_reserve[]: 0 0 0")
        k("HighMem free:0kB min:128kB low:128kB high:128kB active:0kB inactive:0kB present:0kB "
          "pages_scanned:0 all_unreclaimable? no")
        k("lowmem_reserve[]: 0 0 0")
        k(f"DMA: {buddy(dma_free)}")
        k(f"Normal: {buddy(norm_free)}")
        k("HighMem: empty")
        adds = rng.randint(300000, 600000)
        k(f"Swap cache: add {adds}, delete {adds - rng.randint(0, 40)}, "
          f"find {rng.randint(40000, 90000)}/{rng.randint(100000, 150000)}, race 0+{rng.randint(0, 9)}")
        k("Free swap  = 0kB")
        k("Total swap = 1048568kB")
        k("Free swap:            0kB")
        k(f"{ram_pages} pages of RAM")
        k("0 pages of HIGHMEM")
        k(f"{reserved} reserved pages")
        k(f"{rng.randint(800, 2000)} pages shared")
        k(f"{rng.randint(0, 40)} pages swap cached")
        t = sec(t, 1)
        add(t, "kernel", f"Out of memory: Killed process {victim_pid} ({victim}).", "inc")
        return t

    # early signs of memory pressure
    t = at(5, 9, 37)
    add(t, "kernel", "java: page allocation failure. order:0, mode:0x20", "inc")
    t = sec(t, 95)
    add(t, "kernel", "printk: 14 messages suppressed.", "inc")
    add(t, "kernel", "httpd: page allocation failure. order:0, mode:0x20", "inc")
    t = at(5, 11, 58)
    add(t, "kernel", "printk: 31 messages suppressed.", "inc")
    t = at(5, 12, 6)
    t = oom(t, "java", 3187, "java")
    # watchdog restarts tomcat
    t = sec(t, 24)
    q = next_pid()
    add(t, f"su(pam_unix)[{q}]", "session opened for user tomcat by (uid=0)", "inc")
    add(sec(t, 1), "tomcat5", "tomcat5 startup succeeded", "inc")
    t = at(5, 16, 20)
    add(t, "kernel", "java: page allocation failure. order:0, mode:0x20", "inc")
    t = at(5, 17, 2)
    t = oom(t, "java", next_pid(), "java")
    add(sec(t, 1), f"su(pam_unix)[{q}]", "session closed for user tomcat", "inc")
    # administrator steps in and restarts the service with a smaller heap
    t = at(5, 21, 33)
    p = ssh_session(t, "admin", 500, 7, "inc")
    t = sec(t, 46)
    r = next_pid()
    add(t, f"su(pam_unix)[{r}]", "session opened for user root by admin(uid=500)", "inc")
    t = at(5, 24, 11)
    add(t, "tomcat5", "tomcat5 shutdown failed", "inc")
    t = sec(t, 4)
    q2 = next_pid()
    add(t, f"su(pam_unix)[{q2}]", "session opened for user tomcat by (uid=0)", "inc")
    add(sec(t, 1), "tomcat5", "tomcat5 startup succeeded", "inc")
    add(at(5, 27, 49), f"su(pam_unix)[{r}]", "session closed for user root", "inc")

    return log.render_with_pids(rng, first=21843, rate=0.04, min_gap=1)


# --------------------------------------------------------------------------
# 4. OpenSSH: brute-force run against LabSZ
# --------------------------------------------------------------------------

def openssh_brute_force() -> tuple[list[str], list[str]]:
    """OpenSSH auth log (OpenSSH_2k format) of host LabSZ, 7 Jan.

    Background (01:00-12:15): a handful of real users (fztu, jmzhu, yxchen, liuhw) log in
    with password or publickey from their usual addresses, sessions open and
    close, plus rare scanner noise ("Did not receive identification string",
    "Connection closed by ... [preauth]").  Incident from 09:14 to 09:48: a
    dictionary attack from 185.234.217.41 (invalid user names and root) and,
    overlapping it, 91.200.12.38 whose reverse DNS fails ("POSSIBLE BREAK-IN
    ATTEMPT!").  Every attacker attempt fails: "Invalid user",
    "input_userauth_request: invalid user", pam authentication failures,
    "Failed password for invalid user"/"for root", "Received disconnect ...
    Bye Bye [preauth]", and the multi-try root sessions end with "error:
    maximum authentication attempts exceeded for root" and "Disconnecting:
    Too many authentication failures for root [preauth]".  No attacker IP
    ever gets an "Accepted" line.
    """
    rng = random.Random(90210)
    log = Log()
    t0 = dt.datetime(2017, 1, 7, 1, 0, 0)
    pid = [0]

    def next_pid() -> str:
        """A placeholder, turned into a time-ordered pid by render_with_pids."""
        pid[0] += 1
        return f"PID#{pid[0]}#"

    def stamp(t: dt.datetime) -> str:
        return f"{t.strftime('%b')} {t.day:2d} {t.strftime('%H:%M:%S')}"

    def add(t: dt.datetime, p: str, msg: str, tag: str = "bg") -> None:
        log.add(t, f"{stamp(t)} LabSZ sshd[{p}]: {msg}", tag)

    def sec(t: dt.datetime, n: float) -> dt.datetime:
        return t + dt.timedelta(seconds=n)

    def at(h: int, m: int, s: int = 0) -> dt.datetime:
        return t0.replace(hour=h, minute=m, second=s)

    def port() -> int:
        return rng.randint(32768, 65000)

    def b64(n: int) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        return "".join(rng.choice(alphabet) for _ in range(n))

    users = {
        "fztu": ("119.137.60.91", "password", None),
        "jmzhu": ("183.62.156.108", "publickey", "RSA SHA256:" + b64(43)),
        "yxchen": ("112.96.33.40", "password", None),
        "liuhw": ("183.62.156.104", "publickey", "RSA SHA256:" + b64(43)),
    }

    def login(t: dt.datetime, user: str, minutes: int) -> None:
        ip, method, key = users[user]
        p = next_pid()
        suffix = f": {key}" if key else ""
        add(t, p, f"Accepted {method} for {user} from {ip} port {port()} ssh2{suffix}")
        add(t, p, f"pam_unix(sshd:session): session opened for user {user} by (uid=0)")
        end = sec(t, minutes * 60 + rng.randint(0, 59))
        add(end, next_pid(), f"Received disconnect from {ip}: 11: disconnected by user")
        add(end, p, f"pam_unix(sshd:session): session closed for user {user}")

    t = at(1, 4, 31)
    while t < at(11, 40):
        login(t, rng.choice(sorted(users)), rng.randint(2, 45))
        t = sec(t, rng.randint(11 * 60, 28 * 60))

    for (h, m, s), ip in (((1, 52, 40), "139.59.34.201"), ((4, 2, 19), "71.6.158.166"), ((6, 47, 5), "139.59.34.201"),
                          ((8, 11, 47), "139.59.34.201"), ((10, 33, 12), "71.6.158.166")):
        add(at(h, m, s), next_pid(), f"Did not receive identification string from {ip}")
    for (h, m, s), ip in (((3, 38, 50), "212.83.165.21"), ((5, 21, 33), "104.238.94.75"),
                          ((7, 9, 58), "212.83.165.21"), ((8, 58, 3), "104.238.94.75"),
                          ((10, 57, 41), "212.83.165.21"), ((11, 21, 9), "104.238.94.75")):
        add(at(h, m, s), next_pid(), f"Connection closed by {ip} [preauth]")

    # ---- incident ------------------------------------------------------
    a1 = "185.234.217.41"
    a2 = "91.200.12.38"
    a2_name = "hosted-by.colocall.net.ua"
    names = ["admin", "test", "oracle", "ubuntu", "postgres", "git", "user", "support",
             "guest", "ftpuser", "pi", "nagios", "hadoop", "deploy", "tomcat", "jenkins",
             "backup", "www", "mysql", "student", "demo", "dev", "minecraft", "teamspeak",
             "ts3", "ubnt", "vagrant", "zabbix", "odoo", "web"]

    def invalid_attempt(t: dt.datetime, ip: str, user: str, rdns: str | None) -> dt.datetime:
        p = next_pid()
        if rdns:
            add(t, p, f"reverse mapping checking getaddrinfo for {rdns} [{ip}] failed - "
                      f"POSSIBLE BREAK-IN ATTEMPT!", "inc")
        add(t, p, f"Invalid user {user} from {ip}", "inc")
        add(t, p, f"input_userauth_request: invalid user {user} [preauth]", "inc")
        add(t, p, "pam_unix(sshd:auth): check pass; user unknown", "inc")
        add(t, p, f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh "
                  f"ruser= rhost={rdns or ip} ", "inc")
        t = sec(t, rng.randint(2, 4))
        add(t, p, f"Failed password for invalid user {user} from {ip} port {port()} ssh2", "inc")
        add(t, p, f"Received disconnect from {ip}: 11: Bye Bye [preauth]", "inc")
        return t

    def root_attempt(t: dt.datetime, ip: str, rdns: str | None, tries: int) -> dt.datetime:
        p = next_pid()
        pt = port()
        if rdns:
            add(t, p, f"reverse mapping checking getaddrinfo for {rdns} [{ip}] failed - "
                      f"POSSIBLE BREAK-IN ATTEMPT!", "inc")
        add(t, p, f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh "
                  f"ruser= rhost={rdns or ip}  user=root", "inc")
        for _ in range(tries):
            t = sec(t, rng.randint(2, 3))
            add(t, p, f"Failed password for root from {ip} port {pt} ssh2", "inc")
        if tries >= 6:
            add(t, p, f"error: maximum authentication attempts exceeded for root from {ip} "
                      f"port {pt} ssh2 [preauth]", "inc")
            add(t, p, "Disconnecting: Too many authentication failures for root [preauth]", "inc")
            add(t, p, f"PAM 5 more authentication failures; logname= uid=0 euid=0 tty=ssh "
                      f"ruser= rhost={rdns or ip}  user=root", "inc")
            add(t, p, "PAM service(sshd) ignoring max retries; 6 > 3", "inc")
        else:
            add(t, p, f"Received disconnect from {ip}: 11: Bye Bye [preauth]", "inc")
        return t

    # attacker 1: user-name dictionary, then root
    t = at(9, 14, 22)
    for user in names[:12]:
        t = sec(invalid_attempt(t, a1, user, None), rng.randint(1, 3))
    for _ in range(2):
        t = sec(root_attempt(t, a1, None, 6), rng.randint(1, 4))
    for _ in range(3):
        t = sec(root_attempt(t, a1, None, 1), rng.randint(0, 2))
    # attacker 2 (reverse DNS fails), overlapping at a slower pace
    t = at(9, 31, 5)
    for user in names[12:22]:
        t = sec(invalid_attempt(t, a2, user, a2_name), rng.randint(20, 60))
    t = at(9, 47, 38)
    for _ in range(2):
        t = sec(root_attempt(t, a2, a2_name, 6), rng.randint(5, 15))
    add(sec(t, 9), next_pid(), f"Connection closed by {a2} [preauth]", "inc")

    return log.render_with_pids(rng, first=5127, rate=0.05, min_gap=2)


# --------------------------------------------------------------------------
# 5. ZooKeeper: a quiet, healthy leader
# --------------------------------------------------------------------------

def zookeeper_quiet() -> tuple[list[str], list[str]]:
    """ZooKeeper 3.4 server log (Zookeeper_2k format), leader myid=2, 18 Aug 2015.

    Deliberately uneventful, all INFO: clients connect
    ("Accepted socket connection", "Client attempting to establish new
    session", "Established session ... with negotiated timeout"), do their
    work and close cleanly ("Processed session termination", "Closed socket
    connection ... which had sessionid"); sessions owned by follower-connected
    clients time out normally ("Expiring session ..., timeout of 10000ms
    exceeded"); monitoring probes send four-letter commands; the transaction
    log rolls, snapshots are taken and the autopurge task runs.  There is no
    WARN or ERROR line and no incident.
    """
    rng = random.Random(2015)
    log = Log()
    t0 = dt.datetime(2015, 8, 18, 9, 0, 0)
    myid = 2
    nio = "NIOServerCxn.Factory:0.0.0.0/0.0.0.0:2181"
    clients = [f"10.10.34.{i}" for i in (11, 12, 13, 14, 15, 18, 19, 20, 21, 22, 24, 26, 29, 35)]
    counter = {1: 0x41, 2: 0x1c, 3: 0x37}
    stem = {1: "4f3c8a1b7e", 2: "4f3c8a21d4", 3: "4f3c8a1c05"}

    def sid(server: int) -> str:
        counter[server] += 1
        return f"0x{server}{stem[server]}{counter[server]:04x}"

    def stamp(t: dt.datetime) -> str:
        return t.strftime("%Y-%m-%d %H:%M:%S,") + f"{t.microsecond // 1000:03d}"

    def add(t: dt.datetime, thread: str, msg: str) -> None:
        log.add(t, f"{stamp(t)} - INFO  [{thread}] - {msg}")

    def ms(t: dt.datetime, lo: int, hi: int) -> dt.datetime:
        return t + dt.timedelta(milliseconds=rng.randint(lo, hi))

    def port() -> int:
        return rng.randint(33000, 60999)

    end = t0 + dt.timedelta(hours=3)

    # local client sessions: connect, work, close cleanly
    t = t0 + dt.timedelta(seconds=rng.randint(5, 60), milliseconds=rng.randint(0, 999))
    while t < end - dt.timedelta(minutes=10):
        ip, p, s = rng.choice(clients), port(), sid(myid)
        add(t, f"{nio}:NIOServerCnxnFactory@197", f"Accepted socket connection from /{ip}:{p}")
        t1 = ms(t, 1, 6)
        add(t1, f"{nio}:ZooKeeperServer@839", f"Client attempting to establish new session at /{ip}:{p}")
        t2 = ms(t1, 2, 12)
        add(t2, f"CommitProcessor:{myid}:ZooKeeperServer@595",
            f"Established session {s} with negotiated timeout 10000 for client /{ip}:{p}")
        t3 = t2 + dt.timedelta(seconds=rng.randint(2, 900), milliseconds=rng.randint(0, 999))
        add(t3, f"ProcessThread(sid:{myid} cport:-1)::PrepRequestProcessor@476",
            f"Processed session termination for sessionid: {s}")
        add(ms(t3, 1, 4), f"{nio}:NIOServerCnxn@1001",
            f"Closed socket connection for client /{ip}:{p} which had sessionid {s}")
        t = t + dt.timedelta(seconds=rng.randint(90, 420), milliseconds=rng.randint(0, 999))

    # sessions of clients attached to the followers expire on the leader
    t = t0 + dt.timedelta(minutes=rng.randint(3, 12))
    while t < end:
        server = rng.choice([1, 3])
        s = sid(server)
        te = t.replace(second=t.second - t.second % 2, microsecond=rng.randint(0, 6) * 1000)
        if rng.random() < 0.6:
            add(te, "SessionTracker:ZooKeeperServer@325",
                f"Expiring session {s}, timeout of 10000ms exceeded")
        add(ms(te, 0, 2), f"ProcessThread(sid:{myid} cport:-1)::PrepRequestProcessor@476",
            f"Processed session termination for sessionid: {s}")
        t = t + dt.timedelta(minutes=rng.randint(6, 19), seconds=rng.randint(0, 59))

    # monitoring four-letter-word probes
    t = t0 + dt.timedelta(minutes=2, seconds=rng.randint(0, 59), milliseconds=rng.randint(0, 999))
    while t < end:
        p = port()
        add(t, f"{nio}:NIOServerCnxnFactory@197", f"Accepted socket connection from /10.10.34.1:{p}")
        add(ms(t, 0, 2), f"{nio}:NIOServerCnxn@827", f"Processing {rng.choice(['ruok', 'mntr', 'stat'])} command from /10.10.34.1:{p}")
        add(ms(t, 3, 6), f"{nio}:NIOServerCnxn@1001",
            f"Closed socket connection for client /10.10.34.1:{p} (no session established for client)")
        t = t + dt.timedelta(minutes=rng.randint(8, 16), seconds=rng.randint(0, 59),
                             milliseconds=rng.randint(0, 999))

    # a client that moved over from a follower renews its session here
    for minute in (74, 151):
        t = t0 + dt.timedelta(minutes=minute, seconds=rng.randint(0, 59), milliseconds=rng.randint(0, 999))
        ip, p, s = rng.choice(clients), port(), sid(1)
        add(t, f"{nio}:NIOServerCnxnFactory@197", f"Accepted socket connection from /{ip}:{p}")
        add(ms(t, 1, 3), f"{nio}:ZooKeeperServer@832", f"Client attempting to renew session {s} at /{ip}:{p}")
        add(ms(t, 4, 9), f"{nio}:ZooKeeperServer@595",
            f"Established session {s} with negotiated timeout 10000 for client /{ip}:{p}")

    # transaction log roll + snapshot, and the hourly autopurge
    for minute, zxid in ((57, 0x600028b7c), (168, 0x60004fc91)):
        t = t0 + dt.timedelta(minutes=minute, seconds=rng.randint(0, 59), milliseconds=rng.randint(0, 999))
        add(t, f"SyncThread:{myid}:FileTxnLog@199", f"Creating new log file: log.{zxid:x}")
        add(ms(t, 1, 3), "Snapshot Thread:FileTxnSnapLog@240",
            f"Snapshotting: 0x{zxid - 1:x} to /var/lib/zookeeper/version-2/snapshot.{zxid - 1:x}")
    for hour in range(3):
        t = t0 + dt.timedelta(hours=hour, minutes=41, seconds=17, milliseconds=rng.randint(300, 400))
        add(t, "PurgeTask:DatadirCleanupManager$PurgeTask@138", "Purge task started.")
        add(ms(t, 8, 30), "PurgeTask:DatadirCleanupManager$PurgeTask@144", "Purge task completed.")

    return log.render()


SAMPLES = [
    ("hdfs-datanode-loss.log", hdfs_datanode_loss,
     ["Got exception while serving", "lost heartbeat", "removeStoredBlock", "to replicate",
      "pendingTransfer", "PendingReplicationMonitor timed out"]),
    ("bgl-kernel-fault-burst.log", bgl_kernel_fault_burst,
     ["KERNDTLB", "KERNSTOR", "KERNMC", "fp cr field", "APPSEV", "KERNTERM", "NULL DISCOVERY WARNING"]),
    ("linux-oom-kill.log", linux_oom_kill,
     ["page allocation failure", "invoked oom-killer", "Free pages:", "Free swap  = 0kB",
      "Out of memory: Killed process", "tomcat5 startup succeeded"]),
    ("openssh-brute-force.log", openssh_brute_force,
     ["Invalid user", "POSSIBLE BREAK-IN ATTEMPT", "Failed password for root",
      "maximum authentication attempts exceeded", "Disconnecting: Too many authentication failures",
      "Accepted"]),
    ("zookeeper-quiet.log", zookeeper_quiet,
     ["Established session", "Expiring session", "Snapshotting", "WARN", "ERROR"]),
]


def main() -> None:
    for name, fn, keys in SAMPLES:
        lines, tags = fn()
        write(name, lines)
        summarize(name, lines, tags, keys)


if __name__ == "__main__":
    main()
