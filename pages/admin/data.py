"""Data (admins): bring real exports in, see what each became and what it lets Gapdesk check,
store the snapshot, run detection on it; which snapshot is current; what is stored."""

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import streamlit as st

from app.core.errors import UserError
from app.core.settings import get_settings
from app.detection.coverage import (
    coverage_table,
    run_coverage,
    snapshot_coverage,
    validated_coverage,
)
from app.detection.run import run_detection
from app.sources.contract import TABLES
from app.sources.intake import (
    ROOTS_OFF,
    Intake,
    intake_options,
    prepare_server_folder,
    prepare_uploads,
    store_intake,
    upload_limits,
)
from app.sources.mapping import SnapshotMapping, preview_mapping, suggest_mapping
from app.sources.mapping_builder import (
    DELIMITERS,
    BuilderInput,
    build_table_mapping,
    read_mapping_sample,
    sample_values,
)
from app.sources.mapping_store import save_mapping, saved_mappings
from app.sources.overlap import SnapshotOverlap, current_snapshot, overlap_with_current
from app.sources.recognise import FORMATS
from app.sources.store import list_snapshots
from app.web.presenters import md_escape
from app.web.signin import require_actor
from app.web.units import engine, reading
from models.detectors.coverage import CoverageRow

actor = require_actor()
st.title("Data")
st.write(
    "Bring in the exports your LMS gives, as they come: Moodle logs and user lists, xAPI "
    "statements, Open edX tracking logs, Canvas SIS files, SendGrid, SES or Mailgun events, or "
    "snapshot tables in contract form (CSV or Parquet, with an optional snapshot.toml); several "
    "files at once, compressed or not (gz, zip, tar). Each file is recognised from its content, "
    "converted, and all of them merged into one snapshot, as `gapdesk ingest` does."
)

PENDING = "gapdesk_pending_snapshot"
STORED = "gapdesk_stored_snapshot"
RUN = "gapdesk_data_detection_run"

with reading() as session:
    current = current_snapshot(session=session, actor=actor)
st.subheader("Current snapshot")
if current is None:
    st.caption("None yet: the snapshot you store here becomes the current one.")
else:
    st.markdown(md_escape(current.describe()))

with st.expander("Reading options (only for formats that need them)"):
    left, right = st.columns(2)
    format_choice = left.selectbox(
        "Format", ["", *FORMATS], key="opt_format",
        format_func=lambda k: f"{k}: {FORMATS[k]}" if k else "recognise each file from its content",
    )  # fmt: skip
    year = left.text_input("Year of Moodle log times written without one", key="opt_year",
                           placeholder="this year")  # fmt: skip
    timezone = left.text_input("Time zone of times written without one", "UTC", key="opt_tz")
    encoding = right.text_input("Text encoding of files that are not UTF-8", key="opt_enc",
                                placeholder="recognised (latin-1, cp1252, utf-16 ...)")  # fmt: skip
    order = right.radio(
        "Numeric dates like 2/03/21", ["from the data", "day first", "month first"],
        key="opt_day_first", horizontal=True,
    )  # fmt: skip
    as_of = right.text_input("As of (the moment the snapshot describes)", key="opt_as_of",
                             placeholder="its latest time, e.g. 2026-11-27T06:00")  # fmt: skip
    quarantine = st.checkbox(
        "Quarantine rows that break a row-level rule instead of rejecting the snapshot",
        key="opt_quarantine",
    )

upload_tab, folder_tab, mapping_tab = st.tabs(
    ["Upload files", "Folder on the server", "Build a column mapping"]
)
with upload_tab, st.form("upload"):
    st.caption(
        f"Uploads may hold {upload_limits().describe()}, each file at most "
        f"{st.get_option('server.maxUploadSize')} MB as sent (Streamlit's server.maxUploadSize); "
        "larger exports go in through a folder on the server."
    )
    files = st.file_uploader("Exports, archives or snapshot tables", accept_multiple_files=True)
    mapping_file = st.file_uploader("Column mapping (TOML, optional)", type=["toml"])
    send_upload = st.form_submit_button("Validate", type="primary")
