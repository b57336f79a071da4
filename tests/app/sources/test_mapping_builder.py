"""The mapping builder's logic (what the Data page's text boxes become), without a browser."""

from __future__ import annotations

import pytest

from app.core.errors import UserError
from app.sources.mapping_builder import BuilderInput, build_table_mapping, read_mapping_sample


def test_typed_entries_become_a_checked_mapping() -> None:
    mapping = build_table_mapping(
        BuilderInput(
            table="enrollments",
            matches={"id_student": "user_id", "module": "course_id", "when": "enrolled_at"},
            file="reg.csv",
            nulls="\\N, ?",
            templates="course_id = {module}-{pres}\nenrollment_id = {module}-{pres}-{id_student}",
            constants="source = self\nstatus = enrolled",
            filters="pres | matches | 2014[BJ]\nmodule | in | AAA, BBB",
            day_offsets="enrolled_at | when | by pres | 2014B=2014-02-01, 2014J=2014-10-01",
        )
    )
    # What was typed for a contract column wins over the suggested match onto it.
    assert mapping.columns == {"id_student": "user_id"}
    assert mapping.nulls == ("\\N", "?")
    assert [f.describe() for f in mapping.filters] == [
        "pres matches '2014[BJ]'",
        "module in 'AAA', 'BBB'",
    ]
    assert mapping.day_offsets["enrolled_at"].anchors == {
        "2014B": "2014-02-01",
        "2014J": "2014-10-01",
    }
    assert mapping.file == "reg.csv" and mapping.constants["source"] == "self"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"templates": "no equals sign"}, "templates, line 1: write it as 'contract column = "),
        ({"filters": "\nrole | is | x"}, "filters, line 2: write it as 'column | operator"),
        ({"day_offsets": "enrolled_at | d"}, "day offsets, line 1: write it as"),
        ({"day_offsets": "due_at | d | soon"}, "'soon' is not an ISO 8601 date"),
        ({"file": "../people.csv"}, "names a folder"),
        ({"constants": "colour = red"}, "names 'colour', which is not a column of enrollments"),
    ],
)
def test_what_cannot_be_used_is_named(entry: dict[str, str], message: str) -> None:
    with pytest.raises(UserError) as caught:
        build_table_mapping(BuilderInput(table="enrollments", **entry))
    assert message in str(caught.value)


def test_a_headerless_sample_takes_the_column_list() -> None:
    frame = read_mapping_sample(b"1;a\n2;b\n", delimiter=";", column_names="id, name")
    assert frame.columns.tolist() == ["id", "name"] and frame["id"].tolist() == ["1", "2"]
    with pytest.raises(UserError, match="the sample has 2 column"):
        read_mapping_sample(b"1;a\n", delimiter=";", column_names="id")
    with pytest.raises(UserError, match="empty"):
        read_mapping_sample(b"")
