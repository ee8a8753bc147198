# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hotfixes a Hyper-V host needs, as data (the smhv_hotfix module, the hotfix_compliance playbook).

Two kinds of requirement:

* KBs, for releases serviced by individual hotfixes: the seed's Table 1 ("Microsoft hotfixes/updates",
  TR-4004 SMHV best practices §3.1) for Windows Server 2012, 2008 R2 and "2008 SP1". Table 1's
  "Windows Server 2008 SP1" row lists 2008 R2 Service Pack 1 hotfixes (KB2263829 and KB2637197 are
  the SMHV installation guide's 2008 R2 SP1 prerequisites), so it applies to build 7601 here.
* A minimum build (UBR, the update build revision in HKLM\\...\\CurrentVersion\\UBR), for releases
  serviced by cumulative updates: 2012 R2 (from its April 2014 update, KB2919355, which every later
  update requires) and 2016 to 2025, where fixes are no longer listed one by one and Get-HotFix does
  not show superseded KBs. NetApp defers to Microsoft's Hyper-V guidance for 2016 and later; the
  baseline here is the collection's policy, one cumulative update of the same month (February 2024;
  2025's first, November 2024) on every release, named with its KB so that a host below it can be
  brought up to it from a share. Override it with the module's minimum_builds option.
"""

from __future__ import annotations

SEED_TABLE_1 = "TR-4004 (SnapManager 2.0 for Hyper-V best practices) Table 1, Microsoft hotfixes/updates"
SOURCE_UPDATE_HISTORY = "Microsoft support: %s update history (the cumulative update's KB article)"

# os.version -> KBs (in Table 1's order).
REQUIRED_KBS = {
    "6.2.9200": {
        "release": "Windows Server 2012",
        "source": SEED_TABLE_1,
        "kbs": ["KB2770917", "KB2779768", "KB2795944", "KB2811660", "KB2822241", "KB2836988", "KB2845533",
                "KB2851998", "KB2870270"],
    },
    "6.1.7600": {
        "release": "Windows Server 2008 R2",
        "source": SEED_TABLE_1,
        "kbs": ["KB978157", "KB979743", "KB2406705", "KB974909", "KB975354", "KB977096", "KB974930", "KB2517329",
                "KB2779768"],
    },
    "6.1.7601": {
        "release": "Windows Server 2008 R2 SP1",
        "source": SEED_TABLE_1 + " (row 'Windows Server 2008 SP1')",
        "kbs": ["KB2406705", "KB2531907", "KB2263829", "KB2494016", "KB2637197", "KB2517329", "KB2779768",
                "KB2494162"],
    },
}

# os.version -> the minimum UBR and the update that brings a host to it.
MINIMUM_BUILDS = {
    "6.3.9600": {"release": "Windows Server 2012 R2", "ubr": 17031, "kb": "KB2919355",
                 "title": "Windows Server 2012 R2 Update (April 2014)", "source": SOURCE_UPDATE_HISTORY % "Windows Server 2012 R2"},
    "10.0.14393": {"release": "Windows Server 2016", "ubr": 6709, "kb": "KB5034767",
                   "title": "2024-02 cumulative update", "source": SOURCE_UPDATE_HISTORY % "Windows 10 1607 and Windows Server 2016"},
    "10.0.17763": {"release": "Windows Server 2019", "ubr": 5458, "kb": "KB5034768",
                   "title": "2024-02 cumulative update", "source": SOURCE_UPDATE_HISTORY % "Windows 10 1809 and Windows Server 2019"},
    "10.0.20348": {"release": "Windows Server 2022", "ubr": 2322, "kb": "KB5034770",
                   "title": "2024-02 cumulative update", "source": SOURCE_UPDATE_HISTORY % "Windows Server 2022"},
    "10.0.26100": {"release": "Windows Server 2025", "ubr": 2314, "kb": "KB5046617",
                   "title": "2024-11 cumulative update", "source": SOURCE_UPDATE_HISTORY % "Windows Server 2025"},
}
