#!/usr/bin/env python3
"""Write fuzz/corpus/: small seed programs for fuzz_ops, one per feature mix.

An input is a header byte (tasks - 1 in bits 0-1, channel 0's capacity in
bits 2-3) and (op, arg) byte pairs dealt round-robin to the tasks; the op
numbers are fuzz_ops.c's enum.  Deterministic: rerunning rewrites the same
files (named after their content).
"""
import hashlib
import os
import random

OPS = ["spawn", "sleep", "checkpoint", "scope", "exit", "cancel", "send", "recv",
       "send_nowait", "recv_nowait", "lock", "unlock", "to_thread", "from_thread",
       "group_cancel"]
OP = {name: i for i, name in enumerate(OPS)}


def program(tasks, cap, pairs):
    data = bytes([(tasks - 1) | (cap << 2)])
    for name, arg in pairs:
        data += bytes([OP[name], arg])
    return data


def seeds():
    # A producer/consumer pair per channel, buffered and rendezvous.
    for cap in range(4):
        yield program(2, cap, [("send", 0), ("recv", 0)] * 4)
        yield program(2, cap, [("send_nowait", 1), ("recv", 1), ("recv_nowait", 0), ("send", 0)] * 3)
    # Scopes: deadlines that expire around waits, fail_after, shields, cancel.
    yield program(1, 0, [("scope", 0x05), ("recv", 0), ("exit", 1)])
    yield program(1, 0, [("scope", 0x45), ("sleep", 20), ("exit", 1)])
    yield program(2, 1, [("scope", 0x80), ("scope", 0x02), ("cancel", 0), ("send", 0), ("recv", 0),
                         ("exit", 1), ("exit", 0)])
    yield program(3, 2, [("scope", 0xc0), ("cancel", 0), ("checkpoint", 0), ("exit", 1)] * 2)
    # Locks, held across waits and re-acquired by the owner.
    yield program(3, 0, [("lock", 0), ("sleep", 3), ("unlock", 0)] * 3)
    yield program(2, 1, [("lock", 0), ("lock", 0), ("send", 0), ("unlock", 0), ("recv", 0)])
    # Threads: plain, abandoned on cancel, calling back into the runtime.
    yield program(1, 1, [("to_thread", 10), ("from_thread", 5), ("recv_nowait", 0)])
    yield program(2, 0, [("scope", 0x01), ("to_thread", 0x7f), ("exit", 1), ("recv", 1)])
    yield program(2, 2, [("scope", 0x02), ("from_thread", 0x50), ("exit", 0), ("recv", 0)] * 2)
    yield program(4, 3, [("from_thread", 0xc0), ("recv", 1), ("to_thread", 0x41)] * 2)
    # Spawning, and cancelling the whole group.
    yield program(1, 1, [("spawn", 3), ("send", 0), ("recv", 0), ("sleep", 1), ("recv", 0)])
    yield program(2, 0, [("spawn", 7), ("spawn", 2), ("send", 1), ("recv", 1), ("checkpoint", 0)] * 2)
    yield program(2, 1, [("send", 0), ("group_cancel", 0xff), ("recv", 0), ("sleep", 50)])
    # Random mixes (fixed seed).
    rng = random.Random(1234)
    for i in range(20):
        n = rng.randint(4, 24)
        pairs = [(rng.choice(OPS), rng.randrange(256)) for _ in range(n)]
        pairs = [(name, 0 if name == "group_cancel" else arg) for name, arg in pairs]
        yield program(rng.randint(1, 4), rng.randrange(4), pairs)


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    os.makedirs(out, exist_ok=True)
    for data in seeds():
        name = hashlib.sha1(data).hexdigest()[:16]
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