with folder_tab:
    roots = get_settings().ingest_roots
    if not roots:
        st.info(ROOTS_OFF[0].upper() + ROOTS_OFF[1:] + ".")
        send_folder, folder, use_mapping, saved = False, "", "none", {}
    else:
        st.caption("Gapdesk may read inside: " + ", ".join(str(r) for r in roots))
        with st.form("folder"):
            folder = st.text_input("File or folder path on the server", key="folder_path",
                                   placeholder=f"{roots[0]}/2026-11-27")  # fmt: skip
            saved = saved_mappings()
            use_mapping = st.selectbox("Saved column mapping", ["none", *saved])
            send_folder = st.form_submit_button("Validate", type="primary")


@dataclass
class Pending:
    """What the last Validate gave: the intake (or why there is none), its coverage and how
    far it shares users and courses with the current snapshot."""

    intake: Intake | None = None
    error: str = ""
    coverage: list[CoverageRow] = field(default_factory=list)
    overlap: SnapshotOverlap | None = None


def prepare(kind: str) -> None:
    """Read and validate what was given; keep the intake for the person to look at."""
    st.session_state.pop(PENDING, None)
    st.session_state.pop(STORED, None)
    st.session_state.pop(RUN, None)
    st.session_state.pop("confirm_new", None)  # a new snapshot is confirmed afresh
    with st.status("Reading and validating ...", expanded=True) as status:
        bar = st.progress(0.0)

        def progress(done: int, total: int, message: str) -> None:
            bar.progress(min(done / total, 1.0) if total else 1.0, text=message)

        try:
            options = intake_options(
                format=format_choice or None, year=year, timezone=timezone, encoding=encoding,
                day_first={"day first": True, "month first": False}.get(order), as_of=as_of,
            )  # fmt: skip
            with tempfile.TemporaryDirectory(prefix="gapdesk-page-") as tmp:
                if kind == "upload":
                    intake = prepare_uploads(
                        actor=actor, uploads=list(files or []), options=options,
                        workdir=Path(tmp), mapping=mapping_file, quarantine=quarantine,
                        progress=progress,
                    )  # fmt: skip
                else:
                    chosen = saved[use_mapping] if use_mapping != "none" else None
                    intake = prepare_server_folder(
                        actor=actor, path=folder, options=options, workdir=Path(tmp),
                        mapping=chosen, quarantine=quarantine, progress=progress,
                    )  # fmt: skip
        except UserError as exc:
            status.update(label="Rejected: nothing was stored", state="error")
            st.session_state[PENDING] = Pending(error=str(exc))
            return
        pending = Pending(intake=intake)
        if intake.accepted:
            assert intake.result is not None and intake.result.snapshot is not None
            with reading() as session:
                pending.coverage = validated_coverage(
                    session=session, actor=actor, snapshot=intake.result.snapshot
                )
                pending.overlap = overlap_with_current(
                    session=session, actor=actor, snapshot=intake.result.snapshot,
                    content_hash=intake.result.content_hash,
                )  # fmt: skip
            status.update(label="Valid: review what it became, then accept", state="complete")
        else:
            status.update(label="Rejected: nothing was stored", state="error")
        st.session_state[PENDING] = pending


if send_upload:
    if not files:
        st.error("Choose the files to upload first.")
    else:
        prepare("upload")
if send_folder:
    prepare("folder")


