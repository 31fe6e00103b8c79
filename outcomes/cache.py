"""Derived datasets computed once per data version: kept in memory for a run and on disk between runs.

A command asks :class:`Derived` for what it needs (``adam()``, ``endpoint("PFS")``, ``swimmer(...)``, or any
derivation through :meth:`Derived.get`); each product is computed at most once per run, and, for a database,
kept on disk under a key that names

- the database (its URL, password removed),
- the data version: the audit chain head (position and hash). Every write to the records appends audit entries
  and so moves the head; the hash covers the whole trail, so two different histories never share a head,
- the schema revision, tkitrack's derivation code (a digest of ``outcomes/`` and ``schemas/`` sources and
  vocabularies) and the pandas/numpy versions,
- the derivation's name and every option it was called with, and the data cut-off and index drug the
  ``Derived`` was made for (records are cut at the cut-off before any derivation).

A changed database therefore misses the cache (never serves numbers of an older version), and a different option
is a different entry. The head is read before and after the records are read; when a write landed in between
the products are not stored. Entries are Parquet files and JSON (no pickle: nothing in the cache directory can run
code): a frame, a mapping of frames, a tkitrack dataclass of frames and scalars, or a tkitrack object that gives
its own ``cache_parts()`` (frames, JSON values) and reads them back with ``from_cache_parts``; only the newest
data version of each database is kept. The directory is ``$TKITRACK_CACHE_DIR``, else
``$XDG_CACHE_HOME/tkitrack``, else ``~/.cache/tkitrack``; ``TKITRACK_CACHE_DIR=off`` keeps products in memory
only (for the run).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["CACHE_ENV", "Derived", "cache_directory", "code_digest", "read_data_version"]

#: Environment variable naming the cache directory (``off`` disables the disk cache).
CACHE_ENV = "TKITRACK_CACHE_DIR"
_OFF = ("off", "0", "no", "none", "")
_CODE_DIGEST: str | None = None


def cache_directory() -> Path | None:
    """Where derived datasets are kept between runs, or None when the disk cache is off."""
    given = os.environ.get(CACHE_ENV)
    if given is not None:
        return None if given.strip().lower() in _OFF else Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tkitrack"


def code_digest() -> str:
    """A digest of the derivation code (``outcomes/``, ``schemas/`` sources and vocabularies) and library versions.

    A changed derivation (a new release, a local edit) must not read datasets an older one derived.
    """
    global _CODE_DIGEST
    if _CODE_DIGEST is None:
        import numpy

        import tkitrack.outcomes
        import tkitrack.schemas

        h = hashlib.sha256(f"pandas {pd.__version__} numpy {numpy.__version__}".encode())
        for package in (tkitrack.outcomes, tkitrack.schemas):
            root = Path(package.__file__).parent
            for path in sorted(root.rglob("*")):
                if path.suffix in (".py", ".csv", ".json") and "__pycache__" not in path.parts:
                    h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
        _CODE_DIGEST = h.hexdigest()
    return _CODE_DIGEST


def read_data_version(session) -> str:
    """The data version of the database behind ``session``: audit chain head position and hash, schema revision."""
    from alembic.runtime.migration import MigrationContext

    from tkitrack.schemas.audit import chain_head

    seq, digest = chain_head(session)

    revision = MigrationContext.configure(session.connection()).get_current_revision()
    return f"revision {revision}; audit head {seq} {digest}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def _options_key(name: str, options: Mapping[str, Any]) -> str:
    shown = json.dumps({k: options[k] for k in sorted(options)}, default=repr, sort_keys=True)
    return f"{name}-{_digest(name + shown)}"


class Derived:
    """The derived datasets of one database state (or of frames in hand), each computed at most once.

    Parameters
    ----------
    frames : mapping of record name to frame, optional
        Typed record frames already read (:func:`tkitrack.schemas.store.read_frames`); with them nothing is kept
        on disk (their version is unknown).
    engine : sqlalchemy.Engine, optional
        The database to read the records from, only when a product is not cached.
    directory : pathlib.Path, optional
        Cache directory (default :func:`cache_directory`; None with ``frames``).
    cutoff : datetime.date, optional
        Data cut-off: records dated after it are left out (:func:`tkitrack.outcomes.cutoff.derive_records_at_cutoff`)
        before anything is derived; part of every key.
    index_drug : str, optional
        The index therapy's drug (default: the first kinase-inhibitor course); part of every key.

    Examples
    --------
    >>> derived = Derived(engine=engine)                        # doctest: +SKIP
    >>> pfs = derived.endpoint("PFS")                            # doctest: +SKIP
    """

    def __init__(self, frames: Mapping[str, pd.DataFrame] | None = None, *, engine=None,
                 directory: Path | str | None = "default", cutoff: dt.date | None = None,
                 index_drug: str | None = None) -> None:  # fmt: skip
        if frames is None and engine is None:
            raise ValueError("Derived needs record frames or an engine to read them from")
        self.cutoff, self.index_drug = cutoff, index_drug
        self._frames = dict(frames) if frames is not None else None
        self._engine = engine
        self._memory: dict[str, Any] = {}
        self._courses = None  # SharedCourses of the records' exposure frame, once they are read
        self._adtte_part: dict[str, pd.DataFrame] | None = None  # ADTTE read back alone (see _adtte)
        self.hits: list[str] = []
        self.computed: list[str] = []
        self._folder: Path | None = None
        self._version: str | None = None
        if engine is not None and frames is None:
            root = cache_directory() if directory == "default" else (Path(directory) if directory else None)
            url = engine.url
            persistent = not (url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"))
            if root is not None and persistent:
                from tkitrack.schemas.storage import transaction

                with transaction(engine) as session:
                    self._version = read_data_version(session)
                db = _digest(url.render_as_string(hide_password=True))
                self._folder = root / db / _digest(f"{self._version}; code {code_digest()}")

    @property
    def version(self) -> str | None:
        """The data version the products belong to (None for frames in hand or without a disk cache)."""
        return self._version

    @property
    def frames(self) -> dict[str, pd.DataFrame]:
        """The typed record frames, read from the database the first time they are needed."""
        if self._frames is None:
            from tkitrack.schemas.storage import transaction
            from tkitrack.schemas.store import read_frames

            with transaction(self._engine) as session:
                frames = read_frames(session)
                if self._folder is not None and read_data_version(session) != self._version:
                    self._folder = None  # a write landed since the version was read: keep nothing on disk
            if self.cutoff is not None:
                from tkitrack.outcomes.cutoff import derive_records_at_cutoff

                frames = derive_records_at_cutoff(frames, self.cutoff)
            self._frames = frames
            trim_heap()  # reading leaves the driver's rows and the untyped chunks' pages free but resident
        return self._frames

    def get(self, name: str, compute: Callable[[dict[str, pd.DataFrame]], Any], **options: Any) -> Any:
        """``compute(frames)`` for ``name`` with ``options`` (part of the key), computed once per data version.

        ``compute`` must be a pure derivation of the records and the options: the cache serves its result for as
        long as the data version, the code and the options are the same.
        """
        key = self._key(name, options)
        if key in self._memory:
            return self._memory[key]
        value = self._read(key)
        if value is not None:
            self.hits.append(name)
        else:
            from tkitrack.outcomes.courses import SharedCourses

            frames = self.frames
            if self._courses is None or self._courses.exposure is not frames.get("exposure"):
                self._courses = SharedCourses(frames.get("exposure"))
            with self._courses:  # the courses and index therapy of the records, derived once for every product
                value = compute(frames)
            self.computed.append(name)
            self._write(key, value)
            trim_heap()  # the derivation's intermediates: free, but resident under the next one without this
        self._memory[key] = value
        return value

    def _key(self, name: str, options: Mapping[str, Any]) -> str:
        return _options_key(name, {"options": options, "records": {"cutoff": str(self.cutoff),
                                                                   "index_drug": self.index_drug}})  # fmt: skip

    @property
    def keeps_on_disk(self) -> bool:
        """Whether products are kept on disk (not for frames in hand, an in-memory database or
        ``TKITRACK_CACHE_DIR=off``)."""
        return self._folder is not None

    def stored(self, name: str, **options: Any) -> bool:
        """Whether ``name`` with ``options`` is kept on disk (it is read back, not derived, when asked for)."""
        return self._folder is not None and (self._folder / self._key(name, options) / "meta.json").exists()

    def release(self) -> None:
        """Let go of the products held in memory that are kept on disk (they are read back if asked for again);
        with no disk cache nothing is let go, so nothing is derived twice. A long run (the report) calls it
        between parts so that its peak memory is one part's, not the sum of all."""
        if self._folder is not None:
            self._memory = {k: v for k, v in self._memory.items() if not (self._folder / k / "meta.json").exists()}
            self._adtte_part = None

    # -- the derivations commands share -------------------------------------------------------------------------

    def adam(self, *, reference: str = "TRTSDT") -> dict[str, pd.DataFrame]:
        """ADSL, ADRS, ADTTE (:func:`tkitrack.outcomes.cohort.derive_adam_from_records`)."""
        from tkitrack.outcomes.cohort import derive_adam_from_records

        return self.get("adam", lambda f: derive_adam_from_records(f, reference=reference, index_drug=self.index_drug),
                        reference=reference)  # fmt: skip

    def _adtte(self) -> dict[str, pd.DataFrame]:
        """``{"adtte": ...}`` of :meth:`adam` (all the endpoints read): the ADaM in memory, else ADTTE alone from
        disk (a report lets go of the ADaM after its response section; ADRS has millions of rows), else
        :meth:`adam`."""
        key = self._key("adam", {"reference": "TRTSDT"})
        if key in self._memory:
            return self._memory[key]
        if self._adtte_part is None:
            part = self._read(key, only=("adtte",))
            if part is None:
                return self.adam()
            self.hits.append("adam")
            self._adtte_part = part
        return self._adtte_part

    def patient_attributes(self) -> pd.DataFrame:
        """:func:`tkitrack.outcomes.cohort.derive_patient_attributes`."""
        from tkitrack.outcomes.cohort import derive_patient_attributes

        return self.get("patient_attributes", derive_patient_attributes)

    def record_counts(self) -> dict[str, int]:
        """Rows of each record type (after the cut-off)."""
        counts = self.get(
            "record_counts", lambda f: pd.DataFrame({"record": list(f), "rows": [len(x) for x in f.values()]})
        )
        return {str(r): int(n) for r, n in zip(counts["record"], counts["rows"], strict=True)}

    def patient_notes(self) -> pd.DataFrame:
        """``patient_id, note`` of every patient: enough to say whether synthetic patients are pooled."""
        return self.get("patient_notes", lambda f: f["patient"][["patient_id", "note"]].reset_index(drop=True))

    def endpoint(self, code: str) -> pd.DataFrame:
        """``patient_id, time, event`` of an endpoint (:func:`tkitrack.outcomes.cohort.derive_endpoint`)."""
        from tkitrack.outcomes.cohort import ENDPOINTS, derive_endpoint

        key = code.upper()
        if key not in ENDPOINTS:
            return derive_endpoint({}, key)  # raises the unknown-endpoint error
        return self.get("endpoint", lambda f: derive_endpoint(f, key, adam=self._adtte()), code=key)

    def competing_endpoint(self, code: str) -> pd.DataFrame:
        """``patient_id, time, status`` (:func:`tkitrack.outcomes.endpoints.derive_competing_endpoint`)."""
        from tkitrack.outcomes.endpoints import COMPETING_ENDPOINTS, derive_competing_endpoint

        key = code.upper()

        def compute(f: dict[str, pd.DataFrame]) -> pd.DataFrame:
            if self.index_drug is not None or key not in COMPETING_ENDPOINTS:  # the default index therapy, as it
                return derive_competing_endpoint(f, key)  # always was; an unknown code raises before any work
            if key == "RELAPSE_AFTER_CR":  # the stopping cohort and the ADaM this Derived has (or derives) once
                return derive_competing_endpoint(f, key, cohort=self.stopping_cohort())
            return derive_competing_endpoint(f, key, adam=self._adtte())

        return self.get("competing_endpoint", compute, code=key)

    def stopping_cohort(self) -> pd.DataFrame:
        """:func:`tkitrack.outcomes.stopping.derive_stopping_cohort` of the records."""
        from tkitrack.outcomes.stopping import derive_stopping_cohort

        return self.get("stopping_cohort", lambda f: derive_stopping_cohort(
            f["exposure"], f["assessment"], f["disease_event"], f["followup"], index_drug=self.index_drug))  # fmt: skip

    def swimmer(self, *, origin: str = "diagnosis", ae_min_grade: int = 1):
        """:func:`tkitrack.outcomes.cohort.derive_swimmer_from_records` (lanes carry every grouping)."""
        from tkitrack.outcomes.cohort import derive_swimmer_from_records

        def compute(f: dict[str, pd.DataFrame]):
            data = derive_swimmer_from_records(f, origin=origin, ae_min_grade=ae_min_grade)
            for frame in (data.lanes, data.segments, data.markers):  # held while its figure is made: as small as
                shared_text(frame)  # when read back (a new str per marker's text and record id otherwise)
            return data

        return self.get("swimmer", compute, origin=origin, ae_min_grade=ae_min_grade)

    # -- the disk side ------------------------------------------------------------------------------------------

    def _read(self, key: str, only: tuple[str, ...] | None = None) -> Any:
        """The product kept under ``key``, or None; ``only``: just these frames of a mapping of frames."""
        if self._folder is None:
            return None
        folder = self._folder / key
        try:
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
            if only is not None and (meta["kind"] != "frames" or not set(only) <= set(meta["frames"])):
                return None
            parts = {name: shared_text(pd.read_parquet(folder / f"{i}.parquet"))
                     for i, name in enumerate(meta["frames"]) if only is None or name in only}  # fmt: skip
        except (OSError, ValueError, KeyError, ImportError):  # absent, half-removed or unreadable: derive again
            return None
        if meta["kind"] == "frame":
            return parts[meta["frames"][0]]
        if meta["kind"] == "frames":
            return parts
        if meta["kind"] in ("dataclass", "parts"):
            from importlib import import_module

            module, _, qualname = meta["type"].rpartition(".")
            if not module.startswith("tkitrack."):
                return None
            cls = getattr(import_module(module), qualname)
            if meta["kind"] == "parts":
                return cls.from_cache_parts(parts, meta["scalars"])
            return cls(**parts, **meta["scalars"])
        return None

    def _write(self, key: str, value: Any) -> None:
        if self._folder is None:
            return
        scalars: dict[str, Any] = {}
        if isinstance(value, pd.DataFrame):
            kind, parts = "frame", {"frame": value}
        elif isinstance(value, Mapping) and all(isinstance(v, pd.DataFrame) for v in value.values()):
            kind, parts = "frames", dict(value)
        elif hasattr(value, "cache_parts") and type(value).__module__.startswith("tkitrack."):
            kind = "parts"  # the object says how: (frames, JSON values), read back by its from_cache_parts
            parts, scalars = value.cache_parts()
        elif is_dataclass(value) and value.__module__.startswith("tkitrack."):
            kind, parts = "dataclass", {}
            for f in fields(value):
                item = getattr(value, f.name)
                if isinstance(item, pd.DataFrame):
                    parts[f.name] = item
                elif item is None or isinstance(item, (str, int, float, bool)):
                    scalars[f.name] = item
                else:
                    return  # not representable without pickle: memory only
        else:
            return
        meta = {"kind": kind, "frames": list(parts), "scalars": scalars,
                "type": f"{type(value).__module__}.{type(value).__qualname__}"}  # fmt: skip
        target = self._folder / key
        if target.exists():
            return
        tmp = None
        try:
            self._folder.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._drop_other_versions()
            self._folder.mkdir(exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=self._folder))
            for i, frame in enumerate(parts.values()):
                write_parquet(frame, tmp / f"{i}.parquet")
            (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
            os.replace(tmp, target)  # atomic: a reader sees the whole entry or none
        except (OSError, ValueError, TypeError, ImportError, _arrow_errors()):  # e.g. a full disk: memory only
            pass
        finally:
            if tmp is not None and tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def _drop_other_versions(self) -> None:
        assert self._folder is not None
        for other in self._folder.parent.iterdir():
            if other.is_dir() and other.name != self._folder.name:
                shutil.rmtree(other, ignore_errors=True)


def shared_text(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with equal text cells made one ``str`` object, in place; returns it.

    Parquet gives every cell of a text column its own ``str``: an id or coded value repeated over two million
    assessments costs two million objects, most of what a registry's derived datasets hold in memory. Only
    columns whose every present value is a ``str`` (object, or pandas' Python-backed ``string``) are shared;
    missing cells, dtypes and values are unchanged.
    """
    for i, (_, col) in enumerate(frame.items()):
        dtype = col.dtype
        python_string = isinstance(dtype, pd.StringDtype) and dtype.storage == "python"
        if len(col) < 2 or not (
            python_string or (pd.api.types.is_object_dtype(dtype) and pd.api.types.infer_dtype(col) == "string")
        ):
            continue
        values = col.to_numpy(dtype=object, copy=True)
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        if len(uniques) * 2 > len(values):
            continue  # mostly distinct: sharing saves nothing
        present = codes >= 0
        values[present] = np.asarray(uniques, dtype=object)[codes[present]]
        frame.isetitem(i, pd.Series(pd.array(values, dtype=dtype) if python_string else values, index=col.index))
    return frame


#: Rows converted to Arrow at a time when a long frame is written (:func:`write_parquet`): a registry's ADRS (2.25
#: million rows, 15 columns) rose 79 MiB above the frame while written in slices of 262,144 rows, 31 MiB in these,
#: in the same CPU time.
PARQUET_SLICE_ROWS = 65_536


def write_parquet(frame: pd.DataFrame, path: Path, *, rows: int = PARQUET_SLICE_ROWS) -> None:
    """``frame.to_parquet(path)``, converting ``rows`` rows to Arrow at a time: pandas converts the whole frame
    first (a registry's ADRS: 2.25 million rows of text, a copy as large as the frame on top of it).

    Read back with :func:`pandas.read_parquet` the file gives the frame ``to_parquet`` would have given: the same
    pandas metadata (the whole frame's), and the same Arrow type for every column, since every slice is converted
    with the type inference of the whole (a slice whose inferred type differs, other than a column of missing
    values only, makes the frame go through ``to_parquet`` whole). A frame of at most ``rows`` rows, or with an
    index other than the default ``RangeIndex``, a categorical column or ``attrs``, goes through ``to_parquet``.
    """
    index = frame.index
    plain = (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1 and index.name is None
             and not frame.attrs and frame.columns.is_unique
             and not any(isinstance(t, pd.CategoricalDtype) for t in frame.dtypes))  # fmt: skip
    if len(frame) <= rows or not plain or not _write_slices(frame, path, rows):
        frame.to_parquet(path)


def _write_slices(frame: pd.DataFrame, path: Path, rows: int) -> bool:
    """Write ``frame`` to ``path`` a slice at a time; False (and nothing at ``path``) when a slice's Arrow types
    differ from the first one's (then only ``to_parquet`` of the whole gives the whole's inference)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    first = pa.Table.from_pandas(frame.iloc[:rows], preserve_index=None)
    if any(pa.types.is_null(f.type) for f in first.schema):  # the first slice does not show the column's type
        return False
    meta = json.loads(first.schema.metadata[b"pandas"])
    ranges = [c for c in meta["index_columns"] if isinstance(c, dict) and c.get("kind") == "range"]
    if len(ranges) != 1 or len(meta["index_columns"]) != 1 or ranges[0]["start"] != 0 or ranges[0]["step"] != 1:
        return False
    ranges[0]["stop"] = len(frame)  # the whole frame's RangeIndex, as to_parquet describes it
    schema = first.schema.with_metadata({**first.schema.metadata, b"pandas": json.dumps(meta).encode("utf-8")})
    ok = True
    with pq.ParquetWriter(path, schema, compression="snappy") as writer:
        writer.write_table(first.replace_schema_metadata(schema.metadata))
        del first
        for start in range(rows, len(frame), rows):
            part = pa.Table.from_pandas(frame.iloc[start : start + rows], preserve_index=False)
            columns = []
            for field, column in zip(schema, part.columns, strict=True):
                if column.type != field.type:
                    if not pa.types.is_null(column.type):
                        ok = False  # e.g. integers in one slice, floats in another: the whole would be floats
                        break
                    column = pa.nulls(len(column), field.type)  # a slice of missing values only
                columns.append(column)
            if not ok:
                break
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))
            del part, columns
    if not ok:
        path.unlink()
    return ok


def trim_heap() -> None:
    """Hand the C heap's free pages back to the system (glibc's ``malloc_trim``; elsewhere nothing). A derivation's
    intermediates (millions of rows at registry scale) are freed when it returns, but glibc keeps their pages
    resident, under every later step: the process's peak would be the sum of high-water marks, not the largest."""
    import contextlib
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _arrow_errors() -> type[Exception]:
    try:
        import pyarrow

        return pyarrow.ArrowException
    except ImportError:  # pragma: no cover - pandas' parquet needs pyarrow
        return OSError
