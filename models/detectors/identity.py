"""Detectors of disagreements between the LMS and HR about who someone is: orphan, mismatched and
duplicate accounts."""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import pandas as pd

from models.detectors.base import Columns, Detector, Proposal, columns, merge_reads, records
from models.detectors.common import (
    PERSON_NAME_READS,
    account_labels,
    as_of_ts,
    label,
    person_names,
    utc,
)
from models.detectors.constraints import Constraint, Interval
from models.snapshot import Snapshot


def _norm_email(series: pd.Series) -> pd.Series:
    """Emails compared the way the reference rule says: trimmed, case-insensitive."""
    return series.astype("string").str.strip().str.casefold()


class OrphanAccountDetector(Detector):
    """Active LMS accounts HR does not vouch for: unlinked, linked to nobody, or to a leaver."""

    name = "orphan_account"
    version = "1.0"
    categories = ("orphan_account",)
    requires = ("people", "lms_users")
    reads: ClassVar[dict[str, Columns]] = {
        "lms_users": columns("user_id", "status", "person_id", optional=("email", "last_login_at")),
        "people": columns(
            "person_id", "employment_status", "full_name", optional=("termination_date",)
        ),
    }
    parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **Detector.parameter_constraints,
        "score_unlinked": [Interval(Real, 0, 1)],
        "score_unknown_person": [Interval(Real, 0, 1)],
        "score_terminated": [Interval(Real, 0, 1)],
    }

    def __init__(
        self,
        *,
        score_unlinked: float = 0.6,
        score_unknown_person: float = 0.75,
        score_terminated: float = 0.9,
        max_evidence_rows: int = 10,
    ) -> None:
        self.score_unlinked = score_unlinked
        self.score_unknown_person = score_unknown_person
        self.score_terminated = score_terminated
        self.max_evidence_rows = max_evidence_rows

    def _detect(self, snapshot: Snapshot) -> Iterable[Proposal]:
        users = snapshot["lms_users"]
        people = snapshot["people"]
        active = users[users["status"].astype(str) == "active"]
        merged = active.merge(
            people.add_prefix("hr_"),
            how="left",
            left_on="person_id",
            right_on="hr_person_id",
        )
        unlinked = merged["person_id"].isna()
        # A link to a person quarantine set aside is a link to someone, not to nobody.
        held = (
            merged["person_id"].astype("str").isin(snapshot.set_aside_values("people", "person_id"))
        )
        unknown = ~unlinked & merged["hr_person_id"].isna() & ~held
        terminated = merged["hr_employment_status"].astype(str).eq("terminated") & ~unknown
        hits = merged[unlinked | unknown | terminated].copy()
        if hits.empty:
            return []
        hits["reason"] = np.select(
            [unlinked[hits.index], unknown[hits.index]],
            ["unlinked", "unknown_person"],
            default="terminated_person",
        )
        last_login = utc(hits["last_login_at"]) if "last_login_at" in hits else None
        # A roster without termination dates still says who is terminated, not since when.
        term = pd.to_datetime(
            hits.get("hr_termination_date", pd.Series(pd.NaT, index=hits.index)),
            utc=True,
            errors="coerce",
        )
        # A leaver who still logs in is the case that matters most: someone uses the seat.
        login_after_leaving = (
            (last_login > term).fillna(False)
            if last_login is not None
            else pd.Series(False, index=hits.index)
        )
        days_since_leaving = (as_of_ts(snapshot) - term).dt.days
        accounts = label(hits["user_id"].astype(str), account_labels(snapshot)).to_numpy()
        out = []
        for row, used, days_gone, acct in zip(
            hits.to_dict("records"),
            login_after_leaving.to_numpy(dtype=bool),
            days_since_leaving.to_numpy(dtype=float, na_value=np.nan),
            accounts,
            strict=True,
        ):
            user = str(row["user_id"])
            # "LMS account Ada Lovelace (user U1)", or "LMS account of user U1" when the LMS
            # carries neither a name nor an e-mail for it.
            account = (
                f"LMS account {acct}" if not acct.startswith("user ") else f"LMS account of {acct}"
            )
            reason = row["reason"]
            if reason == "unlinked":
                score, severity = self.score_unlinked, "medium"
                title = f"{account} is active but linked to no HR person"
                why = "Active LMS user with an empty person link: HR cannot vouch for who uses it."
            elif reason == "unknown_person":
                score, severity = self.score_unknown_person, "medium"
                title = (
                    f"{account} is active but linked to person "
                    f"{row['person_id']}, who is not on the HR roster"
                )
                why = "The account's person link points to nobody HR knows."
            else:
                score = min(1.0, self.score_terminated + (0.1 if used else 0.0))
                severity = "critical" if used else "high"
                when = row.get("hr_termination_date")
                left = f", who left on {pd.Timestamp(when).date()}" if pd.notna(when) else ""
                title = (
                    f"{account} is still active though "
                    f"{row['hr_full_name']} ({row['person_id']}) is terminated{left}"
                )
                why = "Active account of a terminated employee" + (
                    "; it was used after the termination date." if used else "."
                )
            evidence: dict[str, object] = {
                "lms_users": records(
                    pd.DataFrame([{k: v for k, v in row.items() if not k.startswith("hr_")}]), 1
                )
            }
            if reason == "terminated_person":
                hr = {k[3:]: v for k, v in row.items() if k.startswith("hr_")}
                evidence["people"] = records(pd.DataFrame([hr]), 1)
            out.append(
                self._proposal(
                    category="orphan_account",
                    entity_key=f"user={user}",
                    title=title,
                    score=score,
                    severity=severity,
                    evidence=evidence,
                    features={
                        "unlinked": reason == "unlinked",
                        "unknown_person": reason == "unknown_person",
                        "terminated_person": reason == "terminated_person",
                        "login_after_termination": bool(used),
                        "days_since_termination": days_gone,
                    },
                    explanation=why,
                )
            )
        return out


