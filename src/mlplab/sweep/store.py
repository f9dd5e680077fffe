"""The sweep's results: one SQLite file, ``DIR/sweep.sqlite``, written only by the coordinator.

Workers never open it: they return a :class:`~mlplab.sweep.trial.TrialResult` and the
coordinating process records it, each result in its own transaction (WAL journal, a busy
timeout), so a killed coordinator loses at most the trials that were still running. Tables:
``spec`` (the canonical spec JSON), ``trials`` (one row per trial key) and ``epochs`` (one row
per trial and epoch). A trial's status moves ``pending → running → finished | diverged |
failed``; :meth:`Store.requeue_running` sends trials a killed coordinator left ``running``
back to ``pending`` and :meth:`Store.retry_failed` sends ``failed`` ones back, keeping their old
errors in ``past_errors``. Columns added since the first release (``past_errors``, ``warnings``)
are added to an older file when it is opened (``ALTER TABLE ... ADD COLUMN``: old rows read as
empty lists), so every sweep folder ever written still opens.

Examples:
    >>> import tempfile, pathlib
    >>> from mlplab.sweep import spec_from_options
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> store = Store(d / "sweep.sqlite")
    >>> spec = spec_from_options(["seed=0,1"], ["epochs=1"])
    >>> store.save_spec(spec)
    >>> store.add_trials(spec.trials()), store.add_trials(spec.trials())
    (2, 0)
    >>> store.counts()["pending"]
    2
    >>> store.close()
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .spec import SpecError

if TYPE_CHECKING:
    from .spec import Spec, Trial
    from .trial import TrialResult

__all__ = ["STATUSES", "Store", "TrialRow"]

STATUSES = ("pending", "running", "finished", "diverged", "failed")
EPOCH_KEYS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spec (id INTEGER PRIMARY KEY CHECK (id = 1), json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    key TEXT PRIMARY KEY, position INTEGER NOT NULL, config TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', metrics TEXT, error TEXT,
    wall_seconds REAL, train_seconds REAL, host TEXT, started TEXT, ended TEXT,
    attempts INTEGER NOT NULL DEFAULT 0, past_errors TEXT, warnings TEXT);
CREATE TABLE IF NOT EXISTS epochs (
    key TEXT NOT NULL REFERENCES trials(key), epoch INTEGER NOT NULL, train_loss REAL,
    train_accuracy REAL, val_loss REAL, val_accuracy REAL, lr REAL, PRIMARY KEY (key, epoch));
"""
#: Columns of ``trials`` added after the first release (JSON lists); :class:`Store` adds them to
#: an older file. Old readers name their columns, so they still read a migrated file.
_ADDED_COLUMNS = ("past_errors", "warnings")


@dataclass
class TrialRow:
    """One trial as stored: its configuration, status, final metrics and times.

    ``metrics`` holds the names of a run folder's ``summary.json`` (``test_accuracy``,
    ``test_loss``, ``train_accuracy``, ...); a diverged trial's hold ``diverged_step`` and
    ``diverged_lr``. ``attempts`` counts the times a worker started it. ``past_errors`` holds
    the ``{"error", "ended"}`` of each failure that ``--retry-failed`` put back in the queue;
    ``warnings`` the distinct warnings the trial raised, one line each (the first of each kind).

    Examples:
        >>> TrialRow("k", {"lr": 0.1}).status
        'pending'
    """

    key: str
    config: dict[str, Any]
    status: str = "pending"
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    wall_seconds: float | None = None
    train_seconds: float | None = None
    host: str | None = None
    started: str | None = None
    ended: str | None = None
    attempts: int = 0
    past_errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _number(value: Any) -> Any:
    """JSON has no NaN/inf: store them as None (SQLite REAL takes NULL)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _trial_row(r: tuple[Any, ...]) -> TrialRow:
    """A ``trials`` row (in :meth:`Store.trials`'s column order) as a :class:`TrialRow`."""
    metrics, past, warned = (json.loads(r[i]) if r[i] else None for i in (3, 11, 12))
    error, wall, train, host, started, ended, attempts = r[4:11]
    return TrialRow(
        r[0], json.loads(r[1]), r[2], metrics or {}, error, wall, train, host, started, ended,
        attempts, past or [], warned or [],
    )  # fmt: skip


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False, default=str)


