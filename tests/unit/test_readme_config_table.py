"""docs/operations.md's configuration table is generated from template.yaml's Parameters
(infra/console/config_table.py) and must not drift from it."""

from __future__ import annotations

from infra.console import config_table
from infra.runtime.template import load_sam

FIX = "run `python -m infra.console.config_table --write` and commit docs/operations.md"


def test_given_template_yaml_when_the_table_is_rendered_then_readme_between_the_markers_is_exactly_it():
    # Given template.yaml and docs/operations.md as they are
    readme = config_table.TABLE_PATH.read_text()
    found = config_table.current_block(readme)
    assert found is not None, (
        f"docs/operations.md lost its {config_table.BEGIN} / {config_table.END} markers; put them back "
        f"around the configuration table, then {FIX}")
    # When the table is rendered from the template's Parameters
    expected = config_table.block(config_table.render(load_sam()))
    # Then docs/operations.md holds exactly it
    assert found == expected, f"docs/operations.md's configuration table is out of date with template.yaml: {FIX}"


def test_given_a_parameter_with_constraints_when_rendered_then_its_allowed_values_range_and_variables_show():
    # Given a small template: allowed values, a range, a lower bound only, a folded description,
    # variables fed through Globals, one function's own Environment, a !Sub and a condition
    sam = {
        "Parameters": {
            "Stage": {"Type": "String", "Default": "dev", "AllowedValues": ["dev", "prod"],
                      "Description": "Deployment stage."},
            "MaxBytes": {"Type": "Number", "Default": 5120, "MinValue": 1024, "MaxValue": 10240,
                         "Description": "Largest upload,\n  in bytes | checked twice.\n"},
            "Threshold": {"Type": "Number", "Default": 100, "MinValue": 1},
            "Handle": {"Type": "String", "MinLength": 3, "MaxLength": 15, "AllowedPattern": "[a-z]+"},
        },
        "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}},
        "Globals": {"Function": {"Environment": {"Variables": {
            "STAGE": {"Ref": "Stage"},
            "AUTO_CONFIRM": {"Fn::If": ["IsProd", "false", "true"]},
            "MAX_BYTES": {"Ref": "MaxBytes"},
            "LOG_LEVEL": "INFO",
        }}}},
        "Resources": {
            "ApiFunction": {"Type": "AWS::Serverless::Function", "Properties": {"Environment": {"Variables": {
                "THRESHOLD": {"Ref": "Threshold"},
                "PREFIX": {"Fn::Sub": "timeline-${Stage}"},
                "MAX_BYTES": {"Ref": "MaxBytes"},  # also set for every function: named once, unqualified
            }}}},
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"Environment": {"Variables": {
                "NOT_A_FUNCTION": {"Ref": "Threshold"}}}}},
        },
    }
    # When the table is rendered
    rows = config_table.render(sam).splitlines()
    # Then there is a header, a separator and one row per parameter, in the template's order
    assert rows[0] == "| parameter | default | allowed | environment variable | meaning |"
    assert rows[1] == "| --- | --- | --- | --- | --- |"
    assert rows[2:] == [
        "| `Stage` | `dev` | `dev`, `prod` | `STAGE`, `AUTO_CONFIRM`, `PREFIX` (ApiFunction) | Deployment stage. |",
        "| `MaxBytes` | `5120` | `1024` to `10240` | `MAX_BYTES` | Largest upload, in bytes \\| checked twice. |",
        "| `Threshold` | `100` | at least `1` | `THRESHOLD` (ApiFunction) |  |",
        "| `Handle` | (required) | `3` to `15` characters; matches `[a-z]+` | - |  |",
    ]


def test_given_a_readme_when_written_then_only_the_text_between_the_markers_changes():
    readme = f"# Title\n\nbefore\n\n{config_table.BEGIN}\n| old |\n{config_table.END}\n\nafter\n"
    updated = config_table.rewrite(readme, "| new |\n")
    assert updated == f"# Title\n\nbefore\n\n{config_table.BEGIN}\n\n| new |\n\n{config_table.END}\n\nafter\n"
    assert config_table.rewrite(updated, "| new |\n") == updated
