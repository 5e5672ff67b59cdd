"""An MCP client session against `logreasoner mcp`, with the Python SDK from PyPI (package `mcp`).

Usage: mcp_client.py BINARY DATA_DIR LOGS FLOWCHARTS
Prints one JSON object with what the session saw; the Rust test checks it. Exits non-zero on any
protocol failure (the SDK raises) or on a tool answer without line numbers.
"""

import asyncio
import json
import re
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def field(obj, camel):
    """An SDK object's field by its protocol name, whichever spelling this SDK version uses."""
    snake = re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel)
    return getattr(obj, snake) if hasattr(obj, snake) else getattr(obj, camel)


def payload(result):
    """A tool result's JSON: its structured content, else its text."""
    if field(result, "isError"):
        raise SystemExit(f"tool error: {result.content[0].text}")
    structured = field(result, "structuredContent")
    if structured is not None:
        return structured
    return json.loads(result.content[0].text)


async def session(binary, data_dir, logs, flowcharts):
    server = StdioServerParameters(
        command=binary,
        args=["--data-dir", data_dir, "--logs", logs, "--flowcharts", flowcharts, "mcp"],
    )
    seen = {}
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as client:
            init = await client.initialize()
            seen["protocol"] = field(init, "protocolVersion")
            seen["server"] = field(init, "serverInfo").name
            tools = await client.list_tools()
            seen["tools"] = sorted(t.name for t in tools.tools)

            sources = payload(await client.call_tool("list_sources", {}))
            seen["sources"] = sorted(s["name"] for s in sources["sources"])

            found = payload(await client.call_tool(
                "search", {"source": "hdfs-datanode-loss.log", "pattern": "Exception|Timeout"}))
            seen["search_lines"] = [m["line"] for m in found["matches"]]

            walked = payload(await client.call_tool(
                "walk", {"source": "hdfs-datanode-loss.log", "first": 120, "last": 240}))
            seen["walk_chart"] = walked["chart"]
            seen["walk_end"] = walked["walk"]["end"]
            seen["walk_evidence"] = walked["evidence_lines"]

            report = payload(await client.call_tool(
                "diagnose", {"source": "hdfs-datanode-loss.log", "first": 120, "last": 240}))
            seen["diagnosis"] = {
                "anomalous": report["anomalous"],
                "cause": report.get("cause"),
                "evidence": report["evidence"],
                "first_line": report["first_line"],
                "last_line": report["last_line"],
            }

            missing = await client.call_tool("read_lines", {"source": "no-such.log"})
            seen["missing_is_error"] = field(missing, "isError")
    return seen


if __name__ == "__main__":
    print(json.dumps(asyncio.run(session(*sys.argv[1:5]))))