class Store:
    """The SQLite store of one sweep (see the module docstring).

    Args:
        path: the database file (created with its tables when missing).

    Examples:
        >>> import tempfile, pathlib
        >>> s = Store(pathlib.Path(tempfile.mkdtemp()) / "sweep.sqlite")
        >>> s.stored_spec() is None, s.trials()
        (True, [])
        >>> s.close()
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        self._db.execute("PRAGMA busy_timeout = 30000")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.executescript(_SCHEMA)
        have = {row[1] for row in self._db.execute("PRAGMA table_info(trials)")}
        for column in (c for c in _ADDED_COLUMNS if c not in have):  # an older sweep file
            try:
                self._write(f"ALTER TABLE trials ADD COLUMN {column} TEXT")
            except sqlite3.OperationalError as err:  # another process added it meanwhile
                if "duplicate column" not in str(err):
                    raise

    def _write(self, sql: str, rows: list[tuple[Any, ...]] | tuple[Any, ...] = ()) -> int:
        """Run one statement (or one per row) in its own transaction; return rows changed."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            if isinstance(rows, list):
                changed = db.executemany(sql, rows).rowcount
            else:
                changed = db.execute(sql, rows).rowcount
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return changed

    def stored_spec(self) -> dict[str, Any] | None:
        """The spec JSON saved by :meth:`save_spec`, or None for a new sweep.

        Examples:
            >>> import tempfile; from pathlib import Path
            >>> from mlplab.sweep import spec_from_options
            >>> s = Store(Path(tempfile.mkdtemp()) / "sweep.sqlite")
            >>> s.stored_spec() is None
            True
            >>> s.save_spec(spec_from_options(["lr=0.1,0.01"], ["epochs=1"]))
            >>> s.stored_spec()["fixed"], s.stored_spec()["swept"]
            ({'epochs': 1}, ['lr'])
            >>> s.close()
        """
        row = self._db.execute("SELECT json FROM spec WHERE id = 1").fetchone()
        return None if row is None else json.loads(row[0])

    def check_spec(self, spec: Spec) -> None:
        """Refuse a spec whose fixed options differ from the stored spec's.

        Raises:
            SpecError: naming the first differing fixed option and both values.

        Examples:
            >>> import tempfile; from pathlib import Path
            >>> from mlplab.sweep import spec_from_options
            >>> s = Store(Path(tempfile.mkdtemp()) / "sweep.sqlite")
            >>> s.save_spec(spec_from_options(["lr=0.1"], ["epochs=1"]))
            >>> s.check_spec(spec_from_options(["lr=0.1,0.01"], ["epochs=1"]))  # a grid may grow
            >>> s.check_spec(spec_from_options(["lr=0.1"], ["epochs=2"]))  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            mlplab.sweep.options.SpecError: fixed option epochs: this spec has 2, ... has 1; ...
            >>> s.close()
        """
        stored = self.stored_spec()
        if stored is None:
            return
        old, new = stored.get("fixed", {}), spec.to_json()["fixed"]
        for key in sorted(set(old) | set(new)):
            if old.get(key, "(unset)") != new.get(key, "(unset)"):
                raise SpecError(
                    f"fixed option {key}: this spec has {new.get(key, '(unset)')!r}, the sweep "
                    f"in {self.path.parent} has {old.get(key, '(unset)')!r}; use another --out "
                    "or the stored value"
                )

    def save_spec(self, spec: Spec) -> None:
        """Store the spec (after :meth:`check_spec`; a grid that grew replaces the old one).

        Examples:
            >>> import tempfile; from pathlib import Path
            >>> from mlplab.sweep import spec_from_options
            >>> s = Store(Path(tempfile.mkdtemp()) / "sweep.sqlite")
            >>> s.save_spec(spec_from_options(["lr=0.1"], []))
            >>> s.save_spec(spec_from_options(["lr=0.1,0.01"], []))
            >>> s.stored_spec()["grid"]
            [{'lr': [0.1, 0.01]}]
            >>> s.close()
        """
        self._write(
            "INSERT OR REPLACE INTO spec (id, json) VALUES (1, ?)", (_dumps(spec.to_json()),)
        )

    def add_trials(self, trials: list[Trial]) -> int:
        """Insert the trials whose keys are new, as pending; return how many were new.

        Examples:
            >>> import tempfile; from pathlib import Path
            >>> from mlplab.sweep import spec_from_options
            >>> s = Store(Path(tempfile.mkdtemp()) / "sweep.sqlite")
            >>> s.add_trials(spec_from_options(["lr=0.1"], []).trials())
            1
            >>> s.add_trials(spec_from_options(["lr=0.1,0.01"], []).trials())  # lr=0.1 is there
            1
            >>> [t.config["flags"]["lr"] for t in s.trials()], s.counts()["pending"]
            ([0.1, 0.01], 2)
            >>> s.close()
        """
        start = self._db.execute("SELECT COALESCE(MAX(position), -1) + 1 FROM trials").fetchone()[0]
        rows = [(t.key, start + i, _dumps(t.config)) for i, t in enumerate(trials)]
        return self._write(
            "INSERT OR IGNORE INTO trials (key, position, config) VALUES (?, ?, ?)", rows
        )

    def requeue_running(self) -> int:
        """Send the trials left ``running`` (by a coordinator that died) back to pending.

        Examples:
            >>> import tempfile; from pathlib import Path
            >>> from mlplab.sweep import spec_from_options
            >>> s = Store(Path(tempfile.mkdtemp()) / "sweep.sqlite")
            >>> _ = s.add_trials(spec_from_options(["lr=0.1,0.01"], []).trials())
            >>> s.mark_running(s.trials()[0].key)
            >>> s.requeue_running(), s.counts()["pending"]
            (1, 2)
            >>> s.close()
        """
        return self._write("UPDATE trials SET status = 'pending' WHERE status = 'running'")

    def retry_failed(self, keys: set[str] | None = None) -> int:
        """Send ``failed`` trials (those in ``keys``, or all) back to pending; return how many.

        Each one's error and end time are appended to its ``past_errors``; its error, metrics
        and epoch rows are cleared, its ``attempts`` keep counting.

        Examples:
            >>> import tempfile; from pathlib import Path
            >>> from mlplab.sweep import spec_from_options
            >>> from mlplab.sweep.trial import TrialResult
            >>> s = Store(Path(tempfile.mkdtemp()) / "sweep.sqlite")
            >>> _ = s.add_trials(spec_from_options(["lr=0.1"], []).trials())
            >>> s.record(s.trials()[0].key, TrialResult("failed", error="OSError: disk", ended="t"))
            >>> s.retry_failed(), s.trials()[0].status, s.trials()[0].past_errors
            (1, 'pending', [{'ended': 't', 'error': 'OSError: disk'}])
            >>> s.close()
        """
        rows = self._db.execute(
            "SELECT key, error, ended, past_errors FROM trials WHERE status = 'failed'"
        ).fetchall()
        updates = [
            (_dumps([*json.loads(past or "[]"), {"error": error, "ended": ended}]), key)
            for key, error, ended, past in rows
            if keys is None or key in keys
        ]
        if not updates:
            return 0
        self._write(
            "UPDATE trials SET status = 'pending', past_errors = ?, error = NULL, metrics = NULL, "
            "ended = NULL WHERE key = ?",
            updates,
        )
        self._write("DELETE FROM epochs WHERE key = ?", [(key,) for _, key in updates])
        return len(updates)

    def mark_running(self, key: str, host: str | None = None) -> None:
        """Mark a trial as running (submitted to a worker) and count the attempt.

        Examples:
            >>> import tempfile; from pathlib import Path
            >>> from mlplab.sweep import spec_from_options
            >>> s = Store(Path(tempfile.mkdtemp()) / "sweep.sqlite")
            >>> _ = s.add_trials(spec_from_options(["lr=0.1"], []).trials())
            >>> key = s.trials()[0].key
            >>> s.mark_running(key, host="node1:4242"); s.mark_running(key, host="node1:4242")
            >>> row = s.trials()[0]
            >>> row.status, row.host, row.attempts
            ('running', 'node1:4242', 2)
            >>> s.close()
        """
        self._write(
            "UPDATE trials SET status = 'running', host = ?, attempts = attempts + 1, "
            "started = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE key = ?",
            (host, key),
        )

    def mark_pending(self, key: str) -> None:
        """Put a trial back in the queue (its worker died; it runs again).

        Examples:
            >>> import tempfile; from pathlib import Path
            >>> from mlplab.sweep import spec_from_options
            >>> s = Store(Path(tempfile.mkdtemp()) / "sweep.sqlite")
            >>> _ = s.add_trials(spec_from_options(["lr=0.1"], []).trials())
            >>> key = s.trials()[0].key
            >>> s.mark_running(key); s.mark_pending(key)
            >>> s.trials()[0].status, s.trials()[0].attempts  # the attempt still counts
            ('pending', 1)
            >>> s.close()
        """
        self._write("UPDATE trials SET status = 'pending' WHERE key = ?", (key,))

    def record(self, key: str, result: TrialResult) -> None:
        """Record a trial's result and its epoch rows in one transaction.

        NaN and infinite metrics are stored as None (JSON and SQLite have no NaN).

        Examples:
            >>> import tempfile; from pathlib import Path
            >>> from mlplab.sweep import spec_from_options
            >>> s = Store(Path(tempfile.mkdtemp()) / "sweep.sqlite")
            >>> from mlplab.sweep.trial import TrialResult
            >>> _ = s.add_trials(spec_from_options(["lr=0.1"], []).trials())
            >>> key = s.trials()[0].key
            >>> metrics = {"diverged_step": 7, "train_loss": float("nan")}
            >>> s.record(key, TrialResult("diverged", metrics, [{"epoch": 1, "train_loss": 2.3}]))
            >>> row = s.trials()[0]
            >>> row.status, row.metrics
            ('diverged', {'diverged_step': 7, 'train_loss': None})
            >>> s.close()
        """
        metrics = {k: _number(v) for k, v in result.metrics.items()}
        epochs = [(key, *(_number(row.get(k)) for k in EPOCH_KEYS)) for row in result.epochs]
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM epochs WHERE key = ?", (key,))
            db.executemany(f"INSERT INTO epochs (key, {', '.join(EPOCH_KEYS)}) VALUES "
                           "(?, ?, ?, ?, ?, ?, ?)", epochs)  # fmt: skip
            db.execute(
                "UPDATE trials SET status = ?, metrics = ?, error = ?, wall_seconds = ?, "
                "train_seconds = ?, host = ?, started = ?, ended = ?, warnings = ? WHERE key = ?",
                (result.status, _dumps(metrics), result.error, result.wall_seconds,
                 result.train_seconds, result.host, result.started, result.ended,
                 _dumps(list(getattr(result, "warnings", ()))), key),
            )  # fmt: skip
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def trials(self, status: str | None = None) -> list[TrialRow]:
        """The trial rows in the order they were added, all or those with ``status``.

        Raises:
            ValueError: for a status that is not one of :data:`STATUSES`.

        Examples:
            >>> import tempfile; from pathlib import Path
            >>> from mlplab.sweep import spec_from_options
            >>> s = Store(Path(tempfile.mkdtemp()) / "sweep.sqlite")
            >>> _ = s.add_trials(spec_from_options(["lr=0.1,0.01"], []).trials())
            >>> s.mark_running(s.trials()[1].key)
            >>> [t.config["flags"] for t in s.trials("running")]
            [{'lr': 0.01}]
            >>> s.trials("done")
            Traceback (most recent call last):
            ...
            ValueError: status 'done': expected one of pending, running, finished, diverged, failed
            >>> s.close()
        """
        if status is not None and status not in STATUSES:
            raise ValueError(f"status {status!r}: expected one of {', '.join(STATUSES)}")
        sql = ("SELECT key, config, status, metrics, error, wall_seconds, train_seconds, host, "
               "started, ended, attempts, past_errors, warnings FROM trials")  # fmt: skip
        args: tuple[Any, ...] = ()
        if status is not None:
            sql, args = sql + " WHERE status = ?", (status,)
        rows = self._db.execute(sql + " ORDER BY position", args).fetchall()
        return [_trial_row(r) for r in rows]

    def epochs(self, key: str) -> list[dict[str, Any]]:
        """A trial's per-epoch rows (``epoch``, train/val loss and accuracy, ``lr``).

        Examples:
            >>> import tempfile; from pathlib import Path
            >>> from mlplab.sweep import spec_from_options
            >>> s = Store(Path(tempfile.mkdtemp()) / "sweep.sqlite")
            >>> from mlplab.sweep.trial import TrialResult
            >>> _ = s.add_trials(spec_from_options(["lr=0.1"], []).trials())
            >>> key = s.trials()[0].key
            >>> s.epochs(key)  # nothing recorded yet
            []
            >>> s.record(key, TrialResult("finished", {}, [{"epoch": 1, "val_accuracy": 0.9}]))
            >>> s.epochs(key)[0]["val_accuracy"], s.epochs(key)[0]["train_loss"]
            (0.9, None)
            >>> s.close()
        """
        rows = self._db.execute(
            f"SELECT {', '.join(EPOCH_KEYS)} FROM epochs WHERE key = ? ORDER BY epoch", (key,)
        ).fetchall()
        return [dict(zip(EPOCH_KEYS, r, strict=True)) for r in rows]

    def counts(self) -> dict[str, int]:
        """How many trials have each status (every status present, zeros included).

        Examples:
            >>> import tempfile; from pathlib import Path
            >>> from mlplab.sweep import spec_from_options
            >>> s = Store(Path(tempfile.mkdtemp()) / "sweep.sqlite")
            >>> _ = s.add_trials(spec_from_options(["lr=0.1,0.01,0.001"], []).trials())
            >>> s.mark_running(s.trials()[0].key)
            >>> s.counts()
            {'pending': 2, 'running': 1, 'finished': 0, 'diverged': 0, 'failed': 0}
            >>> s.close()
        """
        counts = dict.fromkeys(STATUSES, 0)
        for status, n in self._db.execute("SELECT status, COUNT(*) FROM trials GROUP BY status"):
            counts[status] = n
        return counts

    def close(self) -> None:
        """Close the database.

        Examples:
            >>> import tempfile; from pathlib import Path
            >>> s = Store(Path(tempfile.mkdtemp()) / "sweep.sqlite")
            >>> s.close()
            >>> s.counts()
            Traceback (most recent call last):
            ...
            sqlite3.ProgrammingError: Cannot operate on a closed database.
        """
        self._db.close()