def show_intake(pending: Pending) -> None:
    """What the sources became: verdict and problems first, then per source, then coverage."""
    intake = pending.intake
    if intake is None:
        st.error("Rejected, nothing was stored:")
        st.code(pending.error, language=None, wrap_lines=True)
        return
    if intake.problem:
        st.error(md_escape(f"Rejected, nothing was stored: {intake.problem}."))
        if intake.report:
            st.code(intake.report, language=None, wrap_lines=True)
    for given, staged in intake.renamed.items():
        renamed = f"The upload named {given!r} was read as {staged!r} (a safe file name)."
        st.caption(md_escape(renamed))
    if intake.conversions:
        st.caption("What each source became")
        st.dataframe(pd.DataFrame(intake.conversion_rows()), hide_index=True)
        left_out = intake.left_out_rows()
        if left_out:
            st.caption("Rows left out or dropped, and why")
            st.dataframe(pd.DataFrame(left_out), hide_index=True)
        with st.expander("Conversion report in full"):
            st.code("\n\n".join(c.render() for c in intake.conversions), language=None)
    elif intake.skipped:
        st.dataframe(pd.DataFrame(intake.left_out_rows()), hide_index=True)
    for note in intake.links:
        st.caption(md_escape(f"joined: {note}"))
    for note in intake.notes:
        st.caption(md_escape(note))
    if not intake.accepted:
        return
    result = intake.result
    assert result is not None and result.snapshot is not None
    snapshot = result.snapshot
    rows = sum(len(f) for f in snapshot.tables.values())
    held = sum(len(f) for f in result.quarantined.values())
    st.info(
        f"Validated: {rows:,} rows in {len(snapshot.tables)} tables, as of "
        f"{snapshot.as_of:%Y-%m-%d %H:%M} UTC"
        + (f"; {held:,} rows set aside in quarantine." if held else ".")
    )
    with st.expander("Validation report"):
        st.code(intake.report, language=None)
    st.caption("What this snapshot would let Gapdesk check")
    st.dataframe(coverage_table(pending.coverage), hide_index=True)
    overlap = pending.overlap
    confirmed = True
    if overlap is not None and overlap.few_shared:
        st.warning(
            "This snapshot shares few users or courses with the current one: another "
            f"organisation, or ids written another way? {overlap.describe()}. "
            "Storing it makes it the current snapshot: detection, the instructors' courses and "
            "every page then read it."
        )
        confirmed = st.checkbox("Make it the current snapshot all the same", key="confirm_new")
    accept, discard = st.columns(2)
    if accept.button("Accept and store this snapshot", type="primary", disabled=not confirmed):
        try:
            outcome = store_intake(engine=engine(), actor=actor, intake=intake)
        except UserError as exc:
            st.error(md_escape(exc))
            return
        st.session_state.pop(PENDING, None)
        st.session_state[STORED] = (outcome.record.id, outcome.already_known)
        st.rerun()
    if discard.button("Discard"):
        st.session_state.pop(PENDING, None)
        st.rerun()


pending_intake = st.session_state.get(PENDING)
if pending_intake is not None:
    show_intake(pending_intake)

stored = st.session_state.get(STORED)
if stored is not None:
    stored_id, already = stored
    if already:
        st.success(f"Already stored as snapshot {stored_id}; nothing new was written.")
    else:
        st.success(f"Stored as snapshot {stored_id}; it is now the current snapshot.")
    if st.button(f"Run detection on snapshot {stored_id}", type="primary", key="run_stored"):
        with st.status("Running detectors ...", expanded=True) as status:
            bar = st.progress(0.0)

            def detecting(name: str, done: int, total: int) -> None:
                bar.progress(min(done / total, 1.0) if total else 1.0, text=name or "proposing")

            try:
                run = run_detection(
                    engine=engine(), actor=actor, snapshot_id=stored_id, progress=detecting
                )
            except UserError as exc:
                status.update(label="Detection failed: the queue is unchanged", state="error")
                st.error(md_escape(exc))
            else:
                status.update(label=f"Detection run #{run.id} done", state="complete")
                st.session_state[RUN] = run
    last_run = st.session_state.get(RUN)
    if last_run is not None:
        s = last_run.stats
        st.info(
            f"Detection run #{last_run.id} on snapshot {last_run.snapshot_id}: "
            f"{s.get('proposals', 0)} proposals, {s.get('new', 0)} new findings, "
            f"{s.get('updated', 0)} updated, {s.get('reopened', 0)} reopened, "
            f"{s.get('suppressed', 0)} suppressed; the new findings wait in the Review queue."
        )
        per_detector = s.get("per_detector", {})
        if per_detector:
            st.dataframe(
                pd.DataFrame(
                    [{"detector": d, "proposals": n} for d, n in sorted(per_detector.items())]
                ),
                hide_index=True,
            )
        st.caption("What this run checked")
        st.dataframe(coverage_table(run_coverage(last_run)), hide_index=True)

