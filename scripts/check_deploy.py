#!/usr/bin/env python3
"""The parts of scripts/check_deploy.sh that need a program: the PrometheusRule against the
rules file, the Grafana dashboard's PromQL, and a real Prometheus scraping a real
ovseg-server (demo model, loopback) while a client sends traffic: every expression of the
rules and the dashboard must parse and return data.

usage: .tools-venv/bin/python scripts/check_deploy.py --out DIR
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import yaml

GRPC_PORT, METRICS_PORT, PROMETHEUS_PORT = 50093, 9493, 19093


def fail(message):
    print(f"check_deploy: {message}", file=sys.stderr)
    sys.exit(1)


def rules_groups():
    return yaml.safe_load(open("deploy/monitoring/ovseg-rules.yml"))["groups"]


def check_custom_resources():
    rule = yaml.safe_load(open("deploy/base/prometheusrule.yaml"))
    if rule["apiVersion"] != "monitoring.coreos.com/v1" or rule["kind"] != "PrometheusRule":
        fail("deploy/base/prometheusrule.yaml is not a monitoring.coreos.com/v1 PrometheusRule")
    if rule["spec"]["groups"] != rules_groups():
        fail("deploy/base/prometheusrule.yaml differs from deploy/monitoring/ovseg-rules.yml")
    monitor = yaml.safe_load(open("deploy/base/servicemonitor.yaml"))
    service = yaml.safe_load(open("deploy/base/service.yaml"))
    ports = {p["name"] for p in service["spec"]["ports"]}
    for endpoint in monitor["spec"]["endpoints"]:
        if endpoint["port"] not in ports:
            fail(f"ServiceMonitor scrapes port {endpoint['port']!r}, the Service has {sorted(ports)}")
    if monitor["spec"]["selector"]["matchLabels"].items() - service["metadata"]["labels"].items():
        fail("the ServiceMonitor's selector does not match the Service's labels")


def dashboard_expressions():
    dashboard = json.load(open("deploy/monitoring/grafana-dashboard.json"))
    exprs = []
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            # Grafana's range variable, as Grafana fills it at a 15 s scrape interval.
            exprs.append((panel["title"], target["expr"].replace("$__rate_interval", "1m")))
    return exprs


def check_dashboard_parses(out):
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:expr_{i}", "expr": e} for i, (_, e) in enumerate(dashboard_expressions())]}]}
    path = os.path.join(out, "dashboard-as-rules.yml")
    yaml.safe_dump(rules, open(path, "w"))
    subprocess.run(["promtool", "check", "rules", path], check=True)


def data_expression(expr):
    """What must return data for an alert: its left side (the condition may rightly be
    false); absent(x) needs x."""
    expr = " ".join(expr.split())
    m = re.fullmatch(r"absent\((.*)\)", expr)
    if m:
        return m.group(1)
    depth = 0
    for i, ch in enumerate(expr):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and expr[i:i + 3] in (" > ", " < ") or depth == 0 and expr[i:i + 4] == " == ":
            return expr[:i]
    return expr


def query(expr):
    url = (f"http://127.0.0.1:{PROMETHEUS_PORT}/api/v1/query?"
           + urllib.parse.urlencode({"query": expr}))
    with urllib.request.urlopen(url, timeout=10) as reply:
        return json.load(reply)


def wait_for(what, predicate, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if predicate():
                return
        except Exception:  # not up yet
            pass
        time.sleep(0.5)
    fail(f"timed out waiting for {what}")


def live_check(out):
    config = open("configs/server.pbtxt").read()
    config = config.replace("127.0.0.1:50051", f"127.0.0.1:{GRPC_PORT}")
    config = config.replace("127.0.0.1:9464", f"127.0.0.1:{METRICS_PORT}")
    config = config.replace('http_address: "127.0.0.1:8080"', 'http_address: "none"')
    config = config.replace('checkpoint_dir: "checkpoints"',
                            f'checkpoint_dir: "{out}/checkpoints"')
    open(f"{out}/server.pbtxt", "w").write(config)
    prometheus_config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [os.path.abspath("deploy/monitoring/ovseg-rules.yml")],
        "scrape_configs": [{"job_name": "ovseg",
                            "static_configs": [{"targets": [f"127.0.0.1:{METRICS_PORT}"]}]}],
    }
    yaml.safe_dump(prometheus_config, open(f"{out}/prometheus.yml", "w"))
    server = subprocess.Popen(["build/server/ovseg-server", "--config", f"{out}/server.pbtxt"],
                              stdout=open(f"{out}/server.log", "w"), stderr=subprocess.STDOUT)
    prometheus = subprocess.Popen(
        ["prometheus", f"--config.file={out}/prometheus.yml", f"--storage.tsdb.path={out}/tsdb",
         f"--web.listen-address=127.0.0.1:{PROMETHEUS_PORT}"],
        stdout=open(f"{out}/prometheus.log", "w"), stderr=subprocess.STDOUT)
    try:
        address = f"127.0.0.1:{GRPC_PORT}"
        wait_for("the server to serve", lambda: b"SERVING" in subprocess.run(
            ["build/client/ovseg", "health", "--server", address], capture_output=True).stdout, 180)
        wait_for("Prometheus to scrape it",
                 lambda: query('up{job="ovseg"} == 1')["data"]["result"], 60)
        subprocess.run(["build/tools/ovseg-synth", "--out", f"{out}/world", "--train", "0",
                        "--val", "3", "--seed", "7", "--threads", "1"], check=True,
                       capture_output=True)
        images = sorted(os.listdir(f"{out}/world/val/images"))
        for i in range(8):
            labels = "gravel,red striped star,green circle" if i % 2 else f"cat,dog,label{i}"
            subprocess.run(["build/client/ovseg", "segment", "--server", address, "--image",
                            f"{out}/world/val/images/{images[i % len(images)]}",
                            "--labels", labels, "--task", "panoptic"],
                           check=True, capture_output=True)
        # Refused requests too (not an image: INVALID_ARGUMENT).
        for _ in range(2):
            subprocess.run(["build/client/ovseg", "segment", "--server", address, "--image",
                            "deploy/base/pdb.yaml", "--labels", "cat"], capture_output=True)
        time.sleep(6)  # several scrapes and rule evaluations after the traffic
        expressions = [(f"rule {r.get('record') or r.get('alert')}", data_expression(r["expr"]))
                       for g in rules_groups() for r in g["rules"]]
        # Panels of GPU-only series (title "(GPU)") are parsed, not required to have data:
        # this server runs on the CPU.
        expressions += [(f"dashboard panel {title!r}", e) for title, e in dashboard_expressions()
                        if "(GPU)" not in title]
        empty = []
        for name, expr in expressions:
            reply = query(expr)
            if reply["status"] != "success":
                fail(f"{name}: {expr}: {reply}")
            if not reply["data"]["result"]:
                empty.append(f"{name}: {expr}")
        if empty:
            fail("no data after traffic for:\n  " + "\n  ".join(empty))
        print(f"check_deploy: {len(expressions)} expressions returned data from a live Prometheus")
    finally:
        for process in (prometheus, server):
            process.terminate()
            process.wait(timeout=60)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(f"{args.out}/checkpoints", exist_ok=True)
    check_custom_resources()
    check_dashboard_parses(args.out)
    live_check(args.out)


if __name__ == "__main__":
    main()
