# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Disaster recovery (smhv_failover): failover.py (the engine and the recovery of operation "failover"; its phases in
discover.py, planning.py and changes.py; cluster.py for a DR failover cluster), plan.py (the pure plan: recovery point, LUN pairing, start groups), site.py
(the DR site's storage only), clones.py (FlexClones read on a DR host)."""
