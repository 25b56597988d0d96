#!/usr/bin/env python3
"""The CPU that durability alone costs per record on this machine, without tokdash: N records of
SIZE bytes written as SPEC.md "Token store guarantees" requires (a temporary file created in the
store's directory, written, made durable, renamed over the record, then the directory fsynced),
in batches of BATCH (one syncfs per batch, as tokdash's batched commit does; BATCH=1: one fsync
per record). Each record replaces an existing one, as a refresh does. Prints the user and kernel
CPU per record; the kernel part is the floor any client that keeps SPEC's promise pays, whatever
language it is written in (Python's own user time is not).

Usage: durability_floor.py DIR [N=300] [SIZE=1500] [BATCH=8]
"""
import ctypes
import os
import resource
import sys
import time

directory = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 300
size = int(sys.argv[3]) if len(sys.argv) > 3 else 1500
batch = int(sys.argv[4]) if len(sys.argv) > 4 else 8
libc = ctypes.CDLL("libc.so.6", use_errno=True)
os.makedirs(directory, mode=0o700, exist_ok=True)
payload = os.urandom(size // 2).hex().encode()
dir_fd = os.open(directory, os.O_RDONLY)


def write_batch(names):
    temps = []
    for name in names:
        tmp = os.path.join(directory, f".tmp-{name}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, payload)
        temps.append((fd, tmp, os.path.join(directory, f"{name}.json")))
    if len(temps) == 1:
        os.fsync(temps[0][0])
    elif libc.syncfs(temps[0][0]) != 0:
        raise OSError(ctypes.get_errno(), "syncfs")
    for fd, tmp, target in temps:
        os.close(fd)
        os.rename(tmp, target)
    os.fsync(dir_fd)


names = [f"p{i:05}" for i in range(n)]
for i in range(0, n, batch):  # the records exist before, as they do before a refresh
    write_batch(names[i:i + batch])
before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
for i in range(0, n, batch):
    write_batch(names[i:i + batch])
after, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - start
user = (after.ru_utime - before.ru_utime) * 1000 / n
kernel = (after.ru_stime - before.ru_stime) * 1000 / n
print(f"FLOOR durability: {n} records of {size} B, batches of {batch}: kernel {kernel:.3f} ms "
      f"+ user {user:.3f} ms per record, {n / wall:.0f} records/s")
