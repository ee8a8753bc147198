"""Catalogs imported beside a scope's own (catalog/imports.py): one record per source scope, apart from the scope's datasets."""
from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import ImportedCatalog


def test_an_import_is_recorded_replaced_and_listed_without_touching_datasets(catalog, clock):
    assert catalog.imported_catalogs() == [] and catalog.get_import("hv03") is None
    first = ImportedCatalog(source_scope="hv03", snapinfo_path="R:\\SnapInfo", lun="cluster-b:/vol/v/l", snapshot="s1", imported=clock())
    catalog.put_import(first)
    catalog.put_import(ImportedCatalog(source_scope="HVCLUS01", snapinfo_path="T:\\SnapInfo", lun="cluster-b:/vol/w/l", snapshot="s2"))
    catalog.put_import(ImportedCatalog(source_scope="hv03", snapinfo_path="Q:\\SnapInfo", lun="cluster-b:/vol/v/l", snapshot="s3"))
    assert [(r.source_scope, r.snapinfo_path, r.snapshot) for r in catalog.imported_catalogs()] == [
        ("hv03", "Q:\\SnapInfo", "s3"), ("HVCLUS01", "T:\\SnapInfo", "s2")]
    assert catalog.get_import("HV03").snapinfo_path == "Q:\\SnapInfo"
    assert catalog.list_datasets() == ["prod"]
