#!/usr/bin/env python3
"""Crash torture helper for test_crash_torture.sh.

  crash_torture.py write MNT WID SEED JOURNAL ERRS
      One writer: works on MNT/torture/wWID (appends, O_TRUNC overwrites,
      pwrites with an fsync in the middle, truncates, renames, unlinks,
      retention locks) and MNT/retain/wWID (a bucket with a default
      retention: new objects only). Before each operation it journals the
      states each touched path may have if the daemon dies meanwhile
      ("B"), after it returned the one state it must have ("D"). Runs until
      the mount dies (ENOTCONN/ECONNABORTED). Any other error is written
      to ERRS (an EIO there is issue 11's C4).
  crash_torture.py check MNT STATE JOURNAL...
      After the remount: every path reads without error and in one of the
      states its journal allows; every object locked before (or committed
      in the default-retention bucket) is locked and refuses a write.
      STATE (JSON) carries the expectations to the next cycle.
"""
import errno
import hashlib
import json
import os
import random
import sys
import time

GONE = "-"
DEAD = (errno.ENOTCONN, errno.ECONNABORTED)


def digest(data):
    return hashlib.sha1(data).hexdigest()


class Dead(Exception):
    pass


class Writer:
    def __init__(self, mnt, wid, seed, journal, errs):
        self.rnd = random.Random(seed)
        self.dir = os.path.join(mnt, "torture", "w%s" % wid)
        self.rdir = os.path.join(mnt, "retain", "w%s" % wid)
        self.j = open(journal, "a")
        self.errs = errs
        self.files = {}     # rel path -> content (committed as far as we know)
        self.locked = set()
        self.seq = 0
        for d in (self.dir, self.rdir):
            try:
                os.makedirs(d, exist_ok=True)
            except OSError as e:
                self.fail("mkdir", d, e)
        for name in sorted(os.listdir(self.dir)):
            p = os.path.join(self.dir, name)
            with open(p, "rb") as f:
                self.files[name] = f.read()
            try:
                if os.getxattr(p, "user.worm.state") == b"locked":
                    self.locked.add(name)
            except OSError:
                pass
        for name in os.listdir(self.rdir):
            self.seq = max(self.seq, int(name[1:]) + 1)
        self.seq = max(self.seq, max([int(n[1:]) + 1 for n in self.files] or [0]))

    def fail(self, what, path, e):
        if isinstance(e, OSError) and e.errno in DEAD:
            raise Dead()
        tag = ""
        if isinstance(e, OSError) and e.errno == errno.EIO and self.mount_dead():
            # The kernel ends a request cut off by the daemon's death with
            # EIO now and then (the daemon had logged nothing: README, C4).
            # The daemon was already gone when the call returned, so this
            # is the kill's, not a daemon's EIO; counted, not failed.
            tag = "AT-KILL "
        with open(self.errs, "a") as f:
            f.write("%s%s %s: %s\n" % (tag, what, path, e))
        raise Dead()

    def mount_dead(self):
        try:
            os.stat(self.dir)
        except OSError as e:
            return e.errno in DEAD
        return False

    def log(self, kind, states):
        self.j.write(json.dumps([kind, states]) + "\n")
        self.j.flush()

    def rel(self, name, top=None):
        return os.path.join("torture" if top is None else top, os.path.basename(self.dir), name)

    def data(self):
        k = self.rnd.random()
        if k < 0.4:
            n = self.rnd.randrange(1, 16384)          # inline
        elif k < 0.5:
            n = 16384 * self.rnd.randrange(1, 5)      # block aligned
        else:
            n = self.rnd.randrange(16385, 200000)     # content file
        return os.urandom(n)

    def write_all(self, fd, data):
        view = memoryview(data)
        while view:
            step = self.rnd.choice((4096, 65536, 1 << 20))
            n = os.write(fd, view[:step])
            view = view[n:]

    def op(self):
        names = [n for n in self.files if n not in self.locked]
        r = self.rnd.random()
        if not names or (r < 0.15 and len(self.files) < 40):
            return self.create()
        if len(names) > 30 and r < 0.15:
            r = 0.85                          # keep the store small: unlink
        if r >= 0.9 and len(self.locked) >= 8:
            r = 0.1                           # locked objects stay: few of them
        name = self.rnd.choice(names)
        p = os.path.join(self.dir, name)
        old = self.files[name]
        rel = self.rel(name)
        try:
            if r < 0.35:                      # append
                add = self.data()[: self.rnd.randrange(1, 40000)]
                new = old + add
                self.log("B", {rel: [digest(old), digest(new)]})
                fd = os.open(p, os.O_WRONLY | os.O_APPEND)
                self.write_all(fd, add)
                os.close(fd)
            elif r < 0.5:                     # O_TRUNC overwrite
                new = self.data()
                self.log("B", {rel: [digest(old), digest(b""), digest(new)]})
                fd = os.open(p, os.O_WRONLY | os.O_TRUNC)
                self.write_all(fd, new)
                os.close(fd)
            elif r < 0.65:                    # pwrites, fsync between
                off1 = self.rnd.randrange(0, len(old) + 20000)
                d1 = os.urandom(self.rnd.randrange(1, 30000))
                mid = bytearray(old)
                if off1 > len(mid):
                    mid += bytes(off1 - len(mid))
                mid[off1:off1 + len(d1)] = d1
                mid = bytes(mid)
                off2 = self.rnd.randrange(0, len(mid) + 1)
                d2 = os.urandom(self.rnd.randrange(1, 20000))
                new = bytearray(mid)
                new[off2:off2 + len(d2)] = d2
                new = bytes(new)
                self.log("B", {rel: [digest(old), digest(mid), digest(new)]})
                fd = os.open(p, os.O_RDWR)
                os.pwrite(fd, d1, off1)
                os.fsync(fd)
                os.pwrite(fd, d2, off2)
                os.close(fd)
            elif r < 0.75:                    # truncate
                n = self.rnd.choice((0, len(old) // 2, len(old) + 5000,
                                     self.rnd.randrange(0, 120000)))
                new = old[:n] + bytes(max(0, n - len(old)))
                self.log("B", {rel: [digest(old), digest(new)]})
                os.truncate(p, n)
            elif r < 0.83:                    # rename to a new name
                dst = "f%d" % self.seq
                self.seq += 1
                rdst = self.rel(dst)
                self.log("B", {rel: [digest(old), GONE], rdst: [GONE, digest(old)]})
                os.rename(p, os.path.join(self.dir, dst))
                del self.files[name]
                self.files[dst] = old
                self.log("D", {rel: [GONE], rdst: [digest(old)]})
                return
            elif r < 0.9:                     # unlink
                self.log("B", {rel: [digest(old), GONE]})
                os.unlink(p)
                del self.files[name]
                self.log("D", {rel: [GONE]})
                return
            else:                             # lock it for a day
                self.log("B", {rel: [digest(old)], "lock:" + rel: ["maybe"]})
                # The release of the last write handle follows close(2):
                # until it arrives a lock change is EBUSY.
                for _ in range(100):
                    try:
                        os.setxattr(p, "user.worm.retention", b"GOVERNANCE +1d")
                        break
                    except OSError as e:
                        if e.errno != errno.EBUSY:
                            raise
                        time.sleep(0.02)
                else:
                    raise OSError(errno.EBUSY, "still busy after 2 s")
                self.locked.add(name)
                self.log("D", {rel: [digest(old)], "lock:" + rel: ["locked"]})
                return
        except OSError as e:
            self.fail("op", p, e)
        self.files[name] = new
        self.log("D", {rel: [digest(new)]})

    def create(self):
        name = "f%d" % self.seq
        self.seq += 1
        retain = self.rnd.random() < 0.3 and len(os.listdir(self.rdir)) < 15
        p = os.path.join(self.rdir if retain else self.dir, name)
        rel = self.rel(name, "retain" if retain else "torture")
        new = self.data()
        try:
            self.log("B", {rel: [GONE, digest(b""), digest(new)]})
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            self.write_all(fd, new)
            os.close(fd)
        except OSError as e:
            self.fail("create", p, e)
        states = {rel: [digest(new)]}
        if retain:
            states["lock:" + rel] = ["locked"]
        else:
            self.files[name] = new
        self.log("D", states)

    def run(self):
        try:
            while True:
                self.op()
        except Dead:
            pass


