"""scikit-learn anomaly detectors for ``engagement_anomaly``: course-weeks and learners-in-a-course.

Each item (a course-week, or a learner in a course) is described by a few engagement features.
Every feature is turned into robust z-scores twice: against the item's own history (the course's
other weeks) or its peers (the other learners of the course, the other courses that week). The
z-scores feed an IsolationForest (or LocalOutlierFactor, by parameter); the explanation names the
features furthest from normal. The fitting, calibration and explanation they share are
``models.detectors.outliers.OutlierModel``; a learner is proposed only for a shortfall, said in
plain words (``models.detectors.learners``).
"""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import pandas as pd

from models.detectors.base import Columns, Proposal, columns, merge_reads
from models.detectors.common import (
    ACTIVITY_READS,
    COURSE_LABEL_READS,
    USER_LABEL_READS,
    as_of_ts,
    course_labels,
    day_number,
    label,
    user_labels,
    utc,
    week_label,
    weekday_of,
)
from models.detectors.constraints import Constraint, Interval
from models.detectors.event_passes import course_week_counts, event_span
from models.detectors.learners import (
    LEARNER_FEATURES,
    explain,
    fired,
    learner_features,
    plain,
    shortfalls,
    weekly_series,
)
from models.detectors.outliers import OutlierModel, robust_z, scale_floors, shrunk_share
from models.detectors.series import run_edges
from models.snapshot import Snapshot

_COURSE_WEEK_FEATURES = [
    "active_learners",
    "events_per_learner",
    "completion_rate",
    "failure_share",
    "submission_lag_days",
    "notification_failure_share",
]

_FMT = {
    "active_learners": "{:.0f}",
    "events_per_learner": "{:.1f}",
    "completion_rate": "{:.0%}",
    "failure_share": "{:.0%}",
    "submission_lag_days": "{:.1f} d",
    "notification_failure_share": "{:.0%}",
}

# Counts are compared on a log scale: 10 → 20 learners is as notable as 100 → 200.
_LOG_FEATURES = {
    "active_learners",
    "events_per_learner",
    "events",
    "active_days",
    "events_per_active_day",
}


