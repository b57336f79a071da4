"""Data (admins): bring a snapshot in, see its validation report, list what is stored."""

import pandas as pd
import streamlit as st

from app.core.errors import UserError
from app.detection.coverage import coverage_table, snapshot_coverage, validated_coverage
from app.sources.contract import TABLES
from app.sources.mapping import SnapshotMapping, preview_mapping, suggest_mapping
from app.sources.mapping_builder import (
    DELIMITERS,
    BuilderInput,
    build_table_mapping,
    read_mapping_sample,
    sample_values,
)
from app.sources.mapping_store import save_mapping, saved_mappings
from app.sources.store import list_snapshots, store_snapshot, validate_snapshot
from app.sources.uploads import mapping_path, staged_upload
from app.web.signin import require_actor
from app.web.units import engine, reading

actor = require_actor()
st.title("Data")
st.write(
    "A snapshot is one file per table of the LMS snapshot contract (lms_users, courses, and "
    "optionally people, enrollments, enrollment_rules, activity, submissions, notifications, "
    "sync_runs), as CSV or Parquet, with an optional snapshot.toml giving as_of and source."
)

upload_tab, folder_tab, mapping_tab = st.tabs(
    ["Upload files", "Folder on the server", "Build a column mapping"]
)
with upload_tab, st.form("upload"):
    files = st.file_uploader(
        "Table files and snapshot.toml", accept_multiple_files=True,
        type=["csv", "parquet", "gz", "toml"],
    )  # fmt: skip
    mapping_file = st.file_uploader("Column mapping (TOML, optional)", type=["toml"])
    quarantine_up = st.checkbox("Quarantine rows that break a row-level rule", key="q_up")
    send_upload = st.form_submit_button("Validate", type="primary")
with folder_tab, st.form("folder"):
    folder = st.text_input("Folder path", placeholder="/data/exports/2026-11-27")
    saved = saved_mappings()
    use_mapping = st.selectbox("Saved column mapping", ["none", *saved])
    quarantine_dir = st.checkbox("Quarantine rows that break a row-level rule", key="q_dir")
    send_folder = st.form_submit_button("Validate", type="primary")


PENDING = "gapdesk_pending_snapshot"


def run_validation(path: str, quarantine: bool, mapping: str | None, origin: str) -> None:
    """Validate and keep the result for the person to accept; nothing is stored yet."""
    with st.status("Validating ...", expanded=True) as status:
        bar = st.progress(0.0)

        def progress(done: int, total: int, message: str) -> None:
            bar.progress(min(done / total, 1.0) if total else 1.0, text=message)

        try:
            result = validate_snapshot(
                actor=actor, path=path, mapping=mapping, quarantine=quarantine,
                progress=progress,
            )  # fmt: skip
        except UserError as exc:
            status.update(label="Rejected: nothing was stored", state="error")
            st.code(str(exc), language=None)
            return
        if result.accepted:
            status.update(label="Valid: review the report, then accept", state="complete")
            st.session_state[PENDING] = (result, origin)
        else:
            status.update(label="Rejected: nothing was stored", state="error")
            st.session_state.pop(PENDING, None)
        st.code(result.report.render(), language=None)


if send_upload:
    if not files:
        st.error("Choose the table files to upload first.")
    else:
        try:
            with staged_upload(files, mapping=mapping_file) as staged:
                run_validation(
                    str(staged), quarantine_up,
                    str(mapping_path(staged)) if mapping_file else None,
                    origin="upload: " + ", ".join(f.name for f in files),
                )  # fmt: skip
        except UserError as exc:
            st.error(str(exc))
if send_folder:
    if not folder.strip():
        st.error("Type the folder's path first.")
    else:
        chosen = str(saved[use_mapping]) if use_mapping != "none" else None
        run_validation(folder.strip(), quarantine_dir, chosen, origin=folder.strip())

pending = st.session_state.get(PENDING)
if pending is not None:
    result, origin = pending
    snapshot = result.snapshot
    rows = sum(len(f) for f in snapshot.tables.values())
    held = sum(len(f) for f in result.quarantined.values())
    st.info(
        f"Validated: {rows:,} rows in {len(snapshot.tables)} tables, as of "
        f"{snapshot.as_of:%Y-%m-%d %H:%M} UTC"
        + (f"; {held:,} rows set aside in quarantine." if held else ".")
    )
    with reading() as session:
        pending_rows = validated_coverage(session=session, actor=actor, snapshot=snapshot)
    st.caption("What this snapshot would let Gapdesk check")
    st.dataframe(coverage_table(pending_rows), hide_index=True)
    accept, discard = st.columns(2)
    if accept.button("Accept and store this snapshot", type="primary"):
        outcome = store_snapshot(engine=engine(), actor=actor, result=result, origin=origin)
        st.session_state.pop(PENDING, None)
        if outcome.already_known:
            st.success(f"Already stored as snapshot {outcome.record.id}; nothing new was written.")
        else:
            st.success(f"Stored as snapshot {outcome.record.id}.")
    if discard.button("Discard"):
        st.session_state.pop(PENDING, None)
        st.rerun()

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
            st.error(str(exc))
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
            st.error(str(exc))
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
                st.error(str(exc))

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
