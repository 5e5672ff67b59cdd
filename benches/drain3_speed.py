"""Drain3's side of `logreasoner bench parse-speed`.

Usage: python3 benches/drain3_speed.py INPUT MASKS_JSON
Reads one message per line, then times TemplateMiner.add_log_message over all of them (reading the
file is not timed), with Drain3's default settings plus the given masking regexes (each replaced by
<*>, as ours does). Prints one JSON object: lines, seconds, clusters.
"""
import json
import sys
import time

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig


def main():
    path, masks = sys.argv[1], json.loads(sys.argv[2]) if len(sys.argv) > 2 else []
    config = TemplateMinerConfig()
    config.profiling_enabled = False
    # Drain3 writes "<" + mask_with + ">", so "*" gives the same <*> as ours.
    config.masking_instructions = [MaskingInstruction(p, "*") for p in masks]
    miner = TemplateMiner(config=config)
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    start = time.perf_counter()
    for line in lines:
        miner.add_log_message(line)
    seconds = time.perf_counter() - start
    print(json.dumps({"lines": len(lines), "seconds": seconds, "clusters": len(miner.drain.clusters)}))


if __name__ == "__main__":
    main()