class RecordMismatchDetector(Detector):
    """A linked LMS account whose email is not the email HR has for the person."""

    name = "record_mismatch"
    version = "1.0"
    categories = ("record_mismatch",)
    requires = ("people", "lms_users")
    reads: ClassVar[dict[str, Columns]] = {
        "lms_users": columns("user_id", "person_id", "email", "status"),
        "people": columns("person_id", "email", "full_name"),
    }
    parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **Detector.parameter_constraints,
        "score_active": [Interval(Real, 0, 1)],
        "score_inactive": [Interval(Real, 0, 1)],
    }

    def __init__(
        self,
        *,
        score_active: float = 0.7,
        score_inactive: float = 0.5,
        max_evidence_rows: int = 10,
    ) -> None:
        self.score_active = score_active
        self.score_inactive = score_inactive
        self.max_evidence_rows = max_evidence_rows

    def _detect(self, snapshot: Snapshot) -> Iterable[Proposal]:
        users = snapshot["lms_users"]
        people = snapshot["people"][["person_id", "email", "full_name"]]
        merged = users[users["person_id"].notna()].merge(
            people.rename(columns={"email": "hr_email", "full_name": "hr_full_name"}),
            on="person_id",
            how="inner",
        )
        differs = _norm_email(merged["email"]).ne(_norm_email(merged["hr_email"])).fillna(False)
        hits = merged[differs.astype(bool)]
        # The LMS's own name of the account, where the source carries one.
        named = {
            str(u): f" ({n})"
            for u, n in zip(hits["user_id"], hits.get("full_name", []), strict=False)
            if pd.notna(n) and str(n).strip()
        }
        out = []
        for row in hits.to_dict("records"):
            active = str(row["status"]) == "active"
            out.append(
                self._proposal(
                    category="record_mismatch",
                    entity_key=f"user={row['user_id']}",
                    title=(
                        f"User {row['user_id']}{named.get(str(row['user_id']), '')} has email "
                        f"{row['email']} in the LMS but HR has {row['hr_email']} for "
                        f"{row['hr_full_name']} ({row['person_id']})"
                    ),
                    score=self.score_active if active else self.score_inactive,
                    severity="medium" if active else "low",
                    evidence={
                        "lms_users": records(
                            pd.DataFrame(
                                [{k: v for k, v in row.items() if not k.startswith("hr_")}]
                            ),
                            1,
                        ),
                        "people": [
                            {
                                "person_id": row["person_id"],
                                "email": row["hr_email"],
                                "full_name": row["hr_full_name"],
                            }
                        ],
                    },
                    features={"user_active": active},
                    explanation=(
                        "The LMS and HR disagree on this person's email (compared trimmed and "
                        "case-insensitively), so messages and reports may reach the wrong place."
                    ),
                )
            )
        return out


class DuplicateAccountDetector(Detector):
    """Several active LMS accounts linked to the same person."""

    name = "duplicate_account"
    version = "1.0"
    categories = ("duplicate_account",)
    requires = ("people", "lms_users")
    reads: ClassVar[dict[str, Columns]] = merge_reads(
        {"lms_users": columns("user_id", "status", "person_id")}, PERSON_NAME_READS
    )
    parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **Detector.parameter_constraints,
        "min_accounts": [Interval(Integral, 2, None)],
    }

    def __init__(self, *, min_accounts: int = 2, max_evidence_rows: int = 10) -> None:
        self.min_accounts = min_accounts
        self.max_evidence_rows = max_evidence_rows

    def _detect(self, snapshot: Snapshot) -> Iterable[Proposal]:
        users = snapshot["lms_users"]
        active = users[(users["status"].astype(str) == "active") & users["person_id"].notna()]
        counts = active.groupby("person_id", sort=False, observed=True)["user_id"].transform("size")
        dup = active[counts >= self.min_accounts]
        if dup.empty:
            return []
        names = person_names(snapshot)
        out = []
        for person, group in dup.groupby("person_id", sort=True, observed=True):
            n = len(group)
            who = names.get(person, None)
            who_s = f"{who} ({person})" if who is not None else f"Person {person}"
            ids = ", ".join(group["user_id"].astype(str).head(5))
            out.append(
                self._proposal(
                    category="duplicate_account",
                    entity_key=f"person={person}",
                    title=f"{who_s} has {n} active LMS accounts ({ids})",
                    score=min(1.0, 0.6 + 0.15 * (n - 2)),
                    severity="high" if n >= 3 else "medium",
                    evidence={"lms_users": records(group, self.max_evidence_rows)},
                    features={"active_accounts": n},
                    explanation=(
                        f"{n} active accounts share one HR person: progress and compliance are "
                        "split between them."
                    ),
                )
            )
        return out
