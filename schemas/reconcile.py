"""Import reconciliation: every source row accounted for, per file (imported, merged, or not imported and why).

A data manager signs that the registry holds what the site sent. For each file of an import the reconciliation
says how many rows were read and what became of each group of them: ``imported`` (one record per row),
``merged`` (several rows make a record, or the rows give values to other records: DS dates, TR diameters, SUPP--
qualifiers) or ``not imported`` with the reason. It is printed by ``tkitrack import`` and kept, with every file's
SHA-256, in the audit entry of the import (:func:`import_entry`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from tkitrack.schemas.sdtm_clinical import CLINICAL_DOMAINS, left_out
from tkitrack.schemas.sdtm_tumour import EVALUATORS_SDTM, evaluator_status, nodal_lesions, text

__all__ = ["COLUMNS", "file_sha256", "import_entry", "reconcile_sdtm", "reconcile_template"]

#: One row per file and group: the file, its rows read, the group's rows, what became of them, into which
#: record type (and how many records), and why.
COLUMNS = ["file", "sha256", "rows_read", "rows", "outcome", "record", "records", "reason"]
_ALL_HINT = "use --evaluator ALL to keep them"
#: TR test codes a sum of diameters is made of (see :func:`tkitrack.schemas.sdtm_tumour.assessments_from_sdtm`).
_SUM_CODES = ("SUMDIAM", "DIAMETER", "LDIAM", "LPERP")


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes (hex), read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _row(file: str, path: str | None, read: int, rows: int, outcome: str, record: str = "", records: int | None = None,
         reason: str = "") -> dict:  # fmt: skip
    return {"file": file, "sha256": file_sha256(path) if path and Path(path).is_file() else "", "rows_read": read,
            "rows": rows, "outcome": outcome, "record": record, "records": records, "reason": reason}  # fmt: skip


def reconcile_template(raws: dict[str, pd.DataFrame], sources: dict[str, str], counts: dict[str, int]) -> pd.DataFrame:
    """A template or export import: each row of each file is one record (the import is all-or-nothing)."""
    rows = []
    for record, raw in raws.items():
        where = sources.get(record, record)
        path = where.split("!", 1)[0]  # a workbook sheet: folder/site.xlsx!ae
        rows.append(_row(where, path, len(raw), len(raw), "imported", record, counts.get(record, 0)))
    return pd.DataFrame(rows, columns=COLUMNS)


def _evaluator_groups(status: pd.Series, domain: str) -> list[tuple[int, str, pd.Series]]:
    """(rows, reason, mask) of each group of rows left out by evaluator."""
    out = []
    for value, count in status[status != ""].value_counts(sort=False).items():
        kind, given = value.split(" ", 1)
        mask = status == value
        if kind == "not":  # "not accepted <EVAL>"
            given = given.removeprefix("accepted ")
            why = f"of evaluator {given}: not imported; not the accepted read ({domain}ACPTFL is not Y)"
        elif given.upper() in EVALUATORS_SDTM:
            why = f"of evaluator {given}: not imported; {_ALL_HINT}"
        else:
            known = ", ".join(sorted(EVALUATORS_SDTM))
            why = f"of evaluator {given}: not imported; not an evaluator tkitrack knows ({known})"
        out.append((int(count), why, mask))
    return out


def _domain_groups(domain: str, frame: pd.DataFrame, records: dict[str, pd.DataFrame], evaluators: tuple[str, ...],
                   exact: bool, tu: pd.DataFrame | None) -> pd.Series:  # fmt: skip
    """What became of each row of one domain: a label "outcome|record|reason" per row."""
    n = len(frame)
    label = pd.Series("", index=frame.index, dtype=object)
    if domain == "DM":
        return label.mask(label == "", "imported|patient|")
    if domain == "EX":
        return label.mask(label == "", "imported|exposure|")
    if domain == "AE":
        kind = "imported" if len(records.get("ae", [])) == n else "merged"
        return label.mask(label == "", f"{kind}|ae|")
    if domain == "DS":
        return label.mask(label == "", "merged|patient, followup|randomisation, death and last-contact dates")
    if domain in ("RS", "TR", "TU"):
        _, status = evaluator_status(frame, domain, evaluators, keep_blank=exact)
        for _count, why, mask in _evaluator_groups(status, domain):
            label = label.mask(mask & (label == ""), f"not imported||{why}")
        kept = label == ""
        if domain == "TU":
            return label.mask(kept, "merged|assessment|lesion sites (nodal or not) and method of the sums")
        code = text(frame[f"{domain}TESTCD"]).str.upper()
        if domain == "RS":
            used = code.isin(["OVRLRESP", "TRGRESP", "NTRGRESP", "NEWLPROG"])
            label = label.mask(kept & used, "merged|assessment|responses by subject, evaluator and date")
            for c in sorted(set(code[kept & ~used])):
                label = label.mask(kept & (code == c), f"not imported||of RSTESTCD {c}: not imported; not a response "
                                                       "tkitrack keeps")  # fmt: skip
            return label
        group = text(frame["TRGRPID"]).str.upper() if "TRGRPID" in frame.columns else pd.Series("", index=frame.index)
        target = group.isin(["TARGET", ""])
        nodal = nodal_lesions(frame, tu)
        summed = code.isin(["SUMDIAM", "DIAMETER"]) | ((code == "LDIAM") & ~nodal) | ((code == "LPERP") & nodal)
        label = label.mask(kept & ~target, "not imported||of non-target lesions: not imported; tkitrack keeps the sum "
                                           "of the target lesions (the non-target response comes from RS NTRGRESP)")  # fmt: skip
        label = label.mask(kept & target & summed, "merged|assessment|sum of target-lesion diameters")
        other = kept & target & ~summed
        label = label.mask(other & code.isin(_SUM_CODES), "not imported||of the short axis of a non-nodal lesion or "
                                                           "the longest diameter of a nodal one: not imported; a RECIST "
                                                           "sum does not use them")  # fmt: skip
        for c in sorted(set(code[other & ~code.isin(_SUM_CODES)])):
            label = label.mask(other & (code == c), f"not imported||of TRTESTCD {c}: not imported; not a measurement "
                                                    "tkitrack keeps")  # fmt: skip
        return label
    if domain in CLINICAL_DOMAINS:
        why = left_out(domain, frame)
        return ("not imported||" + why).mask(why == "", f"imported|{CLINICAL_DOMAINS[domain]}|")
    if domain.startswith("SUPP"):
        record = CLINICAL_DOMAINS.get(domain[4:], domain[4:].lower())
        return label.mask(label == "", f"merged|{record}|supplemental qualifiers of {domain[4:]}")
    if domain == "VS":
        return label.mask(label == "", "merged|patient|height and weight")
    if domain == "SS":
        return label.mask(label == "", "merged|followup|subject status")
    return label.mask(label == "", f"not imported||of domain {domain}: not imported; not a domain tkitrack maps")


def reconcile_sdtm(domains: dict[str, pd.DataFrame], records: dict[str, pd.DataFrame], *,
                   evaluators: tuple[str, ...] = ("INVESTIGATOR",), exact: bool = False) -> pd.DataFrame:  # fmt: skip
    """An SDTM import: per file, its rows grouped by what became of them (see the module doc).

    ``domains`` as :func:`tkitrack.schemas.sdtm.read_sdtm` read them (``attrs`` name each domain's files),
    ``records`` the records they were mapped to, ``evaluators`` and ``exact`` as given to the mapping. The rows
    of every file add up to the rows read (rows of a subject taken from another file of the domain included).
    """
    rows = []
    tu = domains.get("TU")
    for domain, frame in domains.items():
        attrs = frame.attrs or {}
        kept = attrs.get("kept") or {attrs.get("files", [domain])[0]: len(frame)}
        paths = dict(zip(attrs.get("files", []), attrs.get("paths", []), strict=False))
        dropped = attrs.get("dropped", {})
        origin = np.repeat(list(kept), list(kept.values()))
        labels = _domain_groups(domain, frame, records, evaluators, exact, tu)
        for file in attrs.get("files", list(kept)):
            read = kept.get(file, 0) + dropped.get(file, 0)
            mine = labels[origin == file] if len(origin) == len(labels) else labels
            for value, count in mine.value_counts(sort=False).items():
                outcome, record, reason = value.split("|", 2)
                if outcome == "not imported":
                    reason = f"{count} {domain} rows {reason}"
                made = None
                if outcome == "imported" or record == "assessment":
                    made = len(records.get(record, [])) if record else None
                rows.append(_row(file, paths.get(file), read, int(count), outcome, record, made, reason))
            if dropped.get(file):
                rows.append(_row(file, paths.get(file), read, dropped[file], "not imported", "",
                                 None, f"{dropped[file]} {domain} rows of subjects whose {domain} rows come from a "
                                       "more specific file of the folder: not imported"))  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


def import_entry(reconciliation: pd.DataFrame, *, source: str, kind: str) -> dict:
    """The audit entry of an import (action ``import``): its files with their SHA-256 and the reconciliation."""
    table = reconciliation.replace({np.nan: None})
    files = []
    for file, part in table.groupby("file", sort=False):
        first = part.iloc[0]
        groups = [{k: (int(v) if isinstance(v, np.integer | float) and v == v else v)
                   for k, v in g.items() if k in ("rows", "outcome", "record", "records", "reason")}
                  for g in part.to_dict("records")]  # fmt: skip
        files.append({"file": file, "sha256": first["sha256"], "rows_read": int(first["rows_read"]), "groups": groups})
    digest = hashlib.sha256("".join(f["sha256"] for f in files).encode()).hexdigest()
    detail = {"source": source, "kind": kind, "files": files}
    return {"action": "import", "table_name": "import", "record_id": digest[:16], "patient_id": None, "field": "*",
            "old_value": None, "new_value": json.dumps(detail, ensure_ascii=False, sort_keys=False),
            "reason": f"import of {source} ({kind})"}  # fmt: skip
