"""Settings the template may use are honoured or refused: the deployer reads every event source
mapping back and stops on a setting the local pollers would otherwise silently ignore, or on a
mapping AWS itself would refuse (a queue's visibility timeout below its function's timeout)."""

from __future__ import annotations

import pytest

from infra.runtime.deployer import UnsupportedSetting, deploy
from tests.support.template_variants import variant


def test_given_a_filter_and_a_short_visibility_timeout_when_deploying_then_both_are_refused_by_name(aws, tmp_path):
    def change(resources):
        worker = resources["FanoutWorkerFunction"]["Properties"]["Events"]["FanoutQueue"]["Properties"]
        worker["FilterCriteria"] = {"Filters": [{"Pattern": '{"body": {"op": ["add"]}}'}]}
        resources["FanoutQueue"]["Properties"]["VisibilityTimeout"] = 10
    with pytest.raises(UnsupportedSetting) as refused:
        deploy("checks-refused", template_path=variant(tmp_path, change))
    message = str(refused.value)
    assert "FanoutWorkerFunction" in message and "FilterCriteria" in message
    assert "visibility timeout (10 s) is less than the function's timeout (30 s)" in message


def test_given_a_disabled_mapping_and_a_concurrency_cap_when_deploying_then_the_pollers_are_told(aws, tmp_path):
    def change(resources):
        media = resources["MediaProcessorFunction"]["Properties"]["Events"]["Uploads"]["Properties"]
        media["Enabled"] = False
        worker = resources["FanoutWorkerFunction"]["Properties"]["Events"]["FanoutQueue"]["Properties"]
        worker["ScalingConfig"] = {"MaximumConcurrency": 2}
    stack = deploy("checks-honoured", template_path=variant(tmp_path, change))
    sources = {s.function: s for s in stack.event_sources}
    assert sources["MediaProcessorFunction"].enabled is False
    assert sources["FanoutWorkerFunction"].max_concurrency == 2
    assert sources["FanoutWorkerFunction"].enabled is True


def test_given_the_template_when_deploying_then_nothing_is_refused(h):
    assert all(s.enabled for s in h.stack.event_sources)


def test_given_the_template_when_deploying_then_the_access_log_group_and_the_queue_bounds_are_in_place(h):
    # Given the stack make run and the tests deploy from template.yaml
    import boto3

    from infra.runtime import template as tpl

    sam = tpl.load_sam()
    # Then the HTTP API's access log group exists with the template's retention (the API itself is
    # the local gateway's: its stage is not on the emulator)
    group = h.stack.physical_ids["ApiAccessLogGroup"]
    described = boto3.client("logs", region_name=h.stack.region).describe_log_groups(logGroupNamePrefix=group)
    retention = [g.get("retentionInDays") for g in described["logGroups"] if g["logGroupName"] == group]
    assert retention == [sam["Resources"]["ApiAccessLogGroup"]["Properties"]["RetentionInDays"]]
    # And each queue's mapping carries the template's MaximumConcurrency to the pollers
    for function, event in (("FanoutWorkerFunction", "FanoutQueue"), ("MediaProcessorFunction", "Uploads")):
        wanted = sam["Resources"][function]["Properties"]["Events"][event]["Properties"]["ScalingConfig"]
        assert [s.max_concurrency for s in h.stack.event_sources if s.function == function] == [
            wanted["MaximumConcurrency"]]