with mapping_tab:
    st.write(
        "An export with other column names: upload a sample, pick the contract table, check the "
        "suggested matches, add what the export needs (templates, filters, null tokens, day "
        "offsets; the README's Mapping files section explains each), preview, and save the "
        "mapping to use when ingesting."
    )
    sample = st.file_uploader("A CSV export", type=["csv", "tsv", "txt"], key="mapping_sample")
    table = st.selectbox("Contract table", list(TABLES), key="mapping_table")
    delimiter = st.selectbox(
        "Delimiter", list(DELIMITERS), format_func=DELIMITERS.__getitem__, key="mapping_delimiter"
    )
    headerless = st.checkbox("The file has no header row", key="mapping_headerless")
    column_names = (
        st.text_input("Its column names, in order (comma-separated)", key="mapping_column_names")
        if headerless
        else ""
    )
    if sample is not None:
        try:
            frame = read_mapping_sample(
                sample.getvalue(), delimiter=delimiter, column_names=column_names
            )
        except UserError as exc:
            st.error(md_escape(exc))
            st.stop()
        suggestions = suggest_mapping(list(frame.columns), sample_values(frame), table)
        targets = ["(ignore)", *[c.name for c in TABLES[table].columns]]
        editor = st.data_editor(
            pd.DataFrame(
                [
                    {"source column": c,
                     "contract column": suggestions[c].target if c in suggestions else "(ignore)",
                     "why": suggestions[c].reason if c in suggestions else "no good match",
                     "sample": ", ".join(frame[c].dropna().astype(str).head(3))}
                    for c in frame.columns
                ]
            ),
            column_config={"contract column": st.column_config.SelectboxColumn(options=targets)},
            disabled=["source column", "why", "sample"],
            hide_index=True,
            key="mapping_editor",
        )  # fmt: skip
        with st.expander("Templates, constants, filters, null tokens, day offsets"):
            chosen = BuilderInput(
                table=table,
                matches={
                    row["source column"]: row["contract column"]
                    for _, row in editor.iterrows()
                    if row["contract column"] != "(ignore)"
                },
                delimiter=delimiter,
                column_names=column_names,
                file=st.text_input(
                    "File name in the snapshot folder", value=sample.name, key="mapping_file"
                ),
                nulls=st.text_input(
                    "Null tokens (comma-separated)", placeholder="\\N, NULL, -",
                    key="mapping_nulls",
                ),
                templates=st.text_area(
                    "Templates, one a line: contract column = text with {source column}",
                    placeholder="course_id = {module}-{presentation}\nemail = {login}@example.org",
                    key="mapping_templates",
                ),
                constants=st.text_area(
                    "Constants, one a line: contract column = value",
                    placeholder="status = active", key="mapping_constants",
                ),
                filters=st.text_area(
                    "Keep only rows that pass, one filter a line: column | operator | values "
                    "(equals, not_equals, in, not_in, matches)",
                    placeholder="role | in | student, learner", key="mapping_filters",
                ),
                day_offsets=st.text_area(
                    "Day offsets, one a line: contract column | days column | anchor date, or "
                    "contract column | days column | by column | value=date, ...",
                    placeholder="enrolled_at | date_registration | by code_presentation | "
                    "2013J=2013-10-01, 2014B=2014-02-01",
                    key="mapping_day_offsets",
                ),
            )  # fmt: skip
        try:
            mapping = build_table_mapping(chosen)
        except UserError as exc:
            st.error(md_escape(exc))
            st.stop()
        preview, report = preview_mapping(frame, mapping)
        st.caption("Preview of the mapped table")
        st.dataframe(preview, hide_index=True)
        st.code(report.render(limit=20), language=None)
        name = st.text_input("Save as", key="mapping_name")
        if st.button("Save mapping"):
            try:
                path = save_mapping(
                    actor=actor, name=name, mapping=SnapshotMapping(tables={table: mapping})
                )
                st.success(f"Saved as {path.name}; choose it when ingesting a folder.")
            except UserError as exc:
                st.error(md_escape(exc))

st.subheader("Stored snapshots")
with reading() as session:
    records = list_snapshots(session=session, actor=actor)
if not records:
    st.caption("None yet.")
else:
    st.dataframe(
        pd.DataFrame(
            [
                {"id": r.id, "as of": r.as_of.strftime("%Y-%m-%d %H:%M"), "source": r.source,
                 "rows": sum(int(n) for n in r.row_counts.values()),
                 "quarantined": sum(int(n) for n in r.quarantined_counts.values()),
                 "ingested": r.ingested_at.strftime("%Y-%m-%d %H:%M"), "by": r.ingested_by}
                for r in records
            ]
        ),
        hide_index=True,
    )  # fmt: skip

st.subheader("What the current snapshot lets Gapdesk check")
try:
    with reading() as session:
        covered = snapshot_coverage(session=session, actor=actor)
except UserError as exc:
    st.warning(str(exc))
    covered = None
if covered is None:
    st.caption("No snapshot is stored yet.")
else:
    st.caption(
        f"Snapshot {covered.snapshot_id}, as of {covered.as_of:%Y-%m-%d %H:%M} UTC: "
        + covered.lines[0]
    )
    st.dataframe(coverage_table(covered.rows), hide_index=True)