class CourseWeekEngagementDetector(OutlierModel):
    """Course-weeks whose engagement departs from the course's own history and its peers."""

    name = "engagement_course_week"
    version = "1.0"
    categories = ("engagement_anomaly",)
    requires = ("courses", "activity")
    optional = ("submissions", "notifications")
    reads: ClassVar[dict[str, Columns]] = merge_reads(
        ACTIVITY_READS,
        COURSE_LABEL_READS,
        {
            "submissions": columns("course_id", "submitted_at", "graded_at"),
            "notifications": columns("course_id", "sent_at", "delivered_at", "bounced"),
        },
    )
    unchecked_without: ClassVar[dict[str, str]] = {
        "submissions": "weeks of slow grading",
        "notifications": "weeks of failing notifications",
    }
    parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **OutlierModel.parameter_constraints,
        "min_active_learners": [Interval(Integral, 1, None)],
        "min_weeks": [Interval(Integral, 1, None)],
        "min_group_size": [Interval(Integral, 1, None)],
    }

    def __init__(
        self,
        *,
        method: str = "isolation_forest",
        n_estimators: int = 100,
        max_samples: int | str = 256,
        n_neighbors: int = 20,
        contamination: float = 0.03,
        min_proposals: int = 1,
        min_active_learners: int = 3,
        min_weeks: int = 4,
        min_group_size: int = 3,
        pseudo_count: float = 20.0,
        floor_share: float = 0.25,
        calibration_z: float = 6.0,
        min_score_z: float = 3.0,
        random_state: int = 0,
        top_features: int = 3,
        max_evidence_rows: int = 10,
    ) -> None:
        self.method = method
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.n_neighbors = n_neighbors
        self.contamination = contamination
        self.min_proposals = min_proposals
        self.min_active_learners = min_active_learners
        self.min_weeks = min_weeks
        self.min_group_size = min_group_size
        self.pseudo_count = pseudo_count
        self.floor_share = floor_share
        self.calibration_z = calibration_z
        self.min_score_z = min_score_z
        self.random_state = random_state
        self.top_features = top_features
        self.max_evidence_rows = max_evidence_rows

    def features(self, snapshot: Snapshot) -> pd.DataFrame:
        """One row per course-week (complete weeks before ``as_of``) with the raw features."""
        # Counts per course-week of the learners' events, made on the engine (no event loaded).
        weeks = course_week_counts(snapshot)
        span = event_span(snapshot)
        if weeks.empty or span["course_first_day"] is None:
            return pd.DataFrame(columns=["course_id", "monday", *_COURSE_WEEK_FEATURES])
        as_of_day = int(day_number(pd.Series([as_of_ts(snapshot)])).iloc[0])
        data_start = int(span["course_first_day"])
        monday = weeks["monday"].to_numpy(dtype="int64")
        # Only whole weeks: a week cut by as_of or by the start of the data looks falsely quiet.
        complete = (monday + 7 <= as_of_day) & (monday >= data_start)
        # The start or end of a term (which a log does not carry) is not an anomaly.
        last_day = span["learner_last_day"]
        edges = run_edges(
            weeks, data_start, data_start if last_day is None else int(last_day),
            self.min_active_learners,
        )  # fmt: skip
        kept = weeks[complete & ~edges]
        active = kept["learners"].to_numpy(dtype="int64")
        events = kept["events"].to_numpy(dtype="int64")
        frame = pd.DataFrame(
            {
                "course_id": kept["course_id"].astype(str).to_numpy(),
                "monday": kept["monday"].to_numpy(dtype="int64"),
                "active_learners": active.astype(float),
                "events": events.astype(float),
                "events_per_learner": events / np.maximum(active, 1),
                "completion_rate": shrunk_share(
                    kept["completers"].to_numpy(dtype="int64"), active, self.pseudo_count
                ),
                "failure_share": shrunk_share(
                    kept["failures"].to_numpy(dtype="int64"), events, self.pseudo_count
                ),
            }
        )
        frame["submission_lag_days"] = np.nan
        frame["notification_failure_share"] = np.nan
        as_of = as_of_ts(snapshot)
        key = pd.MultiIndex.from_frame(frame[["course_id", "monday"]])
        if snapshot.has("submissions"):
            subs = snapshot["submissions"]
            submitted = utc(subs["submitted_at"])
            graded = utc(subs["graded_at"])
            # Ungraded work counts with its wait so far: a backlog is a lag too.
            end = graded.where(graded.notna() & (graded <= as_of), as_of)
            lag = (end - submitted).dt.total_seconds() / 86400.0
            d = day_number(submitted)
            s = pd.DataFrame(
                {
                    "course_id": subs["course_id"].astype(str),
                    "monday": d - weekday_of(d.fillna(0)),
                    "lag": lag,
                }
            )
            s = s[(submitted <= as_of).fillna(False)].dropna()
            s["monday"] = s["monday"].astype("int64")
            grouped = s.groupby(["course_id", "monday"])["lag"]
            med = grouped.median()
            # A median of one or two submissions is noise, not a course's grading speed.
            med = med[grouped.size() >= self.min_group_size]
            frame["submission_lag_days"] = med.reindex(key).to_numpy()
        if snapshot.has("notifications"):
            notes = snapshot["notifications"]
            notes = notes[notes["course_id"].notna()]
            sent = utc(notes["sent_at"])
            delivered = utc(notes["delivered_at"])
            judged = (sent + pd.Timedelta(hours=24) <= as_of).fillna(False)
            failed = (
                notes["bounced"].fillna(False).astype(bool)
                | delivered.isna()
                | (delivered - sent > pd.Timedelta(hours=24)).fillna(False)
            )
            d = day_number(sent)
            nf = pd.DataFrame(
                {
                    "course_id": notes["course_id"].astype(str),
                    "monday": d - weekday_of(d.fillna(0)),
                    "failed": failed.astype(float),
                }
            )[judged.to_numpy()].dropna()
            nf["monday"] = nf["monday"].astype("int64")
            agg = nf.groupby(["course_id", "monday"])["failed"].agg(["sum", "size"])
            agg = agg[agg["size"] >= self.min_group_size]
            agg["share"] = shrunk_share(agg["sum"], agg["size"], self.pseudo_count)
            frame["notification_failure_share"] = agg["share"].reindex(key).to_numpy()
        frame = frame[frame["active_learners"] >= self.min_active_learners]
        counts = frame.groupby("course_id")["monday"].transform("size")
        return frame[counts >= self.min_weeks].reset_index(drop=True)

    def _detect(self, snapshot: Snapshot) -> Iterable[Proposal]:
        frame = self.features(snapshot)
        self.items_ = frame
        if len(frame) < 10:
            return []
        names = list(_COURSE_WEEK_FEATURES)
        raw = frame[names].astype(float)
        # A week with no submissions or notifications tells nothing: treat it as the course's usual.
        filled = (
            raw.fillna(raw.groupby(frame["course_id"]).transform("median"))
            .fillna(raw.median())
            .fillna(0.0)
        )
        model_in = filled.copy()
        for c in names:
            if c in _LOG_FEATURES:
                model_in[c] = np.log1p(model_in[c])
        floors = scale_floors(model_in, self.floor_share, 1e-3)
        self_z, _self_med = robust_z(model_in, pd.factorize(frame["course_id"])[0], floors)
        peer_cols = [c for c in names if c not in _LOG_FEATURES or c == "events_per_learner"]
        peer_z, _peer_med = robust_z(
            model_in[peer_cols], frame["monday"].to_numpy(), floors[peer_cols]
        )
        X = np.hstack([self_z.to_numpy(), peer_z.to_numpy()])
        self.scores_ = self._fit_score(X)
        scores = self._calibrated(self.scores_)
        # Medians on the natural scale for the explanation.
        self_nat = filled.groupby(frame["course_id"]).transform("median")
        peer_nat = filled[peer_cols].groupby(frame["monday"]).transform("median")
        frame = frame.assign(entity_week=week_label(frame["monday"]))
        labels = label(frame["course_id"].astype(str), course_labels(snapshot)).to_numpy()
        out = []
        for i in self._selected(scores):
            peer_full = np.full(len(names), np.nan)
            peer_med_full = np.full(len(names), np.nan)
            for j, c in enumerate(peer_cols):
                peer_full[names.index(c)] = peer_z.iat[i, j]
                peer_med_full[names.index(c)] = peer_nat.iat[i, j]
            phrases, zs = self._describe(
                names,
                filled.iloc[i].to_numpy(),
                [
                    (
                        "the course's other weeks",
                        self_z.iloc[i].to_numpy(),
                        self_nat.iloc[i].to_numpy(),
                    ),
                    ("other courses that week", peer_full, peer_med_full),
                ],
                self.top_features,
                _FMT,
            )
            week = frame["entity_week"].iat[i]
            course = frame["course_id"].iat[i]
            series = frame[frame["course_id"] == course][["entity_week", *names]].rename(
                columns={"entity_week": "week"}
            )
            near = series[(series["week"] <= week)].tail(self.max_evidence_rows)
            out.append(
                self._proposal(
                    category="engagement_anomaly",
                    entity_key=f"course={course};week={week}",
                    title=f"{labels[i]} behaved unusually in week {week}"
                    + (": " + phrases[0] if phrases else ""),
                    score=float(scores[i]),
                    severity="high"
                    if scores[i] >= 0.7
                    else "medium"
                    if scores[i] >= 0.6
                    else "low",
                    evidence={"weekly_features": near.to_dict("records")},
                    features={
                        **{c: float(v) for c, v in raw.iloc[i].items() if pd.notna(v)},
                        **zs,
                        "isolation_score": float(self.scores_[i]),
                        "score_robust_z": float(self.score_z_[i]),
                    },
                    explanation=(
                        "An anomaly model ("
                        + self.method.replace("_", " ")
                        + ") ranks this course-week among the most unusual; "
                        + ("; ".join(phrases) if phrases else "no single feature stands out")
                        + "."
                    ),
                )
            )
        return out


