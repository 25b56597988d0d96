#!/usr/bin/env python3
"""Reads `tcpdump -tt -nn -q` lines of one client's traffic to the token server and prints, per
run, how the connections were used: requests, connections, the server's time per request (its
request in, its response out) and the client's time between a response and the next request on
the same connection (what the client spends between two requests of one connection).

Usage: pipeline_gaps.py LABEL SERVER_PORT < tcpdump.txt
"""
import re
import statistics
import sys

label, port = sys.argv[1], sys.argv[2]
line_re = re.compile(r"^(\d+\.\d+) IP6? (\S+)\.(\d+) > (\S+)\.(\d+): tcp (\d+)")
# Per connection (the client's port): the time of the first packet of the request being sent,
# and the last packet of the response being received.
conns = {}
server_times, client_gaps, first, last = [], [], None, None
for line in sys.stdin:
    m = line_re.match(line)
    if not m or int(m.group(6)) == 0:
        continue
    t, sport, dport = float(m.group(1)), m.group(3), m.group(5)
    first = t if first is None else first
    last = t
    if dport == port:  # client -> server: a request (or the rest of one)
        c = conns.setdefault(sport, {"state": "idle", "req": None, "resp": None, "n": 0})
        if c["state"] != "request":
            if c["resp"] is not None:
                client_gaps.append(t - c["resp"])
            c["req"], c["state"] = t, "request"
            c["n"] += 1
    elif sport == port:  # server -> client: the response (or the rest of one)
        c = conns.get(dport)
        if c is None:
            continue
        if c["state"] == "request":
            server_times.append(t - c["req"])
        c["resp"], c["state"] = t, "response"

def ms(xs, q):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return 1000 * xs[min(len(xs) - 1, int(q * len(xs)))]

n = sum(c["n"] for c in conns.values())
span = (last - first) if first is not None else 0
print(f"PIPELINE {label}: {n} requests over {len(conns)} connections in {span:.3f} s "
      f"({n / span if span else 0:.0f}/s); server time per request median {ms(server_times, .5):.2f} ms "
      f"(p90 {ms(server_times, .9):.2f}); client gap between a response and the next request on "
      f"its connection median {ms(client_gaps, .5):.2f} ms (p90 {ms(client_gaps, .9):.2f})")
if server_times and client_gaps:
    share = statistics.mean(client_gaps) / (statistics.mean(client_gaps) + statistics.mean(server_times))
    print(f"PIPELINE {label}: each connection spends {100 * share:.0f}% of its time waiting for the client")
