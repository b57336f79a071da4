"""What one export tells about another's rows, joined when they are ingested together.

* A Moodle user list names users by username and by full name; a Moodle log names them by full
  name only. Given together, the log's users become the list's usernames (where the name is
  the list's, once), so their events belong to accounts with e-mail addresses.
* Canvas: teachers in ``enrollments.csv`` own their courses; ``terms.csv`` gives the courses of a
  term its dates; ``accounts.csv`` names the department of the courses in an account.
* E-mail provider events name a recipient's address; the LMS user with that address is the
  notification's user.

Each join says in a note what it did, for the conversion report.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from app.sources.convert import Conversion
from models.snapshot import NOT_CARRIED


def link_moodle_names(conversions: list[Conversion]) -> list[str]:
    """Rename Moodle log users (full names) to the usernames of a Moodle user list given too."""
    names: dict[str, str] = {}
    for conv in conversions:
        users = conv.tables.get("lms_users")
        if conv.format == "moodle-users" and users is not None and "full_name" in users:
            named = users.dropna(subset=["full_name"])
            unique = named[~named["full_name"].duplicated(keep=False)]
            names.update(zip(unique["full_name"], unique["user_id"], strict=True))
    notes: list[str] = []
    if not names:
        return notes
    for conv in conversions:
        users = conv.tables.get("lms_users")
        if conv.format != "moodle-log" or users is None or "full_name" not in users:
            continue
        matched = users["user_id"].isin(list(names))
        for table in ("lms_users", "activity"):
            frame = conv.tables[table]
            conv.tables[table] = frame.assign(
                user_id=frame["user_id"].map(names).fillna(frame["user_id"])
            )
        notes.append(
            f"{conv.shown}: {int(matched.sum()):,} of {len(users):,} users matched the Moodle "
            "user list by full name and took its username"
        )
    return notes


def link_email_addresses(conversions: list[Conversion]) -> list[str]:
    """Give e-mail events the LMS user whose address they name; drop the others (counted)."""
    addresses: dict[str, str] = {}
    for conv in conversions:
        users = conv.tables.get("lms_users")
        if users is not None and "email" in users:
            known = users.dropna(subset=["email"])
            for address, user in zip(known["email"].str.lower(), known["user_id"], strict=True):
                addresses.setdefault(address, user)
    notes = []
    for conv in conversions:
        sent = conv.tables.get("notifications")
        if sent is None or "recipient" not in sent or conv.problem is not None:
            continue
        user = sent["recipient"].map(addresses)
        unknown = int(user.isna().sum())
        if unknown:
            conv.dropped["messages to an address no LMS user has (give the LMS's user list "
                          "with e-mail addresses alongside)"] = unknown  # fmt: skip
        conv.tables["notifications"] = sent[user.notna()].assign(user_id=user[user.notna()])
        conv.judge()
        notes.append(f"{conv.shown}: {len(sent) - unknown:,} of {len(sent):,} messages went to an "
                     "LMS user's address")  # fmt: skip
    return notes


def join_extras(tables: dict[str, pd.DataFrame], conversions: list[Conversion]) -> list[str]:
    """Course owners, term dates and departments from Canvas files, into the merged courses."""
    extras: dict[str, pd.DataFrame] = {}
    for conv in conversions:
        for name, frame in conv.extras.items():
            extras[name] = pd.concat([extras[name], frame]) if name in extras else frame
    courses = tables.get("courses")
    if courses is None or not extras:
        return []
    notes = []
    owners = extras.get("course owners")
    if owners is not None:
        owner = courses["course_id"].map(
            owners.drop_duplicates("course_id").set_index("course_id")["owner_user_id"]
        )
        carried = "owner_user_id" in courses and not courses["owner_user_id"].isna().all()
        known = courses.get("owner_user_id", owner)
        courses["owner_user_id"] = known.fillna(owner)
        notes.append(f"{int(owner.notna().sum()):,} course(s) took their owner from a teacher")
        if not carried:
            # A course the enrolment files never name has an owner nobody told us about, not
            # none: unknown (absent is not empty), so it is not proposed as unowned.
            enrolled = tables.get("enrollments", pd.DataFrame({"course_id": []}))["course_id"]
            named = set(enrolled.astype("str")) | set(owners["course_id"].astype("str"))
            unnamed = ~courses["course_id"].astype("str").isin(named)
            courses = _not_carried(courses, unnamed.to_numpy(), "owner_user_id")
            if unnamed.any():
                notes.append(f"{int(unnamed.sum()):,} course(s) no enrolment file names: their "
                             "owner is unknown")  # fmt: skip
    terms = extras.get("term dates")
    if terms is not None and "term_id" in courses:
        dates = terms.drop_duplicates("term_id").set_index("term_id")
        for column in ("starts_at", "ends_at"):
            from_term = courses["term_id"].map(dates[column])
            courses[column] = courses[column].fillna(from_term) if column in courses else from_term
        notes.append(f"{int(courses['term_id'].isin(dates.index).sum()):,} course(s) took their "
                     "term's dates")  # fmt: skip
    accounts = extras.get("account names")
    if accounts is not None and "account_id" in courses:
        department = courses["account_id"].map(
            accounts.drop_duplicates("account_id").set_index("account_id")["name"]
        )
        known = courses.get("department", department)
        courses["department"] = known.fillna(department)
        notes.append(f"{int(department.notna().sum()):,} course(s) took their account's name "
                     "as department")  # fmt: skip
    tables["courses"] = courses
    return notes


def _not_carried(frame: pd.DataFrame, rows: np.ndarray, column: str) -> pd.DataFrame:
    """``frame`` with ``column`` added to the ``not_carried`` list of ``rows`` (True = unknown)."""
    if not rows.any():
        return frame
    names = frame.get(NOT_CARRIED, pd.Series("", index=frame.index)).astype("str").fillna("")
    add = pd.Series(rows, index=frame.index)
    frame[NOT_CARRIED] = names.where(~add, names.where(names == "", names + ";") + column)
    return frame
