from pathlib import Path

from hpo.eventlog import events as ev
DOC = (Path(__file__).parents[2] / "docs" / "events.md").read_text()


def test_every_event_type_and_field_is_documented():
    for name, cls in ev.EVENT_TYPES.items():
        section = DOC.split(f"### {name}\n", 1)
        assert len(section) == 2, f"docs/events.md has no section for {name}"
        body = section[1].split("\n### ", 1)[0]
        for field in cls.model_fields:
            if field != "type":
                assert f"`{field}`" in body, f"{name}.{field} is not documented"
