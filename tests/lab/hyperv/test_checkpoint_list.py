"""checkpoint_list (smhv_cleanup's read of the backups' checkpoints): read-only, filtered by an ordinal prefix."""
from __future__ import annotations

VM1_ID = "0f5b3a52-3d0e-4a4c-9a57-6c1a2b3c4d5e"


def test_checkpoint_list_filters_by_prefix_and_changes_nothing(call, world):
    call("checkpoint_create", {"ids": [VM1_ID], "name": "smhv_ds_x"})
    call("checkpoint_create", {"ids": [VM1_ID], "name": "SMHV_not_ours"})
    call("checkpoint_create", {"ids": [VM1_ID], "name": "mine"})
    answer = call("checkpoint_list", {"prefix": "smhv_"})
    assert answer["ok"] is True and answer["changed"] is False
    (found,) = answer["result"]["checkpoints"]
    assert found["vm_id"] == VM1_ID and found["vm_name"] == "vm1" and found["name"] == "smhv_ds_x" and found["created"].endswith("Z")
    assert len(world.hosts["hv1"].vms[VM1_ID].checkpoints) == 3
    every = call("checkpoint_list", {})
    assert sorted(c["name"] for c in every["result"]["checkpoints"]) == ["SMHV_not_ours", "mine", "smhv_ds_x"]
