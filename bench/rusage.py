#!/usr/bin/env python3
# rusage.py OUT CMD ARGS...: runs CMD and appends "wall_s user_s sys_s exit" to the file OUT
# (CMD keeps stdout and stderr). wait4 gives the child's own CPU at microsecond resolution, where
# /usr/bin/time rounds to 10 ms, which is most of a short run's CPU.
import os, sys, time

start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - start
with open(sys.argv[1], "a") as out:
    print(f"{wall:.4f} {ru.ru_utime:.4f} {ru.ru_stime:.4f} {os.waitstatus_to_exitcode(status)}",
          file=out)
