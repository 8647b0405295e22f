#!/usr/bin/env python3
"""Where the soak's admitted Segment calls spent their time, from the server's request log.

Reads the JSON request log (one object per call; server/service/call_record.h) that
scripts/soak.sh keeps in out/soak/server.log and prints, for the calls the server admitted
(those whose log line carries "admitted_idle"), how many finished within what their
deadline left when they reached the server ("left_at_arrival_s"), how many after, and for
the late ones the stage that took the time (decode, queue, compute, encode) and whether
they were admitted on an idle model. A client-side late count (soak_bench's
"admitted and then past their deadline") above the server's says the rest of the time
went before the call reached the server (gRPC's own queueing, the client's threads).

  scripts/soak_admitted.py out/soak/server.log
"""
import collections
import json
import sys


def quantiles(values):
    if not values:
        return "-"
    values = sorted(values)
    pick = lambda q: values[min(len(values) - 1, int(q * len(values)))]
    return f"p50 {pick(0.5):.3f} / p90 {pick(0.9):.3f} / max {values[-1]:.3f} s"


def main(path):
    admitted = []
    with open(path, encoding="utf-8", errors="replace") as log:
        for line in log:
            if not line.startswith("{"):
                continue
            try:
                call = json.loads(line)
            except json.JSONDecodeError:
                continue
            if call.get("method") == "Segment" and "admitted_idle" in call:
                admitted.append(call)
    if not admitted:
        print("soak_admitted: no admitted Segment call in", path)
        return 1
    late = [c for c in admitted if "left_at_arrival_s" in c and c["seconds"] > c["left_at_arrival_s"]]
    print(f"admitted Segment calls: {len(admitted)}; by status: "
          + ", ".join(f"{k} {v}" for k, v in collections.Counter(c["code"] for c in admitted).most_common()))
    print(f"deadline left when the call reached the server: {quantiles([c['left_at_arrival_s'] for c in admitted if 'left_at_arrival_s' in c])}")
    for idle in (True, False):
        group = [c for c in admitted if c["admitted_idle"] == idle]
        print(f"admitted {'on an idle model' if idle else 'on the estimate'}: {len(group)}, "
              f"of which finished after their deadline {sum(c in late for c in group)}")
    print(f"finished after their deadline (server's clock): {len(late)}")
    if late:
        print("  left at arrival:", quantiles([c["left_at_arrival_s"] for c in late]))
        print("  server seconds: ", quantiles([c["seconds"] for c in late]))
        for stage in ("decode_s", "vocabulary_s", "queue_s", "compute_s", "encode_s"):
            values = [c[stage] for c in late if stage in c]
            if values:
                print(f"  {stage:<13}   {quantiles(values)}")
        messages = collections.Counter(c.get("message", "")[:60] for c in late if c["code"] != "OK")
        for message, n in messages.most_common(5):
            print(f"  {n} x {message}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "out/soak/server.log"))
