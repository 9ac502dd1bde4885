"""Copying SQLite's write-ahead log back into the database file, beside the writer.

SQLite checkpoints inside the commit that takes its log past
`wal_autocheckpoint` pages: that commit syncs the log (in WAL mode with
synchronous=NORMAL, commits themselves never sync), copies the pages it holds
into the database file and syncs that, and every request of its group commit
waits. Under 64 concurrent PATCHes one commit in about 65 took 20 to 50 ms
that way, and those commits set the p99: 61 to 70 ms at a median of 13 (wrk
against serve, 4 rounds alternated). A `Checkpointer` does that work on a
thread and connection of its own, one passive checkpoint after another while
commits go on: a passive checkpoint never takes the write lock and never
waits for one, and sqlite3 lets go of the GIL while it runs. The p99 went to
19 to 23 ms, at the same median and throughput.

The writer's own checkpoint (`wal_autocheckpoint`) stays, and is still needed:
SQLite starts the log over from its beginning only once a checkpoint has
copied all of it, and with commits arriving while this thread copies, only the
writer's checkpoint, which runs right after its own commit, ever finds it all
copied. It now has next to nothing left to sync or copy. Without it the log
grew by 2.4 GB in 20 s of PATCHes.
"""

from __future__ import annotations

import sqlite3
import threading

from asyncorders import log

logger = log.get("asyncorders.storage")

# How long `close` waits for a checkpoint under way (it runs on the event loop).
CLOSE_SECONDS = 10.0


class Checkpointer:
    """Checkpoints one database file on its own thread after commits.

    The writer calls `committed` after each commit; the thread then runs one
    checkpoint, and the next at once if commits came meanwhile (waiting
    between runs let the writer's own checkpoints find more to do: with
    50 ms between runs, the p99 went from 16 to 27 ms). It starts with the
    first commit and stops with `close`.
    """

    def __init__(self, database: str) -> None:
        self.database = database
        self._due = threading.Event()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()
        self._failing = False  # a failure is logged once, until a run succeeds

    def committed(self) -> None:
        if self._thread is None:
            self._start()
        self._due.set()

    def close(self) -> None:
        """Stop the thread after the checkpoint it may be running (waiting at
        most `CLOSE_SECONDS`); a later commit starts it again."""
        with self._starting:
            thread, self._thread = self._thread, None
            if thread is None:
                return
            self._closing.set()
            self._due.set()
            thread.join(CLOSE_SECONDS)
            if thread.is_alive():  # a daemon thread: it cannot hold up the exit
                logger.warning(
                    "storage.checkpoint_still_running", database=self.database
                )

    def _start(self) -> None:
        with self._starting:
            if self._thread is None:
                self._closing = threading.Event()  # each thread has its own
                self._thread = threading.Thread(
                    target=self._run,
                    args=(self._closing,),
                    name="sqlite-checkpoint",
                    daemon=True,
                )
                self._thread.start()

    def _run(self, closing: threading.Event) -> None:
        connection: sqlite3.Connection | None = None
        try:
            while True:
                self._due.wait()
                self._due.clear()  # before the check: a close meanwhile is not lost
                if closing.is_set():
                    return
                connection = self._checkpoint(connection)
        finally:
            if connection is not None:
                connection.close()

    def _checkpoint(
        self, connection: sqlite3.Connection | None
    ) -> sqlite3.Connection | None:
        """One passive checkpoint, on `connection` or a new one; returns the
        connection for the next, or None after a failure (the next opens anew)."""
        try:
            if connection is None:
                connection = sqlite3.connect(
                    self.database, isolation_level=None, check_same_thread=False
                )
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except Exception as error:  # the writer's own checkpoint still runs
            if not self._failing:
                logger.warning(
                    "storage.checkpoint_failed",
                    database=self.database,
                    error=type(error).__name__,
                    detail=str(error),
                )
            self._failing = True
            if connection is not None:
                connection.close()
            return None
        self._failing = False
        return connection
