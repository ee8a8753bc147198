"""The netapp.ontap collection (bundled in the `ansible` package) runs unmodified against the simulator."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PLAYBOOKS = Path(__file__).parent / "playbooks"
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"


def test_netapp_ontap_modules_are_idempotent(ontap_lab, tmp_path):
    a, b = ontap_lab.cluster("cluster-a"), ontap_lab.cluster("cluster-b")
    with ontap_lab.world.lock:
        # na_ontap_cg_snapshot only snapshots an existing CG, and no module in the list creates one.
        a.create_volume("svm1", "vol_cg", "aggr1", 1024 ** 3)
        a.create_consistency_group("svm1", "cg_ans", ["vol_cg"])
        b.username, b.password = a.username, a.password  # one set of module_defaults for both clusters
    extra_vars = {"port_a": ontap_lab.servers["cluster-a"].port, "port_b": ontap_lab.servers["cluster-b"].port,
                  "ontap_username": a.username, "ontap_password": a.password,
                  "ansible_python_interpreter": sys.executable}
    (tmp_path / "vars.json").write_text(json.dumps(extra_vars))
    # Collections come from the ansible package, not from a checkout. The modules take validate_certs but
    # no CA file, so requests reads the lab CA from REQUESTS_CA_BUNDLE (which wins over CURL_CA_BUNDLE;
    # that one is dropped so a single bundle is in play). profile_tasks puts task times into a failure.
    env = {k: v for k, v in os.environ.items() if k not in ("ANSIBLE_COLLECTIONS_PATH", "CURL_CA_BUNDLE")}
    env.update(REQUESTS_CA_BUNDLE=str(ontap_lab.ca), ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_NOCOLOR="1",
               ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks")
    result = subprocess.run([str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-c", "local",
                             "-e", f"@{tmp_path / 'vars.json'}", str(PLAYBOOKS / "netapp_ontap.yml")],
                            capture_output=True, text=True, env=env, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]

    lun = a.lun("/vol/vol_ans/lun_ans")
    assert lun.os_type == "hyper_v" and lun.size == 2 * 1024 ** 3 and len(lun.serial) == 12
    assert not lun.space_reserved and a.lun("/vol/vol_ans/lun_ans_thick").space_reserved
    assert [(m.igroup.name, m.lun_id) for m in a.maps_of(lun)] == [("ig_ans", 0)]
    assert a.igroup("ig_ans").initiators == ["iqn.1991-05.com.microsoft:ans-host"]
    vol = a.volume("vol_ans")
    assert vol.size == 10 * 1024 ** 3 and vol.guarantee == "none" and vol.comment == "created by netapp.ontap"
    assert vol.snapshot("snap_ans").snapmirror_label == "daily"
    assert a.volume("vol_ans_clone").clone_parent is None  # split
    assert a.volume("vol_cg").snapshot("cg_snap_ans").snapmirror_label == "hourly"
    rel = next(iter(b.relationships.values()))
    assert rel.state == "snapmirrored" and rel.last_transfer_type in ("resync", "update")
    assert b.volume("vol_ans_dr").type == "dp" and "lun_ans" in b.volume("vol_ans_dr").luns
