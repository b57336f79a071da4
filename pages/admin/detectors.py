"""Detectors (admins): versions, switches, thresholds, last run figures; run detection now."""

import pandas as pd
import streamlit as st

from app.core.errors import UserError
from app.detection.configuration import (
    changed_parameters,
    configure_detector,
    describe_condition,
    detector_settings,
    parameter_fields,
    remove_condition,
)
from app.detection.run import recent_runs, run_detection
from app.web.presenters import md_escape
from app.web.signin import require_actor
from app.web.units import engine, reading, writing

actor = require_actor()
st.title("Detectors")

with reading() as session:
    settings = detector_settings(session=session)
    runs = recent_runs(session=session, actor=actor, limit=10)
last = runs[0] if runs else None

if st.button("Run detection now", type="primary", icon=":material/play_arrow:"):
    with st.status("Running detectors ...", expanded=True) as status:
        bar = st.progress(0.0)

        def progress(name: str, done: int, total: int) -> None:
            bar.progress(min(done / total, 1.0) if total else 1.0, text=name or "proposing")

        try:
            run = run_detection(engine=engine(), actor=actor, progress=progress)
        except UserError as exc:
            status.update(label="Detection failed: the queue is unchanged", state="error")
            st.error(md_escape(exc))
        else:
            s = run.stats
            status.update(
                label=f"Run #{run.id}: {s['new']} new, {s['updated']} updated, "
                f"{s['reopened']} reopened, {s['suppressed']} suppressed",
                state="complete",
            )
            st.rerun()

if last is not None:
    s = last.stats
    st.caption(
        f"Last run #{last.id} ({last.status}) on snapshot {last.snapshot_id or '?'} at "
        f"{last.started_at:%Y-%m-%d %H:%M} by {last.started_by}"
        + (f": {s.get('new', 0)} new, {s.get('updated', 0)} updated, "
           f"{s.get('reopened', 0)} reopened, {s.get('suppressed', 0)} suppressed, "
           f"{s.get('duration_s', 0):.1f} s" if last.status == "done" else f": {last.error}")
    )  # fmt: skip
seconds = last.stats.get("seconds", {}) if last else {}
per_detector = last.stats.get("per_detector", {}) if last else {}
skipped = last.stats.get("skipped", {}) if last else {}

table = pd.DataFrame(
    [
        {
            "detector": d.name,
            "kind": d.kind,
            "version": d.version,
            "enabled": d.enabled,
            "config": f"v{d.config_version}" + (f" by {d.changed_by}" if d.changed_by else ""),
            "categories": ", ".join(d.categories),
            "conditions": "; ".join(describe_condition(r) for r in d.require),
            "last proposals": per_detector.get(d.name, 0),
            "last seconds": seconds.get(d.name),
            "skipped because": skipped.get(d.name, ""),
        }
        for d in settings
    ]
)
edited = st.data_editor(
    table,
    hide_index=True,
    disabled=[c for c in table.columns if c != "enabled"],
    key="detector_switches",
)
changed = [
    (row["detector"], bool(row["enabled"]))
    for (_, row), (_, before) in zip(edited.iterrows(), table.iterrows(), strict=True)
    if bool(row["enabled"]) != bool(before["enabled"])
]
if changed and st.button(f"Save {len(changed)} switch change(s)"):
    with writing() as session:
        for name, enabled in changed:
            configure_detector(
                session=session, actor=actor, name=name, enabled=enabled,
                note="enabled" if enabled else "disabled",
            )  # fmt: skip
    st.rerun()

st.subheader("Thresholds")
name = st.selectbox("Detector", [d.name for d in settings])
current = next(d for d in settings if d.name == name)
st.caption(
    f"In force: configuration v{current.config_version}. "
    "Defaults: models/detectors/thresholds.toml."
)
for i, condition in enumerate(current.require):
    cond_text, cond_remove = st.columns([4, 1], vertical_alignment="center")
    cond_text.markdown(f"Proposal condition: {md_escape(describe_condition(condition))}")
    if cond_remove.button("Remove", key=f"remove_condition_{name}_{i}"):
        with writing() as session:
            config = remove_condition(session=session, actor=actor, name=name, condition=condition)
        st.toast(f"{name}: configuration v{config.version} without that condition.")
        st.rerun()
with st.form(f"thresholds_{name}"):
    raw: dict[str, object] = {}
    columns = st.columns(3)
    for i, field in enumerate(parameter_fields(current)):
        box = columns[i % 3]
        label, key = field.name.replace("_", " "), f"param_{name}_{field.name}"
        if field.kind in ("integer", "number"):
            cast = int if field.kind == "integer" else float
            raw[field.name] = box.number_input(
                label, value=cast(field.value),
                min_value=None if field.low is None else cast(field.low),
                max_value=None if field.high is None else cast(field.high),
                step=1 if cast is int else None, format=None if cast is int else "%g",
                help=f"Must be {field.allowed}.", key=key,
            )  # fmt: skip
        elif field.kind == "boolean":
            raw[field.name] = box.toggle(label, value=field.value, key=key)
        elif field.kind == "choice":
            raw[field.name] = box.selectbox(
                label, field.options, index=field.options.index(field.value),
                help=f"Must be {field.allowed}.", key=key,
            )  # fmt: skip
        else:
            raw[field.name] = box.text_input(
                label, str(field.value), help=f"Must be {field.allowed}.", key=key
            )
    note = st.text_input("Why the change (kept with the new version)")
    saved = st.form_submit_button("Save as a new configuration version")
if saved:
    try:
        params = changed_parameters(current, raw)
        if not params:
            st.info("No parameter changed: nothing saved.")
        else:
            with writing() as session:
                config = configure_detector(
                    session=session, actor=actor, name=name, params=params, note=note
                )
            st.success(
                f"{name}: configuration v{config.version} saved "
                f"({', '.join(f'{k} = {v}' for k, v in params.items())})."
            )
    except (ValueError, UserError) as exc:
        st.error(f"Not saved: {md_escape(exc)}")
