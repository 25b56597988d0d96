#!/usr/bin/env python3
"""The CPU that durability alone costs per record on this machine, without tokdash: N records of
SIZE bytes each replaced durably, in batches of BATCH (one syncfs per batch, as tokdash's batched
commit does; BATCH=1: one fsync per record), then the directory fsynced. Each record replaces an
existing one, as a refresh does. Two ways, both keeping SPEC.md "Token store guarantees" (a crash
leaves the old record or the new one):

- create: a new temporary file created in the store's directory, written, renamed over the record
  (a new inode per write, the replaced one freed);
- exchange: the record's spare file rewritten in place and exchanged with the record
  (renameat2 RENAME_EXCHANGE: no inode made or freed), as tokdash's store does.

Prints the user and kernel CPU per record of each; the lower kernel figure (FLOOR line, last) is
the floor any client that keeps SPEC's promise pays here, whatever language it is written in
(Python's own user time is not).

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
AT_FDCWD, RENAME_EXCHANGE = -100, 2
payload = os.urandom(size // 2).hex().encode()


def exchange(a, b):
    if libc.renameat2(AT_FDCWD, a.encode(), AT_FDCWD, b.encode(), RENAME_EXCHANGE) != 0:
        raise OSError(ctypes.get_errno(), "renameat2")


def write_batch(folder, dir_fd, names, mode):
    pending = []
    for name in names:
        target = os.path.join(folder, f"{name}.json")
        if mode == "create":
            tmp = os.path.join(folder, f".tmp-{name}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, payload)
        else:
            tmp = os.path.join(folder, f".spare.{name}.json")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            os.pwrite(fd, payload, 0)
            os.ftruncate(fd, len(payload))
        pending.append((fd, tmp, target))
    if len(pending) == 1:
        os.fsync(pending[0][0])
    elif libc.syncfs(pending[0][0]) != 0:
        raise OSError(ctypes.get_errno(), "syncfs")
    for fd, tmp, target in pending:
        os.close(fd)
        if mode == "create" or not os.path.exists(target):
            os.rename(tmp, target)
        else:
            exchange(tmp, target)
    os.fsync(dir_fd)


def measure(mode):
    folder = os.path.join(directory, mode)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    dir_fd = os.open(folder, os.O_RDONLY)
    names = [f"p{i:05}" for i in range(n)]
    for _ in range(2):  # the records (and spares) exist before, as they do before a refresh
        for i in range(0, n, batch):
            write_batch(folder, dir_fd, names[i:i + batch], mode)
    before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for i in range(0, n, batch):
        write_batch(folder, dir_fd, names[i:i + batch], mode)
    after, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - start
    user = (after.ru_utime - before.ru_utime) * 1000 / n
    kernel = (after.ru_stime - before.ru_stime) * 1000 / n
    return kernel, user, n / wall


results = {mode: measure(mode) for mode in ("create", "exchange")}
for mode, (kernel, user, rate) in results.items():
    print(f"durability ({mode}): kernel {kernel:.3f} ms + user {user:.3f} ms per record, {rate:.0f} records/s")
mode, (kernel, user, rate) = min(results.items(), key=lambda r: r[1][0])
print(f"FLOOR durability: {n} records of {size} B, batches of {batch}, {mode}: kernel {kernel:.3f} ms "
      f"+ user {user:.3f} ms per record, {rate:.0f} records/s")
