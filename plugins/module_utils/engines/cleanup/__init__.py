# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""smhv_cleanup (docs/durability.md §4): `rules` are the orphan rules (pure), `run` the engine that surveys a scope and acts."""