def check(mnt, state_path, journals):
    try:
        with open(state_path) as f:
            st = json.load(f)
    except (OSError, ValueError):
        st = {"exp": {}, "locked": []}
    exp = {k: set(v) for k, v in st["exp"].items()}
    locked = set(st["locked"])
    maybe = set()
    for jp in journals:
        try:
            lines = open(jp).read().splitlines()
        except OSError:
            continue
        for line in lines:
            try:
                kind, states = json.loads(line)
            except ValueError:
                continue   # the last line, cut by the kill of the writer
            for k, v in states.items():
                if k.startswith("lock:"):
                    if v == ["locked"]:
                        locked.add(k[5:])
                        maybe.discard(k[5:])
                    else:
                        maybe.add(k[5:])
                    continue
                exp[k] = set(v)
    problems, unreadable, n = [], 0, 0
    present = set()
    for top in ("torture", "retain"):
        base = os.path.join(mnt, top)
        for w in sorted(os.listdir(base)) if os.path.isdir(base) else []:
            for name in os.listdir(os.path.join(base, w)):
                present.add(os.path.join(top, w, name))
    actual = {}
    for rel in sorted(present | set(exp)):
        p = os.path.join(mnt, rel)
        if rel in present:
            try:
                with open(p, "rb") as f:
                    h = digest(f.read())
            except OSError as e:
                if e.errno == errno.EIO:
                    unreadable += 1
                problems.append("%s: read: %s" % (rel, e))
                continue
        else:
            h = GONE
        n += 1
        actual[rel] = h
        if rel not in exp:
            problems.append("%s: not written by any writer" % rel)
        elif h not in exp[rel]:
            problems.append("%s: %s, journal allows %s" % (rel, h[:8], sorted(x[:8] for x in exp[rel])))
    for rel in sorted(locked | maybe):
        if actual.get(rel, GONE) == GONE:
            if rel in locked:
                problems.append("%s: locked but gone" % rel)
            continue
        p = os.path.join(mnt, rel)
        try:
            state = os.getxattr(p, "user.worm.state").decode()
        except OSError as e:
            state = str(e)
        if rel in maybe and state == "locked":
            locked.add(rel)
        if rel not in locked:
            continue
        if state != "locked":
            problems.append("%s: should be locked, is %s" % (rel, state))
        try:
            fd = os.open(p, os.O_WRONLY | os.O_APPEND)
            os.close(fd)
            problems.append("%s: locked but opened for writing" % rel)
        except OSError as e:
            if e.errno != errno.EPERM:
                problems.append("%s: write-open of a locked object: %s" % (rel, e))
    with open(state_path, "w") as f:
        json.dump({"exp": {k: [v] for k, v in actual.items() if v != GONE},
                   "locked": sorted(r for r in locked if actual.get(r, GONE) != GONE)}, f)
    print("checked %d paths, %d locked, %d unreadable, %d problems"
          % (n, len(locked), unreadable, len(problems)))
    for p in problems[:20]:
        print("PROBLEM " + p)
    return 1 if problems else 0


def main():
    if len(sys.argv) >= 7 and sys.argv[1] == "write":
        try:
            Writer(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]).run()
        except Dead:
            pass
        except OSError as e:
            if e.errno not in DEAD:
                with open(sys.argv[6], "a") as f:
                    f.write("start: %s\n" % e)
        return 0
    if len(sys.argv) >= 4 and sys.argv[1] == "check":
        return check(sys.argv[2], sys.argv[3], sys.argv[4:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