class LearnerEngagementDetector(OutlierModel):
    """Learners whose activity in a course falls short of the course's other learners.

    Only courses with at least ``min_course_learners`` learners who have ``min_events`` events
    are scored (a smaller cohort has no peer group to compare with). A learner is proposed only
    where a measure is ``min_gap_z`` robust deviations off in the direction of a gap
    (``models.detectors.learners``): heavy users are never proposed for being heavy. The finding
    says in words which measure fired and carries its weekly series beside the course's typical
    learner.
    """

    name = "engagement_learner"
    version = "2.0"
    categories = ("engagement_anomaly",)
    requires = ("courses", "activity")
    optional = ("lms_users", "people")
    reads: ClassVar[dict[str, Columns]] = merge_reads(
        ACTIVITY_READS, COURSE_LABEL_READS, USER_LABEL_READS
    )
    parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **OutlierModel.parameter_constraints,
        "min_events": [Interval(Integral, 1, None)],
        "min_course_learners": [Interval(Integral, 1, None)],
        "min_gap_z": [Interval(Real, 0, None)],
    }

    def __init__(
        self,
        *,
        method: str = "isolation_forest",
        n_estimators: int = 100,
        max_samples: int | str = 256,
        n_neighbors: int = 20,
        contamination: float = 0.005,
        min_proposals: int = 1,
        min_events: int = 5,
        min_course_learners: int = 10,
        min_gap_z: float = 3.0,
        pseudo_count: float = 20.0,
        floor_share: float = 0.25,
        calibration_z: float = 6.0,
        min_score_z: float = 5.0,
        random_state: int = 0,
        top_features: int = 3,
        max_evidence_rows: int = 10,
    ) -> None:
        self.method = method
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.n_neighbors = n_neighbors
        self.contamination = contamination
        self.min_proposals = min_proposals
        self.min_events = min_events
        self.min_course_learners = min_course_learners
        self.min_gap_z = min_gap_z
        self.pseudo_count = pseudo_count
        self.floor_share = floor_share
        self.calibration_z = calibration_z
        self.min_score_z = min_score_z
        self.random_state = random_state
        self.top_features = top_features
        self.max_evidence_rows = max_evidence_rows

    def features(self, snapshot: Snapshot) -> pd.DataFrame:
        """One row per (user, course) with at least ``min_events`` events up to ``as_of``, in
        courses of at least ``min_course_learners`` such learners (the minimum cohort)."""
        return learner_features(
            snapshot, self.pseudo_count, self.min_events, self.min_course_learners
        )

    def _detect(self, snapshot: Snapshot) -> Iterable[Proposal]:
        frame = self.features(snapshot)
        self.items_ = frame
        if len(frame) < 20:
            return []
        names = list(LEARNER_FEATURES)
        raw = frame[names].astype(float)
        model_in = raw.copy()
        for c in names:
            if c in _LOG_FEATURES:
                model_in[c] = np.log1p(model_in[c])
        floors = scale_floors(model_in, self.floor_share, 1e-3)
        course_codes = frame["course_id"].cat.codes.to_numpy()
        peer_z, _ = robust_z(model_in, course_codes, floors)
        self.scores_ = self._fit_score(peer_z.to_numpy())
        scores = self._calibrated(self.scores_)
        # The forest isolates the busiest learners as fast as the idlest: a learner is proposed
        # only where a measure is off in the direction of a gap (heavy use is none).
        gap = shortfalls(peer_z)
        eligible = gap.max(axis=1) >= self.min_gap_z
        peer_nat = raw.groupby(course_codes).transform("median")
        # The failure share in words is the plain one (the model sees it smoothed).
        share = frame["failed_events"] / frame["events"]
        peer_nat["failure_share"] = share.groupby(course_codes).transform("median")
        cohort = frame.groupby("course_id", observed=True)["user_id"].transform("size")
        chosen = self._selected(np.where(eligible, scores, 0.0))
        chosen = chosen[eligible[chosen]]
        if len(chosen) == 0:
            return []
        # Labels and series only for the items proposed (there may be a million items).
        picked = frame.iloc[chosen]
        who = label(picked["user_id"].astype(str), user_labels(snapshot)).to_numpy()
        where = label(picked["course_id"].astype(str), course_labels(snapshot)).to_numpy()
        tops = [fired(gap[i], self.top_features) for i in chosen]
        measures = [names[t[0]] if t else "events" for t in tops]
        as_of_day = int(day_number(pd.Series([as_of_ts(snapshot)])).iloc[0])
        series = weekly_series(
            snapshot, picked.assign(measure=measures), frame, as_of_day, weeks=26
        )
        out = []
        for k, i in enumerate(chosen):
            value = raw.iloc[i].to_dict()
            value["failure_share"] = float(share.iat[i])
            phrases = [
                plain(names[j], value[names[j]], peer_nat.iat[i, j], frame["failed_events"].iat[i])
                for j in tops[k]
            ]
            n = int(cohort.iat[i])
            what = phrases[0] if phrases else "an unusual mix of measures, none far off alone"
            out.append(
                self._proposal(
                    category="engagement_anomaly",
                    entity_key=f"user={frame['user_id'].iat[i]};course={frame['course_id'].iat[i]}",
                    title=f"{who[k]} stands out among the {n} learners of {where[k]}: {what}",
                    score=float(scores[i]),
                    severity="medium" if scores[i] >= 0.6 else "low",
                    evidence={
                        "series": series[k],
                        "learner": value,
                        "course_median": {c: peer_nat.iat[i, j] for j, c in enumerate(names)},
                    },
                    features={
                        **raw.iloc[i].to_dict(),
                        **{f"z_{names[j]}": round(float(peer_z.iat[i, j]), 2) for j in tops[k]},
                        "course_learners": n,
                        "isolation_score": float(self.scores_[i]),
                        "score_robust_z": float(self.score_z_[i]),
                    },
                    explanation=explain(
                        phrases or [what],
                        n,
                        self.method,
                        busy=bool(peer_z.iat[i, names.index("events")] >= self.min_gap_z),
                        events=(value["events"], peer_nat.iat[i, names.index("events")]),
                    ),
                )
            )
        return out
