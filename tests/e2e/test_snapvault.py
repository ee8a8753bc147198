"""SnapVault through the lab (real WinRM and ONTAP REST): a vault relationship (XDPDefault: ONTAP's REST API shows it as
an async policy that creates no snapshot on the source, keeping the labels daily and weekly) from hv03's SQL volume
to cluster-b; a backup with snapvault_label updates it with the backup's snapshot, which the destination then holds
with its label, and keeps across later updates."""
from __future__ import annotations

import time

import requests

from e2e.backup_support import LabSite

SNAPINFO = "S:\\SnapInfo"
SOURCE, VAULT = "svm_hv:vol_hv03_sql", "svm_dr:vol_hv03_sql_vault"


def ontap(lab, cluster, method, path, **kwargs):
    endpoint = lab.endpoints["ontap"][cluster]
    answer = requests.request(method, "https://%s:%s/api%s" % (endpoint["host"], endpoint["port"], path),
                              auth=(endpoint["username"], endpoint["password"]), verify=lab.endpoints["ca_path"], timeout=60, **kwargs)
    assert answer.status_code < 300, answer.text
    return answer.json()


def vault_snapshots(lab):
    volume = ontap(lab, "cluster-b", "GET", "/storage/volumes?name=vol_hv03_sql_vault")["records"][0]
    records = ontap(lab, "cluster-b", "GET", "/storage/volumes/%s/snapshots?fields=name,snapmirror_label" % volume["uuid"])["records"]
    return {record["name"]: record.get("snapmirror_label", "") for record in records}


def test_a_backup_updates_the_vault_with_its_labelled_snapshot(lab):
    lab.control("DELETE", "/faults")
    lab.reset()
    try:
        site = LabSite(lab)
        site.register("hv03", SNAPINFO)
        site.dataset("hv03", SNAPINFO, "sql", ["vm-sql01"])
        first = site.backup("hv03", "sql", backup_method="checkpoint")["backup"]["name"]  # the vault's baseline: the newest snapshot of the source
        body = {"source": {"path": SOURCE, "cluster": {"name": "cluster-a"}}, "destination": {"path": VAULT},
                "policy": {"name": "XDPDefault"}, "create_destination": {"enabled": True}, "state": "snapmirrored"}
        ontap(lab, "cluster-b", "POST", "/snapmirror/relationships?return_timeout=60", json=body)
        assert list(vault_snapshots(lab)) == [first]
        time.sleep(1.1)  # backup names are unique to the second

        result = site.backup("hv03", "sql", backup_method="checkpoint", snapvault_label="daily")
        name = result["backup"]["name"]
        assert [(r["kind"], r["source"], r["destination"], r["destination_cluster"], r["state"]) for r in result["replication"]] == [
            ("snapvault", SOURCE, VAULT, "cluster-b", "success")]
        assert result["backup"]["warnings"] == []
        assert vault_snapshots(lab) == {first: "", name: "daily"}
        time.sleep(1.1)

        # A weekly backup adds its snapshot with its label; the daily one stays on the vault.
        later = site.backup("hv03", "sql", backup_method="checkpoint", snapvault_label="weekly")["backup"]["name"]
        assert vault_snapshots(lab)[name] == "daily" and vault_snapshots(lab)[later] == "weekly"
    finally:
        lab.reset()
